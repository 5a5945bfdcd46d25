"""A batch-scheduler executor's configuration, directories and scheduler commands."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple, cast

from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_config import BatchSchedulerExecutorConfig
from psij.executors.batch.commands import run_command
from psij.executors.batch.scheduler_hooks import UNKNOWN_ERROR, SchedulerHooks, _check_hooks
from psij.executors.batch.status_engine import StatusEngine
from psij.job import Job
from psij.job_executor_config import JobExecutorConfig


class SchedulerCommands(SchedulerHooks):
    """The executor's state and configuration, its work and command directories, and
    how it runs the scheduler's commands."""

    _checked_commands: Dict[Tuple[type, str], Optional[str]] = {}
    """(executor class, command path) -> `None` if it is that scheduler's, else why not."""
    _checked_lock = threading.Lock()

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used by most schedulers.
        :param config: the configuration; defaults suit an interactive login node.
        """
        config = self._adopt_config(config)
        if not config._work_directory:
            config.work_directory = JobExecutorConfig.DEFAULT_WORK_DIRECTORY / self._scheduler()
        _check_hooks(type(self))
        super().__init__(url=url, config=config)
        self.work_directory = config.work_directory
        self.command_directory = self._command_directory(config)
        self._work_directory_ready = False
        self._engine = StatusEngine.for_scheduler(self._scheduler())
        self._cancel_lock = threading.Lock()
        self._cancel_requested: set[str] = set()
        """Native ids of jobs this executor was asked to cancel and that have not ended."""
        self._submitting: set[str] = set()
        """Ids of the jobs whose `submit` is under way."""
        self._cancel_after_submit: set[str] = set()
        """Ids of jobs canceled while their `submit` was under way."""
        self._tokens: Dict[str, str] = {}
        """Native id -> token of the submission followed (see `job_files`)."""
        self._recancel: Dict[str, tuple[float, int]] = {}
        """Native id -> when to repeat its cancel, and how many repeats were done."""
        self._canceled_queued: set[str] = set()
        """Native ids of jobs canceled (successfully) while queued that have not ended."""

    config_class: type[BatchSchedulerExecutorConfig] = BatchSchedulerExecutorConfig
    """The configuration class of this executor; a configuration of another class given to
    the constructor is copied into a new one of this class (its own settings at their
    defaults)."""

    def _adopt_config(self, config: Optional[JobExecutorConfig]) -> BatchSchedulerExecutorConfig:
        cls = self.config_class
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        new = cls()
        if isinstance(config, BatchSchedulerExecutorConfig):
            new.__dict__.update(config.__dict__)
        else:
            new.work_directory = config.work_directory
            new.launcher_log_file = config.launcher_log_file
        return new

    def _scheduler(self) -> str:
        return cast(str, getattr(type(self), '_NAME_', type(self).__name__.lower()))

    def _command_directory(self, config: BatchSchedulerExecutorConfig) -> Optional[Path]:
        if config.command_directory is not None:
            return config.command_directory
        value = os.environ.get(self._command_dir_variable())
        return Path(value) if value else None

    def _command_dir_variable(self) -> str:
        """``PSIJ_<SCHEDULER>_COMMAND_DIR``."""
        return 'PSIJ_%s_COMMAND_DIR' % re.sub(r'[^A-Z0-9]', '_', self._scheduler().upper())

    def command_path(self, name: str) -> str:
        """
        The command to run for the scheduler command `name` (e.g. ``'qsub'``): its path in the
        configured command directory, or `name` itself (looked up on ``PATH``).
        """
        if self.command_directory is None or '/' in name:
            return name
        return str(self.command_directory / name)

    def command_problem(self, path: str, output: str) -> Optional[str]:
        """Why the command `path` of `command_check`, which printed `output`, is not this
        scheduler's (a message saying what to set); `None` if it is."""
        return None

    def check_commands(self) -> None:
        """
        Runs `command_check` unless it ran for this executor class and command path already.

        :raises SubmitException: if the command cannot run, or is another scheduler's.
        """
        if self.command_check is None:
            return
        path = self.command_path(self.command_check[0])
        key = (type(self), path)
        with self._checked_lock:
            known = key in self._checked_commands
            problem = self._checked_commands.get(key)
        if not known:
            try:
                p = run_command([path, *self.command_check[1:]], self._config.command_timeout)
            except (OSError, subprocess.SubprocessError) as ex:
                raise SubmitException('Cannot run %s: %s (set %s or the command_directory of '
                                      'the executor\'s config to the directory of the %s '
                                      'commands)' % (path, ex, self._command_dir_variable(),
                                                     self._scheduler()), ex) from ex
            problem = self.command_problem(path, p.stdout + p.stderr)
            with self._checked_lock:
                self._checked_commands[key] = problem
        if problem is not None:
            raise SubmitException(problem)

    def _cannot_run(self, command: str, ex: OSError) -> str:
        """The message for a scheduler command that cannot be started."""
        return ('Cannot run %s: %s (set %s or the command_directory of the executor\'s config '
                'to the directory of the %s commands)' % (command, ex.strerror or ex,
                                                         self._command_dir_variable(),
                                                         self._scheduler()))

    def _resolve(self, cmd: List[str]) -> List[str]:
        if not cmd or self.command_directory is None:
            return cmd
        return [self.command_path(cmd[0])] + list(cmd[1:])

    @property
    def _config(self) -> BatchSchedulerExecutorConfig:
        return cast(BatchSchedulerExecutorConfig, self.config)

    def config_poll_interval(self) -> float:
        """Seconds between status commands."""
        return float(self._config.queue_polling_interval)

    def config_initial_delay(self) -> float:
        """Seconds from a submit to the first status command."""
        return float(self._config.initial_queue_polling_delay)

    def config_file_interval(self) -> float:
        """Seconds between two looks at job files."""
        return float(self._config.file_check_interval)

    def _run_command(self, cmd: List[str], submitting: bool = False) -> str:
        """
        Runs a scheduler command (from the command directory) and returns its output.

        :raises SubmitException: if it cannot run, times out (``transient``) or fails
            (``transient`` as `is_transient_error` says).
        :raises InvalidJobException: if `submitting` and `is_invalid_request` says so.
        """
        cmd = self._resolve(cmd)
        timeout = self._config.command_timeout
        try:
            res = run_command(cmd, timeout)
        except subprocess.TimeoutExpired as ex:
            raise SubmitException('%s did not answer within %s s' % (cmd[0], timeout), ex,
                                  transient=True) from ex
        except OSError as ex:
            raise SubmitException(self._cannot_run(cmd[0], ex), ex) from ex
        if res.returncode == 0:
            return res.stdout
        text = (res.stdout + '\n' + res.stderr).strip() or UNKNOWN_ERROR
        msg = '%s failed (exit code %d): %s' % (cmd[0], res.returncode, text)
        cause = subprocess.CalledProcessError(res.returncode, cmd, res.stdout, res.stderr)
        if self.is_transient_error(text):
            raise SubmitException(msg, cause, transient=True)
        if submitting and self.is_invalid_request(res.returncode, text):
            raise InvalidJobException('%s rejected the job: %s' % (self._scheduler(), msg),
                                      cause)
        raise SubmitException(msg, cause)

    def _delete_aux_file(self, job: Job, suffix: str) -> None:
        """Deletes ``<work directory>/<native id><suffix>`` (psij-python's helper)."""
        if job.native_id and '/' not in suffix:
            try:
                os.unlink(self.work_directory / (job.native_id + suffix))
            except OSError:
                pass
