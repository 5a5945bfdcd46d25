"""The ``mpirun`` launcher: Open MPI or MPICH/Hydra, told apart where the job runs."""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, placement, rank_argv, script

if TYPE_CHECKING:
    from psij.job import Job

OPTIONS_ENV = 'PSIJ_MPIRUN_OPTIONS'
"""Extra ``mpirun`` options chosen by the site, read where the job is submitted."""


class MpirunLauncher(ArgvLauncher):
    """
    Runs the job with the ``mpirun`` on ``PATH`` of the node that starts it.

    The flavour is found at run time from ``mpirun --version`` and the job's resources become:

    =========================  ==========================  ==============================
    resource                   Open MPI                    MPICH / Hydra
    =========================  ==========================  ==============================
    process count (always)     ``-n P``                    ``-n P``
    processes per node [1]_    ``--map-by ppr:N:node``     ``-ppn N``
    CPU cores per process      ``...:PE=C`` in ``--map-by``  ``-bind-to core:C``
    ``PSIJ_NODEFILE`` [2]_     ``--hostfile FILE``         ``-f FILE``
    =========================  ==========================  ==============================

    .. [1] only when the job gave ``node_count`` or ``processes_per_node``; the node count
       follows from ``P / N`` and the host file. For Open MPI, not with a host file: then
       ``--map-by slot`` (``slot:PE=C``).
    .. [2] when the executor exported it: one line per process slot of the job, so the job
       gets exactly its slots and needs no oversubscription option; Open MPI fills them
       slot by slot, which also works where the scheduler's nodes are vnodes of one host
       (PBS ``place=vscatter``, a Grid Engine PE that packs slots), for which a per-node
       count fails ("more processes than the ppr for this topology can support").

    GPUs per process have no ``mpirun`` flag in either flavour; they come from the
    executor's allocation. Nothing else is added: Open MPI's refusal to run as root and its
    oversubscription policy are lifted, where wanted, with Open MPI's own environment
    variables (``OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1``,
    ``OMPI_MCA_rmaps_base_oversubscribe=1``), set by the site, the CI or the job's
    environment, never by the launcher. With an unknown flavour only ``-n P`` is given, and a
    job that asks for more fails with a message saying why.

    Those variables do not reach a job with ``inherit_environment=False``; for that case, and
    for any other option a site needs, ``PSIJ_MPIRUN_OPTIONS`` in the environment of the process
    that *submits* the job is split like a shell would and passed to ``mpirun`` after the
    launcher's flags (e.g. ``PSIJ_MPIRUN_OPTIONS=--allow-run-as-root`` for Open MPI run by
    root in a container). It is the site's choice, visible in the job's command, and applies to
    whichever flavour runs, so it must suit that flavour.

    The exit code is mpirun's: both flavours report the failing rank's exit code when one rank
    fails (Open MPI then stops the other ranks).
    """

    # mpirun's own errors (cannot start, no slots, bad option), not a rank's failure: Open
    # MPI's "mpirun noticed that process rank N ... exited" lines are the job's
    FAILURE_MARKERS = ('mpirun was unable to launch', 'mpirun was unable to start',
                       'There are not enough slots', '[mpiexec@', 'mpirun: Error',
                       'mpiexec: Error')

    def get_launch_command(self, job: Job) -> List[str]:
        """
        ``sh -c <mpirun.sh> psij-mpirun <P> <N or ''> <C or ''> [site options...] <the
        executable and arguments, see rank_command>``.
        """
        p = placement(job)
        ppn = '' if p.processes_per_node is None else str(p.processes_per_node)
        cpp = '' if p.cpu_cores_per_process is None else str(p.cpu_cores_per_process)
        site = shlex.split(os.environ.get(OPTIONS_ENV, ''))
        return ['/bin/sh', '-c', script('mpirun.sh'), 'psij-mpirun', str(p.process_count), ppn,
                cpp] + site + rank_argv(job)

