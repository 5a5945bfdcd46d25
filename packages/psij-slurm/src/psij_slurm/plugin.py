"""The ``psij`` entry point of psij-slurm: registers the ``slurm`` executor without importing it."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_slurm.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``slurm`` executor."""
    return [Descriptor(name='slurm', nice_name='Slurm', version=VERSION,
                       cls='psij_slurm.executor.SlurmJobExecutor')]
