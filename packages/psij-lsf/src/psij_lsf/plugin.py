"""The ``psij`` entry point of psij-lsf: registers the ``lsf`` executor without importing it."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_lsf.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``lsf`` executor."""
    return [Descriptor(name='lsf', nice_name='IBM Spectrum LSF', version=VERSION,
                       cls='psij_lsf.executor.LsfJobExecutor')]
