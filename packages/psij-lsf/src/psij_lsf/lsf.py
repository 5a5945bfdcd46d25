"""
psij-python's module name for the LSF executor (``psij.executors.batch.lsf``).

Code written for psij-python imports ``LsfJobExecutor`` and ``LsfExecutorConfig`` from there;
this module re-exports them so that an alias of that path only needs
``from psij_lsf.lsf import *``.
"""

from psij_lsf.executor import LsfExecutorConfig, LsfJobExecutor

__all__ = ['LsfExecutorConfig', 'LsfJobExecutor']
