"""
psij-python's import path of the Torque executor (``psij.executors.batch.pbs_classic``).

The executor lives in the psij-pbs distribution (``psij_pbs``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_pbs.pbs_classic import PBSClassicExecutorConfig, PBSClassicJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The Torque (pbs_classic) executor is in the psij-pbs distribution: '
                      'pip install psij-pbs') from ex

__all__ = ['PBSClassicExecutorConfig', 'PBSClassicJobExecutor']
