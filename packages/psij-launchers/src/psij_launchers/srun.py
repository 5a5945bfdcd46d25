"""The ``srun`` launcher: Slurm job steps."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, placement, rank_argv

if TYPE_CHECKING:
    from psij.job import Job


class SrunLauncher(ArgvLauncher):
    """
    Starts the ranks as one Slurm job step with ``srun``.

    ======================================  ==============================================
    resource                                flag
    ======================================  ==============================================
    process count (always)                  ``--ntasks=P``
    node count, processes per node [1]_     ``--nodes=N --ntasks-per-node=PPN``
    CPU cores per process                   ``--cpus-per-task=C``
    GPUs per process (if > 0)               ``--gpus-per-task=G``
    ======================================  ==============================================

    .. [1] only when the job gave ``node_count`` or ``processes_per_node``; then both are
       given, so that ``P = N * PPN`` holds whatever the nodes' sizes.

    The command follows ``--`` behind `rank_command` (srun reads a lone ``:`` even after
    ``--`` as the start of another component), so no word of it is read as srun's. Exit
    code: srun's, which is the failing rank's code when one rank fails (with several, Slurm
    reports the highest).
    """

    FAILURE_MARKERS = ('srun: error:', 'srun: fatal:')
    # "srun: error: n2: task 1: Exited with exit code 3" is the job failing, not srun
    RANK_FAILURE = re.compile(r'^\s*srun: error: \S+: tasks? [0-9,\-]+: ')

    def get_launch_command(self, job: Job) -> List[str]:
        """``srun --ntasks=P [...] -- <executable> <arguments...>``."""
        p = placement(job)
        argv = ['srun', '--ntasks=%d' % p.process_count]
        if p.node_count is not None:
            argv.append('--nodes=%d' % p.node_count)
        if p.processes_per_node is not None:
            argv.append('--ntasks-per-node=%d' % p.processes_per_node)
        if p.cpu_cores_per_process is not None:
            argv.append('--cpus-per-task=%d' % p.cpu_cores_per_process)
        if p.gpu_cores_per_process is not None:
            argv.append('--gpus-per-task=%d' % p.gpu_cores_per_process)
        return argv + ['--'] + rank_argv(job, dash_ok=True)

