"""
PSI/J executor for IBM Spectrum LSF.

Use it by name, ``JobExecutor.get_instance('lsf')``; the class is
:class:`psij_lsf.executor.LsfJobExecutor` (also importable as ``psij_lsf.lsf.LsfJobExecutor``
and, with psij-python's path, ``psij.executors.batch.lsf.LsfJobExecutor``). The ``bjobs``
command lines and their parsers are in :mod:`psij_lsf.lsf_status`.
"""

from psij_lsf.version import VERSION

__all__ = ['VERSION']
