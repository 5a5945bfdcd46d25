"""The ``psij`` entry point of psij-sge: registers ``sge`` without importing it."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_sge.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """``sge`` (Grid Engine; alias ``gridengine``)."""
    return [Descriptor(name='sge', nice_name='Grid Engine', version=VERSION,
                       aliases=['gridengine'], cls='psij_sge.executor.SGEJobExecutor')]
