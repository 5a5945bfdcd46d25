"""The ``psij`` entry point of psij-rp: registers the ``rp`` executor without importing it
(nor RADICAL-Pilot, which takes a second to import)."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_rp.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``rp`` executor."""
    return [Descriptor(name='rp', nice_name='RADICAL-Pilot', version=VERSION,
                       cls='psij_rp.executor.RPJobExecutor',
                       unsupported={
                           'attach_other_process': 'a task lives in the session (and pilot) '
                                                   'of the process that submitted it',
                           'memory_limits': 'RADICAL-Pilot places tasks by memory but does '
                                            'not enforce it',
                           'staging': 'stage_in/stage_out/cleanup are refused: use '
                                      'RADICAL-Pilot\'s own staging (rp.input_staging, '
                                      'rp.output_staging)',
                           'submitter_environment': 'a task inherits the pilot agent\'s '
                                                    'environment, not the submitter\'s',
                       })]
