"""A base for launchers whose launch command is a shell script shipped with the launcher.

The contract between executors and launchers
--------------------------------------------
``Launcher.get_launch_command(job)`` returns the argv that starts *all* ranks of the job on
the job's nodes, and exits once they all ended with the first non-zero rank exit code (else
0). The executor runs that argv inside its own wrapper (for the local executor,
``psij/launchers/scripts/launch.sh``), which has already:

* changed to the job's directory and set the job's environment and standard streams;
* sourced the job's pre-launch script (what it exports is in the environment);
* exported ``PSIJ_NODEFILE``: a file with one line per process slot, naming the host of that
  slot (``computed_process_count`` lines). A launcher that needs to know the nodes reads it.

and sources the post-launch script after the command ends. So a launcher never deals with
pre/post-launch, stdio or the environment: it only turns the job into a command.

Using this class
----------------
A subclass names its script and, optionally, the arguments that come before the job's
command::

    class MultipleLauncher(ScriptBasedLauncher):
        def __init__(self, config=None):
            super().__init__(Path(__file__).parent / 'scripts' / 'multiple.sh', config)

        def get_additional_args(self, job):
            return [str(job.spec.resources.computed_process_count)]

which gives ``[shell, multiple.sh, <count>, '--', executable, *arguments]``. The script must
treat every argument as data (``"$@"``), never ``eval`` it. A script may print
`LAUNCHER_FAILURE_MARKER` followed by a message on a line of its standard error when it, rather
than the job, fails; `is_launcher_failure` and `get_launcher_failure_message` look for it.

Scripts written for psij-python
-------------------------------
A script that sources ``launcher_lib.sh`` (``source "$(dirname "$0")/launcher_lib.sh"``) was
written for psij-python, whose scripts take seven arguments before their own (job id, log
file, pre- and post-launch scripts, stdin, stdout, stderr): it is started that way, with
psij's own ``launcher_lib.sh`` deployed beside it in the work directory (with the other
files `_files_to_deploy` names), as `psij.launchers.psij_python_scripts` describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.launchers.psij_python_scripts import (
    LAUNCHER_LIB,
    PsijPythonScript,
    sources_launcher_lib,
)

if TYPE_CHECKING:
    from psij.job import Job

LAUNCHER_FAILURE_MARKER = 'PSIJ_LAUNCHER_FAILURE:'
"""A line of a launcher script's output starting with this reports a launcher failure."""


class ScriptBasedLauncher(Launcher):
    """A launcher whose command is ``[shell, script, *additional_args, '--', exe, *args]``."""

    shell = '/bin/sh'
    """The interpreter of the script; a subclass may use ``/bin/bash``."""

    def __init__(self, script_path: Path, config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param script_path: the launcher script.
        :param config: the executor's configuration.
        """
        super().__init__(config)
        self.script_path = Path(script_path)
        self._script_path = self.script_path  # psij-python's name for it
        self._psij_python: Optional[PsijPythonScript] = (
            PsijPythonScript(self.script_path) if sources_launcher_lib(self.script_path)
            else None)

    def get_additional_args(self, job: Job) -> List[str]:
        """Arguments passed to the script before ``--`` (none by default)."""
        return []

    def _files_to_deploy(self) -> List[Path]:
        """For a script written for psij-python: the files deployed beside each other in the
        work directory (``launcher_lib.sh`` and the script; a subclass may add its own)."""
        return [LAUNCHER_LIB, self.script_path]

    def get_launch_command(self, job: Job) -> List[str]:
        """The script, its additional arguments, ``--``, the executable and its arguments (for
        a script written for psij-python: that convention's arguments instead)."""
        if self._psij_python is not None:
            return self._psij_python.command(
                self._files_to_deploy(), self.config.work_directory,
                self.config.launcher_log_file, job, self.get_additional_args(job))
        spec = job.spec
        if spec is None or not spec.executable:
            raise ValueError('Job %s has no executable' % job.id)
        return ([self.shell, str(self.script_path)] + self.get_additional_args(job)
                + ['--', spec.executable] + list(spec.arguments or ()))

    def is_launcher_failure(self, output: str) -> bool:
        """`True` if `output` contains a `LAUNCHER_FAILURE_MARKER` line."""
        return any(line.startswith(LAUNCHER_FAILURE_MARKER) for line in output.splitlines())

    def get_launcher_failure_message(self, output: str) -> str:
        """The text after the markers, one line per failure."""
        return '\n'.join(line[len(LAUNCHER_FAILURE_MARKER):].strip()
                         for line in output.splitlines()
                         if line.startswith(LAUNCHER_FAILURE_MARKER))
