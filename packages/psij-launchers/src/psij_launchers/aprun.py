"""The ``aprun`` launcher: Cray ALPS."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, opt, placement, rank_argv

if TYPE_CHECKING:
    from psij.job import Job


class AprunLauncher(ArgvLauncher):
    """
    Starts the ranks with Cray's ``aprun``.

    ======================================  ==========================================
    resource                                flag (aprun's meaning)
    ======================================  ==========================================
    process count (always)                  ``-n P`` (width: processing elements)
    processes per node [1]_                 ``-N PPN`` (PEs per node)
    CPU cores per process                   ``-d C`` (depth: CPUs per PE)
    ======================================  ==========================================

    .. [1] only when the job gave ``node_count`` or ``processes_per_node``; aprun has no node
       count flag, ``P / PPN`` nodes of the ALPS reservation get used.

    aprun has no per-process GPU flag (ALPS gives GPUs with the node), so GPUs per process
    are left to the executor's reservation.
    """

    FAILURE_MARKERS = ('aprun: ', 'apsched: ')

    def get_launch_command(self, job: Job) -> List[str]:
        """``aprun -n P [-N PPN] [-d C] <executable> <arguments...>``."""
        p = placement(job)
        return (['aprun', '-n', str(p.process_count)] + opt('-N', p.processes_per_node)
                + opt('-d', p.cpu_cores_per_process) + rank_argv(job))
