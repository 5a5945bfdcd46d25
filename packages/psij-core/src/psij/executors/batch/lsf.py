"""
psij-python's import path of the LSF executor (``psij.executors.batch.lsf``).

The executor lives in the psij-lsf distribution (``psij_lsf``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_lsf.lsf import LsfExecutorConfig, LsfJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The LSF executor is in the psij-lsf distribution: '
                      'pip install psij-lsf') from ex

__all__ = ['LsfExecutorConfig', 'LsfJobExecutor']
