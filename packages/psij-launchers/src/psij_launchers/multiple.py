"""The ``multiple`` launcher: N copies of the executable on the node that runs the job."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from psij_launchers._base import ArgvLauncher, command, placement, script

if TYPE_CHECKING:
    from psij.job import Job


class MultipleLauncher(ArgvLauncher):
    """
    Starts ``process_count`` copies of the executable on the job's first (lead) node.

    No MPI and no remote start: the copies are children of one small POSIX shell, which gives
    each its rank in ``PSIJ_RANK`` (0-based) and the count in ``PSIJ_SIZE``, feeds the job's
    standard input to rank 0 only, lets every copy write directly to the job's stdout and
    stderr, and exits with the first non-zero exit code in the order the copies end (0 if all
    succeed). Nodes, cores and GPUs are the executor's business: this launcher has no flags for
    them and places nothing.
    """

    def get_launch_command(self, job: Job) -> List[str]:
        """``sh -c <multiple.sh> psij-multiple <count> <executable> <arguments...>``."""
        count = placement(job).process_count
        return ['/bin/sh', '-c', script('multiple.sh'), 'psij-multiple', str(count)] + \
            command(job, dash_ok=True)
