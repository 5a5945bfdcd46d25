"""The ``ibrun`` launcher: TACC's MPI launcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, placement, rank_argv

if TYPE_CHECKING:
    from psij.job import Job


class IbrunLauncher(ArgvLauncher):
    """
    Starts the ranks with TACC's ``ibrun``.

    ibrun takes the task layout from the Slurm allocation it runs in (tasks, tasks per node,
    CPUs per task), so normally it gets no count flags at all. Its only placement flags,
    documented by TACC, are ``-n`` (tasks) with ``-o`` (offset of the first task in the
    allocation), to run fewer tasks than allocated. So:

    - a job that gave none of ``process_count``, ``node_count``, ``processes_per_node`` runs
      ``ibrun <executable> <arguments...>``: the whole allocation;
    - a job that gave any of them runs ``ibrun -n P -o 0 ...``: exactly its P ranks, from the
      start of the allocation.

    CPU cores and GPUs per process have no ibrun flag; they come from the executor's allocation.
    """

    FAILURE_MARKERS = ('ibrun: ', 'TACC: ', 'ERROR: ibrun')

    def get_launch_command(self, job: Job) -> List[str]:
        """``ibrun [-n P -o 0] <executable> <arguments...>``."""
        p = placement(job)
        counts = ['-n', str(p.process_count), '-o', '0'] if p.explicit_count else []
        return ['ibrun'] + counts + rank_argv(job)
