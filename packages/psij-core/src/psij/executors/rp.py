"""
psij-python's import path of the RADICAL-Pilot executor (``psij.executors.rp``).

The executor lives in the psij-rp distribution (``psij_rp``); this module only keeps programs
that import it from psij-python's path working.
"""

try:
    from psij_rp.executor import RPExecutorConfig, RPJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The RADICAL-Pilot executor is in the psij-rp distribution: '
                      'pip install psij-rp') from ex

__all__ = ['RPExecutorConfig', 'RPJobExecutor']
