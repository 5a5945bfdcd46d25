"""
PSI/J executors for PBS.

- ``pbs`` (aliases ``pbspro``, ``openpbs``): PBS Professional and OpenPBS,
  :class:`psij_pbs.executor.PBSJobExecutor` (also ``psij_pbs.pbs.PBSJobExecutor``, the module
  name psij-python uses);
- ``pbs_classic`` (alias ``torque``): Torque and classic PBS,
  :class:`psij_pbs.classic.PBSClassicJobExecutor` (also ``psij_pbs.pbs_classic``).

The ``qstat`` parsers and the meaning of PBS's exit statuses are in :mod:`psij_pbs.pbs_status`.
"""

from psij_pbs.version import VERSION

__all__ = ['VERSION']
