"""The ``single`` launcher, the default: runs one copy of the executable."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from psij.job_launcher import Launcher

if TYPE_CHECKING:
    from psij.job import Job


class SingleLauncher(Launcher):
    """
    Starts exactly one process: the job's executable with its arguments, whatever the job's
    resources say. The local executor runs it directly, without a shell, unless the job has a
    pre- or post-launch script.
    """

    def get_launch_command(self, job: Job) -> List[str]:
        """``[executable, *arguments]``."""
        spec = job.spec
        if spec is None or not spec.executable:
            raise ValueError('Job %s has no executable' % job.id)
        return [spec.executable] + list(spec.arguments or ())

    def is_launcher_failure(self, output: str) -> bool:
        """Never: nothing stands between the job and its executable."""
        return False

    def get_launcher_failure_message(self, output: str) -> str:
        """`output` unchanged (there are no launcher failures)."""
        return output
