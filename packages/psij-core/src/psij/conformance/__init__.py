"""
The PSI/J conformance kit: checks that an executor behaves as the specification says, end to
end, on this machine and against this scheduler.

Install with ``pip install "psij-core[conformance]"`` and run it one of three ways:

- ``psij conformance NAME [--launcher L --queue Q --account A --attr slurm.qos=debug]
  --report-dir DIR``: runs everything, writes ``DIR/junit.xml`` and ``DIR/conformance.json``;
- ``pytest -p psij.conformance.plugin --pyargs psij.conformance --psij-executor NAME ...``;
- from a plugin's own tests, subclassing the checks::

      from psij.conformance import ConformanceSuite

      class TestMine(ConformanceSuite):
          executor = 'mine'

An executor declares what it cannot do in its registration
(``Descriptor(unsupported={'multi_node': 'reason'})``, names in
:mod:`psij.conformance.capabilities`); the matching checks skip with that reason and the
report lists them. A smoke job runs first: an executor that cannot run a trivial job fails
every job check at once. The settings are in :mod:`psij.conformance.options`, the report format
in :mod:`psij.conformance.report`; ``docs/conformance.md`` is the whole reference.
"""

from psij.conformance import capabilities
from psij.conformance.base import KitBase, requires
from psij.conformance.crash_checks import CrashChecks
from psij.conformance.harness import Kit, Recorder
from psij.conformance.options import KitOptions
from psij.conformance.smoke_checks import SmokeChecks
from psij.conformance.suite import (
                                    AttachChecks,
                                    BulkChecks,
                                    CallbackChecks,
                                    CancelChecks,
                                    ConformanceSuite,
                                    DirectoryChecks,
                                    EnvironmentChecks,
                                    ExitCodeChecks,
                                    InvalidSpecChecks,
                                    LaunchChecks,
                                    ResourceChecks,
                                    StagingChecks,
                                    StateChecks,
                                    StdioChecks,
                                    WaitChecks,
)

__all__ = ['AttachChecks', 'BulkChecks', 'CallbackChecks', 'CancelChecks', 'ConformanceSuite',
           'CrashChecks', 'SmokeChecks',
           'DirectoryChecks', 'EnvironmentChecks', 'ExitCodeChecks', 'InvalidSpecChecks',
           'Kit', 'KitBase', 'KitOptions', 'LaunchChecks', 'Recorder', 'ResourceChecks',
           'StagingChecks', 'StateChecks', 'StdioChecks', 'WaitChecks', 'capabilities',
           'requires']
