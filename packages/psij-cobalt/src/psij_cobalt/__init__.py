"""
PSI/J executor for ALCF's Cobalt.

Use it by name, ``JobExecutor.get_instance('cobalt')``; the class is
:class:`psij_cobalt.executor.CobaltJobExecutor` (also importable as
``psij_cobalt.cobalt.CobaltJobExecutor`` and, with psij-python's path,
``psij.executors.batch.cobalt.CobaltJobExecutor``). What Cobalt's commands print and how it is
read is in :mod:`psij_cobalt.cobalt_status`.
"""

from psij_cobalt.version import VERSION

__all__ = ['VERSION']
