"""
psij-python's import path of the Slurm executor (``psij.executors.batch.slurm``).

The executor lives in the psij-slurm distribution (``psij_slurm``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_slurm.slurm import SlurmExecutorConfig, SlurmJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The Slurm executor is in the psij-slurm distribution: '
                      'pip install psij-slurm') from ex

__all__ = ['SlurmExecutorConfig', 'SlurmJobExecutor']
