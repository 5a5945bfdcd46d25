"""
psij-python's module name for the PBS Pro executor (``psij.executors.batch.pbs``).

Code written for psij-python imports ``PBSJobExecutor`` and ``PBSExecutorConfig`` from there;
this module re-exports them so that the alias of that path only needs
``from psij_pbs.pbs import *``.
"""

from psij_pbs.executor import PBSExecutorConfig, PBSJobExecutor

__all__ = ['PBSExecutorConfig', 'PBSJobExecutor']
