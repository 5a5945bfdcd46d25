"""
A Cobalt simulator for psij-cobalt's tests, layered over a real Slurm cluster.

``bin/`` holds ``qsub``, ``qstat`` and ``qdel``: put it first on ``PATH`` (or point
``PSIJ_COBALT_COMMAND_DIR`` at it). Jobs really queue and run on Slurm's nodes: ``qsub``
translates the ``#COBALT`` directives and its options into ``sbatch`` options (``-n`` nodes,
``--proccount`` tasks, ``-t`` a time limit Slurm enforces, ``-q`` partition, ``-A`` account,
``-h`` hold) and starts the job's script with Cobalt's variables (``COBALT_JOBID``,
``COBALT_NODEFILE``, ``COBALT_JOBSIZE``); ``qstat`` reads Slurm's state (``squeue -t all``,
then ``sacct -c``) and prints it in Cobalt's forms; ``qdel`` cancels with ``scancel``. A job's
end is written to its ``<id>.cobaltlog`` in its ``--cwd``, and it then leaves ``qstat``.
State lives in ``$COBALT_SIM_DIR`` (see ``sim.py``).
"""

from pathlib import Path

BIN = Path(__file__).resolve().parent / 'bin'
"""The directory of the simulated commands."""

__all__ = ['BIN']
