"""The ``psij`` entry point of psij-pbs: registers ``pbs`` and ``pbs_classic`` without importing
them."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_pbs.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """``pbs`` (PBS Pro / OpenPBS) and ``pbs_classic`` (Torque)."""
    return [Descriptor(name='pbs', nice_name='PBS Pro / OpenPBS', version=VERSION,
                       aliases=['pbspro', 'openpbs'],
                       cls='psij_pbs.executor.PBSJobExecutor'),
            Descriptor(name='pbs_classic', nice_name='Torque / classic PBS', version=VERSION,
                       aliases=['torque'],
                       cls='psij_pbs.classic.PBSClassicJobExecutor')]
