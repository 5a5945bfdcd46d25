"""
PSI/J executor for RADICAL-Pilot.

Use it by name, ``JobExecutor.get_instance('rp')``; the class is
:class:`psij_rp.executor.RPJobExecutor` and its configuration
:class:`psij_rp.executor.RPExecutorConfig` (also importable as ``psij.executors.rp``,
psij-python's path). How a `JobSpec` becomes a task description is in
:mod:`psij_rp.task_description`.
"""

from psij_rp.version import VERSION

__all__ = ['VERSION']
