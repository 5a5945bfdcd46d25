"""The ``psij`` entry point of psij-flux: registers the ``flux`` executor without importing it."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_flux.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``flux`` executor."""
    return [Descriptor(name='flux', nice_name='Flux', version=VERSION,
                       cls='psij_flux.executor.FluxJobExecutor',
                       unsupported={'memory_limits': 'Flux (sched-simple) does not schedule '
                                                     'or enforce memory'})]
