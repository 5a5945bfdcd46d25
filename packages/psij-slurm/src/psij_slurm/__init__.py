"""
PSI/J executor for Slurm.

Use it by name, ``JobExecutor.get_instance('slurm')``; the class is
:class:`psij_slurm.executor.SlurmJobExecutor` (also importable as
``psij_slurm.slurm.SlurmJobExecutor``, the module name psij-python uses). The status commands and
their parsers are in :mod:`psij_slurm.slurm_status`.
"""

from psij_slurm.version import VERSION

__all__ = ['VERSION']
