"""
psij-python's import path of the PBS Pro executor (``psij.executors.batch.pbs``).

The executor lives in the psij-pbs distribution (``psij_pbs``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_pbs.pbs import PBSExecutorConfig, PBSJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The PBS executor is in the psij-pbs distribution: '
                      'pip install psij-pbs') from ex

__all__ = ['PBSExecutorConfig', 'PBSJobExecutor']
