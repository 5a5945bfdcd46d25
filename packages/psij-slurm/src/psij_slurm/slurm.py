"""
psij-python's module name for the Slurm executor (``psij.executors.batch.slurm``).

Code written for psij-python imports ``SlurmJobExecutor`` and ``SlurmExecutorConfig`` from
there; this module re-exports them so that an alias of that path only needs
``from psij_slurm.slurm import *``.
"""

from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor

__all__ = ['SlurmExecutorConfig', 'SlurmJobExecutor']
