"""
PSI/J executor for Grid Engine (Son of Grid Engine, Open Grid Scheduler, Univa/Altair Grid
Engine): ``sge`` (alias ``gridengine``), :class:`psij_sge.executor.SGEJobExecutor`.

The parsers of ``qstat -xml``, ``qstat -j`` and ``qacct -j`` and the meaning of Grid Engine's
states and ``failed`` codes are in :mod:`psij_sge.sge_status`.
"""

from psij_sge.version import VERSION

__all__ = ['VERSION']
