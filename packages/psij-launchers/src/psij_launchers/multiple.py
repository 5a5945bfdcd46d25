"""The ``multiple`` launcher: N copies of the executable on the node that runs the job."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Union

from psij.job_executor_config import JobExecutorConfig
from psij.launchers.psij_python_scripts import LAUNCHER_LIB, PsijPythonScript

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

    Launchers written for psij-python subclass it with a script of their own
    (``super().__init__(script_path, config)``, a bash script sourcing ``launcher_lib.sh``):
    that script is then started with psij-python's arguments (see
    `psij.launchers.psij_python_scripts`), `get_additional_args` giving the process count, and
    `_files_to_deploy` the files deployed beside it.
    """

    def __init__(self, script_path: Union[Path, str, JobExecutorConfig, None] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param script_path: a launcher script written for psij-python (psij-python's
            signature); `None` for this package's own launcher. A configuration given here,
            alone, is taken as `config` (``MultipleLauncher(config)``).
        :param config: the executor's configuration.
        """
        if isinstance(script_path, JobExecutorConfig) and config is None:
            script_path, config = None, script_path
        super().__init__(config)
        self._script: Optional[PsijPythonScript] = None
        if script_path is not None:
            self._script = PsijPythonScript(Path(str(script_path)))

    def _files_to_deploy(self) -> List[Path]:
        """The files deployed beside a psij-python script (``launcher_lib.sh``, the script)."""
        if self._script is None:
            return []
        return [LAUNCHER_LIB, self._script.script]

    def get_additional_args(self, job: Job) -> List[str]:
        """A psij-python script's own leading arguments: the process count."""
        return [str(placement(job).process_count)]

    def get_launch_command(self, job: Job) -> List[str]:
        """``sh -c <multiple.sh> psij-multiple <count> <executable> <arguments...>`` (for a
        psij-python script: that script with psij-python's arguments)."""
        if self._script is not None:
            return self._script.command(self._files_to_deploy(), self.config.work_directory,
                                        self.config.launcher_log_file, job,
                                        self.get_additional_args(job))
        count = placement(job).process_count
        return ['/bin/sh', '-c', script('multiple.sh'), 'psij-multiple', str(count)] + \
            command(job, dash_ok=True)
