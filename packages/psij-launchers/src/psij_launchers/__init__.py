"""
psij-launchers: the PSI/J launchers that start a job's several processes.

Installing the distribution registers, through the ``psij`` entry-point group, the launchers

- ``multiple``: N copies of the executable on the node that runs the job;
- ``mpirun``: Open MPI or MPICH/Hydra, whichever ``mpirun`` is on ``PATH`` where the job runs;
- ``srun``: Slurm;
- ``jsrun``: IBM Job Step Manager (LSF, e.g. Summit); psij-python registers it as ``jrun``;
- ``aprun``: Cray ALPS;
- ``ibrun``: TACC.

Use one by name: ``JobSpec(..., launcher='mpirun')``. Every launcher maps the job's
``ResourceSpecV1`` to its own flags and adds none the job did not ask for; see each class.
"""

from psij_launchers.version import VERSION

__version__ = VERSION

__all__ = ['VERSION']
