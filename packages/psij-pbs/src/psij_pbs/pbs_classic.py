"""
psij-python's module name for the Torque executor (``psij.executors.batch.pbs_classic``).
"""

from psij_pbs.classic import PBSClassicExecutorConfig, PBSClassicJobExecutor

__all__ = ['PBSClassicExecutorConfig', 'PBSClassicJobExecutor']
