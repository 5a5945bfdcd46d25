"""psij-core's own executors and launchers, registered through the same hooks as any plugin."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl
from psij.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``local`` executor."""
    return [Descriptor(name='local', nice_name='Local', version=VERSION,
                       cls='psij.executors.local.LocalJobExecutor',
                       unsupported={'multi_node': 'the local executor runs on one machine',
                                    'walltime': 'the local executor does not enforce '
                                                'JobAttributes.duration',
                                    'memory_limits': 'the local executor does not enforce '
                                                     'ResourceSpecV1.memory'})]


@hookimpl
def psij_launchers() -> List[Descriptor]:
    """The ``single`` launcher."""
    return [Descriptor(name='single', version=VERSION,
                       cls='psij.launchers.single.SingleLauncher',
                       unsupported={'multi_process': 'single starts one process whatever '
                                                     'process_count says; use "multiple"'})]
