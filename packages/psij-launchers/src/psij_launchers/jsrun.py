"""The ``jsrun`` launcher: IBM Job Step Manager (LSF systems such as Summit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, opt, placement, rank_argv

if TYPE_CHECKING:
    from psij.job import Job


class JsrunLauncher(ArgvLauncher):
    """
    Starts the ranks with ``jsrun``, one resource set per process.

    jsrun places *resource sets* (RS): ``-n/--nrs`` of them, each running ``-a/--tasks_per_rs``
    tasks with ``-c/--cpu_per_rs`` CPU cores and ``-g/--gpu_per_rs`` GPUs, ``-r/--rs_per_host``
    of them per node. Making each rank its own resource set maps PSI/J's per-process resources
    one to one:

    ======================================  ====================
    resource                                flag
    ======================================  ====================
    process count (always)                  ``-n P -a 1``
    processes per node [1]_                 ``-r PPN``
    CPU cores per process                   ``-c C``
    GPUs per process (if > 0)               ``-g G``
    ======================================  ====================

    .. [1] only when the job gave ``node_count`` or ``processes_per_node``; jsrun has no node
       count flag (the nodes are the LSF allocation's), ``P / PPN`` nodes get used.

    ``-a 1`` is given although it is jsrun's default because the mapping above depends on it
    and a site's defaults may differ. Registered as ``jsrun``, and as ``jrun`` like psij-python.
    """

    FAILURE_MARKERS = ('jsrun: ', 'Error: ')

    def get_launch_command(self, job: Job) -> List[str]:
        """``jsrun -n P -a 1 [-r PPN] [-c C] [-g G] <executable> <arguments...>``."""
        p = placement(job)
        return (['jsrun', '-n', str(p.process_count), '-a', '1']
                + opt('-r', p.processes_per_node) + opt('-c', p.cpu_cores_per_process)
                + opt('-g', p.gpu_cores_per_process) + rank_argv(job))
