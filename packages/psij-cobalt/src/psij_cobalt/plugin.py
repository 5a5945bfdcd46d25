"""The ``psij`` entry point of psij-cobalt: registers the ``cobalt`` executor without
importing it."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_cobalt.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``cobalt`` executor."""
    return [Descriptor(name='cobalt', nice_name='Cobalt (ALCF)', version=VERSION,
                       cls='psij_cobalt.executor.CobaltJobExecutor',
                       unsupported={'memory_limits': 'Cobalt has no memory request'})]
