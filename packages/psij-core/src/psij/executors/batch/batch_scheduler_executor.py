"""
The base class of batch-scheduler executors (Slurm, PBS, LSF, ...).

A subclass supplies only what is specific to its scheduler, with psij-python's hooks, so that
executors written for psij-python keep working:

- `generate_submit_script` (or, simpler, `get_directives`, the scheduler directives for a job;
  the base writes the rest of the script),
- `get_submit_command` and `job_id_from_submit_output`,
- `get_status_command` (one command for **many** jobs) and `parse_status_output`,
- `get_cancel_command` and `process_cancel_command_output`,
- `get_list_command` and `parse_list_output`,
- optionally `get_final_status` (e.g. an accounting query for jobs gone from the queue),
  `job_id_variable` (the variable holding the job's id inside the job),
  `nodefile_commands` (shell lines that write ``$PSIJ_NODEFILE``), `command_check` with
  `command_problem` (tell this scheduler's commands from another's of the same name), and
  `native_id_pattern` (what `attach` accepts as a job id).

The submit script records the job's start and exit code in the work directory (see
:mod:`psij.executors.batch.job_files`), so a job that has left the queue still gets its true
final state and exit code. Status is followed by one shared :class:`StatusEngine` per
scheduler (see :mod:`psij.executors.batch.status_engine`).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import (
    IO,
    Any,
    Collection,
    Dict,
    Iterable,
    List,
    Optional,
    Pattern,
    Tuple,
    Union,
    cast,
)

from psij._log import get_logger
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch import arrays, exit_codes, job_files, staging_script
from psij.executors.batch.commands import is_transient, run_command
from psij.executors.batch.script_writer import (
    custom_attribute_key,
    directive_value,
    env_assignment,
    quote,
    quote_all,
    quote_code,
)
from psij.executors.batch.status_engine import StatusEngine
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import launch_script_text, pre_launch_failure
from psij.launchers.script_based_launcher import ScriptBasedLauncher
from psij.resource_spec import ResourceSpecV1

logger = get_logger(__name__)

UNKNOWN_ERROR = 'Failed for an unknown reason'

_UNSAFE_ID_CHARACTER = re.compile(r'[\s,\x00-\x1f\x7f]')


class BatchSchedulerExecutorConfig(JobExecutorConfig):
    """Configuration of batch-scheduler executors."""

    def __init__(self, launcher_log_file: Optional[Path] = None,
                 work_directory: Optional[Path] = None, queue_polling_interval: float = 30,
                 initial_queue_polling_delay: float = 2,
                 queue_polling_error_threshold: int = 2, keep_files: bool = False,
                 file_check_interval: float = 0.5, command_timeout: float = 120,
                 command_directory: Optional[Path] = None,
                 ids_per_status_command: int = 2000) -> None:
        """
        :param launcher_log_file: see :class:`~psij.JobExecutorConfig`.
        :param work_directory: where submit scripts and job status files go (default
            ``~/.psij/work/<scheduler>``); on a cluster it must be on a filesystem shared by
            the login and compute nodes.
        :param queue_polling_interval: seconds between two status commands.
        :param initial_queue_polling_delay: seconds from a submit to the first status command.
        :param queue_polling_error_threshold: kept for psij-python compatibility; failing
            status commands never fail jobs here, they are retried with backoff.
        :param keep_files: keep submit scripts and job files after jobs end (also set by the
            ``PSIJ_BATCH_KEEP_FILES`` environment variable).
        :param file_check_interval: seconds between two looks at the files running jobs write
            (cheap, local: how fast starts and ends are noticed).
        :param command_timeout: seconds after which a scheduler command is abandoned.
        :param command_directory: the directory holding the scheduler's commands (``qsub``,
            ``sbatch``, ...); default: the ``PSIJ_<SCHEDULER>_COMMAND_DIR`` environment variable
            (e.g. ``PSIJ_PBS_COMMAND_DIR``), else the commands are looked up on ``PATH``.
            Several schedulers ship commands of the same name (OpenPBS, Grid Engine and
            Slurm's Torque wrappers all have ``qsub``): an absolute directory picks one.
        :param ids_per_status_command: the most job ids named in one status command; more
            active jobs than this are asked about in several commands per cycle (Linux limits
            one argument to 128 KiB and a command line to 2 MiB).
        """
        super().__init__(launcher_log_file, work_directory)
        self.queue_polling_interval = queue_polling_interval
        self.initial_queue_polling_delay = initial_queue_polling_delay
        self.queue_polling_error_threshold = queue_polling_error_threshold
        self.keep_files = keep_files or 'PSIJ_BATCH_KEEP_FILES' in os.environ
        self.file_check_interval = file_check_interval
        self.command_timeout = command_timeout
        self.command_directory = Path(command_directory) if command_directory else None
        self.ids_per_status_command = max(1, int(ids_per_status_command))

    @classmethod
    def _from_config(cls, config: JobExecutorConfig) -> BatchSchedulerExecutorConfig:
        new = cls()
        new.work_directory = config.work_directory
        new.launcher_log_file = config.launcher_log_file
        return new


class InvalidJobStateError(Exception):
    """A job cannot be canceled because it has already ended."""


def check_status_exit_code(command: str, exit_code: int, out: str) -> None:
    """Raises `RuntimeError` for a failed status command (psij-python's helper)."""
    if exit_code != 0:
        raise RuntimeError('%s failed with exit code %d: %s' % (command, exit_code, out))


_LOGIN_VARIABLES = frozenset({'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TERM', 'TZ',
                              'TMPDIR', 'PWD', 'OLDPWD', 'SHLVL', '_'})


def _drop_inherited_environment() -> List[str]:
    """Shell lines that unset each variable still holding the submitting process's value."""
    lines = []
    for name, value in sorted(os.environ.items()):
        if name in _LOGIN_VARIABLES or not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', name):
            continue
        lines.append('[ "${%s-}" != %s ] || unset %s' % (name, quote(value), name))
    return lines


SCHEDULER_FIELDS = frozenset({
    'queue_name', 'account', 'reservation_id', 'duration', 'custom_attributes', 'node_count',
    'process_count', 'processes_per_node', 'cpu_cores_per_process', 'gpu_cores_per_process',
    'memory', 'exclusive_node_use'})
"""Fields of `JobAttributes` and `ResourceSpecV1` whose meaning depends on the scheduler."""


def fields_set(spec: Any, scheduler: str) -> List[tuple[str, str]]:
    """(field, its full name) of each of `SCHEDULER_FIELDS` that `spec` sets: not left at its
    default (a ``duration`` of 10 minutes, PSI/J's default, counts as not set; counts above 1
    count as set; custom attributes count if one is for `scheduler`)."""
    from psij.job_attributes import JobAttributes
    out = []
    attrs = spec.attributes
    for name in ('queue_name', 'account', 'reservation_id'):
        if getattr(attrs, name, None) is not None:
            out.append((name, 'JobAttributes.' + name))
    if attrs.duration != JobAttributes().duration:
        out.append(('duration', 'JobAttributes.duration'))
    if any(k.startswith(scheduler + '.') for k in (attrs.custom_attributes or {})):
        out.append(('custom_attributes', 'JobAttributes.custom_attributes'))
    res = spec.resources
    if isinstance(res, ResourceSpecV1):
        for name, value in (('node_count', res.computed_node_count),
                            ('process_count', res.computed_process_count),
                            ('processes_per_node', res.computed_processes_per_node)):
            if value > 1:
                out.append((name, 'ResourceSpecV1.' + name))
        if res.cpu_cores_per_process is not None:
            out.append(('cpu_cores_per_process', 'ResourceSpecV1.cpu_cores_per_process'))
        if res.gpu_cores_per_process:
            out.append(('gpu_cores_per_process', 'ResourceSpecV1.gpu_cores_per_process'))
        if res.memory is not None:
            out.append(('memory', 'ResourceSpecV1.memory'))
        if res.exclusive_node_use:
            out.append(('exclusive_node_use', 'ResourceSpecV1.exclusive_node_use'))
    return out


_REQUIRED_HOOKS = {
    'get_submit_command': 'get_submit_command(job, submit_file_path) -> the command that '
                          'submits the script, e.g. ["sbatch", str(submit_file_path)]',
    'job_id_from_submit_output': 'job_id_from_submit_output(out) -> the native id in the '
                                 "submit command's output",
    'get_status_command': 'get_status_command(native_ids) -> ONE command giving the status '
                          'of all of native_ids',
    'get_cancel_command': 'get_cancel_command(native_id) -> the command that cancels a job',
    'get_list_command': "get_list_command() -> the command that lists the user's jobs",
}
_ONE_OF_HOOKS = [
    (('get_directives', 'generate_submit_script'),
     'get_directives(job, context) -> the scheduler directive lines of the script (or '
     'generate_submit_script(job, context, file), the whole script)'),
    (('parse_status_output', 'parse_status_result'),
     'parse_status_output(exit_code, out) -> {native id: JobStatus} of the jobs listed '
     '(or parse_status_result(exit_code, stdout, stderr))'),
]
_checked_classes: set[type] = set()


def _check_hooks(cls: type) -> None:
    """
    Checks, once per class and before its first job, that a subclass implements every hook
    the framework needs and sets `job_id_variable` when the base writes its script.

    :raises TypeError: naming each missing hook and what it must return.
    """
    if cls in _checked_classes:
        return
    base = BatchSchedulerExecutor
    missing = [what for name, what in _REQUIRED_HOOKS.items()
               if getattr(cls, name) is getattr(base, name)]
    missing += [what for names, what in _ONE_OF_HOOKS
                if all(getattr(cls, n) is getattr(base, n) for n in names)]
    script_hook = 'generate_submit_script'
    if getattr(cls, script_hook) is getattr(base, script_hook) and \
            not getattr(cls, 'job_id_variable', None):
        missing.append("job_id_variable = the name of the environment variable holding the "
                       "job's native id inside the job (e.g. 'SLURM_JOB_ID', 'PBS_JOBID'): "
                       "the job's start and exit-code files are named after it")
    if missing:
        # the names on the first line: a report keeping one line keeps them
        raise TypeError('%s.%s is not a complete batch-scheduler executor (missing: %s); it '
                        'must implement:\n  - %s' % (
                            cls.__module__, cls.__qualname__,
                            ', '.join(m.split(' ', 1)[0].split('(', 1)[0] for m in missing),
                            '\n  - '.join(missing)))
    _check_native_id_pattern(cls)
    _checked_classes.add(cls)


def _check_native_id_pattern(cls: type) -> None:
    """
    Checks `native_id_pattern` (a compiled pattern or a string, matched against whole ids)
    and that `native_id_example` matches it.

    :raises TypeError: naming the attribute that is wrong.
    """
    name = '%s.%s' % (cls.__module__, cls.__qualname__)
    pattern = getattr(cls, 'native_id_pattern', None)
    if pattern is None:
        return
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as ex:
            raise TypeError('%s.native_id_pattern %r is not a valid regular expression: %s'
                            % (name, pattern, ex)) from ex
    elif not isinstance(pattern, re.Pattern):
        raise TypeError('%s.native_id_pattern must be a compiled pattern (re.compile(...)) or '
                        'a string, not %r' % (name, pattern))
    example = getattr(cls, 'native_id_example', None)
    examples = example.split(' or ') if isinstance(example, str) else [example]
    wrong = [e for e in examples if not isinstance(e, str) or re.fullmatch(pattern, e) is None]
    if wrong:
        raise TypeError('%s.native_id_example %r does not match %s.native_id_pattern %r '
                        '(matched against the whole id): one of the two is wrong'
                        % (name, wrong[0], name, _pattern_text(pattern)))


def _pattern_text(pattern: Union[str, Pattern[str]]) -> str:
    return pattern if isinstance(pattern, str) else pattern.pattern


class BatchSchedulerExecutor(JobExecutor):
    """A generic executor for batch schedulers; see the module documentation."""

    job_id_variable: Optional[str] = None
    """The environment variable that holds the job's native id inside the job (the scheduler
    sets it: ``SLURM_JOB_ID``, ``PBS_JOBID``...). Required when the base writes the script
    (the job's start and exit-code files are named after it)."""

    honoured_fields: Optional[frozenset[str]] = None
    """
    The scheduler-dependent fields this executor passes to its scheduler, out of
    `SCHEDULER_FIELDS` (the base handles the rest: name, directory, environment, stdio,
    pre/post-launch, launcher). A job that sets any other of them (a queue for a scheduler
    without queues, memory the subclass does not request...) is refused at submit with
    `InvalidJobException` naming the field, instead of running without it. `None` (psij-python
    style subclasses that do not declare them): nothing is refused.
    """

    scheduler_isolates_environment = False
    """Whether the subclass has its scheduler start jobs without the submitter's environment
    when ``inherit_environment`` is false (Slurm's ``--export=NONE``). If not, the base does it:
    the script unsets every variable that still has the value it had in the submitting
    process, except those a login gives every job (``PATH``, ``HOME``, ``USER``...); variables
    the scheduler set, or set to other values, stay."""

    supports_staging: Optional[bool] = None
    """Whether this executor stages files (``stage_in``, ``stage_out``, ``cleanup``). `None`:
    it does if the base writes its script (the script stages inside the job, see
    :mod:`psij.executors.batch.staging_script`); a subclass writing its own script
    (`generate_submit_script`) does not, unless it sets this, and a job asking for staging is
    refused at submit rather than run without it."""

    transient_errors: Optional[Pattern[str]] = None
    """The scheduler's own phrases for errors a retry may cure, besides the common ones of
    :data:`psij.executors.batch.commands.COMMON_TRANSIENT_ERRORS`."""

    native_id_pattern: Optional[Union[Pattern[str], str]] = None
    """What this scheduler's job ids look like: a regular expression, compiled
    (``re.compile(r'\\d+(_\\d+)?')`` for Slurm) or as a string, that must match a **whole** id
    (`re.fullmatch`). `attach` refuses an id that does not match it (`InvalidJobException`),
    so that a stray string never reaches a scheduler command (where ``-u root`` would be an
    option, and a malformed id would break the one status command shared by all jobs); an id
    that `job_id_from_submit_output` returns and that does not match it is a bug of the
    executor (`SubmitException` naming both). Checked when the executor is first created,
    with `native_id_example`, which must match it. `None`: only ids that start with ``-`` or
    hold blanks, control characters or commas are refused."""

    native_id_example = '1234'
    """One of this scheduler's job ids (``'t.17'``), or several separated by ``' or '``
    (``'1234 or 1234_7'``), shown when an id is refused; each must match
    `native_id_pattern`."""

    command_check: Optional[Tuple[str, ...]] = None
    """A command and its arguments whose output tells this scheduler's commands from another
    scheduler's of the same name (``('qstat', '--version')``: OpenPBS, Torque and Grid Engine
    each install a ``qstat``), judged by `command_problem`; run by `check_commands` before the
    first submit, once per executor class and command path. `None`: no check."""

    _checked_commands: Dict[Tuple[type, str], Optional[str]] = {}
    """(executor class, command path) -> `None` if it is that scheduler's, else why not."""
    _checked_lock = threading.Lock()

    @classmethod
    def check_class(cls) -> None:
        """
        Checks that this class is a complete executor: every hook implemented,
        `job_id_variable` set, `native_id_pattern` valid and matched by `native_id_example`.
        Run when the class is loaded by name (``psij plugins`` reports it) and when it is first
        instantiated.

        :raises TypeError: naming each missing hook, or the attribute that is wrong.
        """
        _check_hooks(cls)

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

    # -- what the status engine calls (status_engine.StatusClient; threads documented there) --

    def status_group(self) -> str:
        """Executors with the same scheduler commands share one status command."""
        return str(self.command_directory)

    def recorded_exit_code(self, native_id: str) -> Optional[int]:
        """The exit code the job recorded in the work directory, if any."""
        return self._read_exit_code(native_id)

    def recorded_start(self, native_id: str) -> bool:
        """Whether the job recorded its start in the work directory."""
        return self._is_active(native_id)

    def absence_is_end(self, native_id: str) -> bool:
        """Whether the job's absence from the scheduler's answer is its end: this executor
        canceled it (the cancel command succeeded) before it started."""
        with self._cancel_lock:
            return native_id in self._canceled_queued

    def query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        """The scheduler's statuses of `native_ids` (status commands in chunks); repeats the
        cancels that are due (see `RECANCEL_AFTER`)."""
        statuses = self._query_status(native_ids)
        if self._recancel:
            self._repeat_cancels(native_ids, statuses)
        return statuses

    RECANCEL_AFTER: tuple[float, ...] = (3.0, 15.0)
    """Seconds after a cancel at which it is sent again while the scheduler still shows the
    job not finished. A scheduler may lose a cancel that comes while it starts the job: seen
    on OpenPBS, whose mom signals the job before its processes exist, so that only the
    SIGKILL of the job's process group follows ``kill_delay`` later, which MPI ranks (in
    groups of their own) escape. A second cancel reaches the running job."""

    def _repeat_cancels(self, asked: List[str], statuses: Dict[str, JobStatus]) -> None:
        now = time.monotonic()
        due = []
        with self._cancel_lock:
            for native_id in asked:
                entry = self._recancel.get(native_id)
                if entry is None:
                    continue
                when, done = entry
                st = statuses.get(native_id)
                if st is None or st.state.final:
                    del self._recancel[native_id]  # ended, or gone from the queue
                elif when <= now:
                    due.append(native_id)
                    if done + 1 < len(self.RECANCEL_AFTER):
                        self._recancel[native_id] = (
                            now + self.RECANCEL_AFTER[done + 1] - self.RECANCEL_AFTER[done],
                            done + 1)
                    else:
                        del self._recancel[native_id]
            # the status command runs at the next repeat (at the latest) whatever the polling
            # interval, and soon after a repeat, to report the end it brings
            nxt = min((when for when, _ in self._recancel.values()), default=None)
        for native_id in due:
            logger.debug('Job %s: sending its cancel again', native_id)
            try:
                run_command(self._resolve(self.get_cancel_command(native_id)),
                            self._config.command_timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass  # the next poll reports what happened
        if due:
            self._engine.request_poll(1.0)
        if nxt is not None:
            self._engine.request_poll(max(0.0, nxt - now))

    def report_status(self, job: Job, status: JobStatus) -> None:
        """A new non-final status of `job`."""
        self._set_job_status(job, status)

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """The end of `job` (see `_finish`)."""
        self._finish(job, exit_code, status)

    # -- hooks for subclasses --------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The scheduler directive lines of the submit script (``#SBATCH ...``)."""
        raise NotImplementedError('%s must implement get_directives or generate_submit_script'
                                  % type(self).__name__)

    def script_setup_commands(self, job: Job) -> List[str]:
        """
        Shell lines run first in the job, once its output is redirected and before it changes
        to the job's directory, e.g. PBS's ``cd "$PBS_O_WORKDIR"`` (PBS starts jobs in
        ``$HOME``).
        """
        return []

    def nodefile_commands(self, job: Job) -> List[str]:
        """Shell lines that write one line per process slot to ``"$PSIJ_NODEFILE"``."""
        return []

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """The command that submits the script, e.g. ``['sbatch', path]``."""
        raise NotImplementedError

    def job_id_from_submit_output(self, out: str) -> str:
        """The native id in the submit command's output."""
        raise NotImplementedError

    def get_cancel_command(self, native_id: str) -> List[str]:
        """The command that cancels a job."""
        raise NotImplementedError

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        Interprets a failed cancel command.

        :raises InvalidJobStateError: if the job had already ended (ignored by `cancel`).
        :raises SubmitException: otherwise.
        """
        raise SubmitException('Cancel failed (exit code %d): %s' % (exit_code, out))

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """One command giving the status of all of `native_ids`."""
        raise NotImplementedError

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """
        Parses the status command's output; jobs it does not list are simply absent.

        :raises RuntimeError: if the command failed (the engine retries later).
        """
        raise NotImplementedError

    def parse_status_result(self, exit_code: int, stdout: str,
                            stderr: str) -> Dict[str, JobStatus]:
        """
        Parses the status command's result, its two streams apart (e.g. PBS prints the known
        jobs' JSON on stdout and one error line per unknown id on stderr). The default calls
        `parse_status_output` with stdout, plus stderr when the command failed.

        :raises RuntimeError: if the command failed (the engine retries later).
        """
        return self.parse_status_output(exit_code, stdout if exit_code == 0
                                        else stdout + stderr)

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """How jobs that left the queue ended, e.g. from accounting; empty if unknown."""
        return {}

    def get_list_command(self) -> List[str]:
        """The command that lists the user's jobs that have not ended (not the finished ones
        a scheduler keeps in its history)."""
        raise NotImplementedError

    def parse_list_output(self, out: str) -> List[str]:
        """
        The native ids in the list command's output. The default takes every non-blank line,
        stripped, as one id: override it unless the list command prints exactly one id per
        line (a JSON document or a table with a header would give one "id" per line).
        """
        return [line.strip() for line in out.splitlines() if line.strip()]

    # -- the submit script -----------------------------------------------------------------------

    def generate_submit_script(self, job: Job, context: Dict[str, Any],
                               submit_file: IO[str]) -> None:
        """
        Writes the submit script: ``#!/bin/bash``, `get_directives`, then the common body that
        records the job's start and exit code, sets its environment and directory, writes the
        node file, and runs the launcher through the launch wrapper with the job's streams.
        """
        submit_file.write('#!/bin/bash\n')
        for d in self.get_directives(job, context):
            if '\n' in d or '\r' in d:
                raise InvalidJobException('A scheduler directive cannot contain a line break: '
                                          '%r' % d)
            submit_file.write(d + '\n')
        submit_file.write('\n'.join(self._script_body(job, context)) + '\n')

    def _script_body(self, job: Job, context: Dict[str, Any]) -> List[str]:
        spec = job.spec
        assert spec is not None
        wd = quote(str(self.work_directory))
        idv = self.job_id_variable
        lines = [
            '_psij_wd=%s' % wd,
            '_psij_id="${%s}"' % idv,
            '_psij_token=%s' % quote(context['psij'].get('token', '')),
            'exec >>"$_psij_wd/%s" 2>&1' % job_files.output_name(
                '$_psij_id', context['psij'].get('token')),
            'printf "%%s\\n" "$_psij_token" >"$_psij_wd/$_psij_id%s"' % job_files.ACTIVE_SUFFIX,
            '_psij_end() {',
            '    printf "%%s %%s\\n" "$1" "$_psij_token" >"$_psij_wd/$_psij_id%s.tmp"'
            % job_files.EXIT_CODE_SUFFIX,
            '    mv -f "$_psij_wd/$_psij_id%s.tmp" "$_psij_wd/$_psij_id%s"'
            % (job_files.EXIT_CODE_SUFFIX, job_files.EXIT_CODE_SUFFIX),
            '    exit "$1"',
            '}',
        ]
        lines.extend(self.script_setup_commands(job))
        if spec.directory is not None:
            lines.append('cd -- %s || { echo "psij: cannot change to the job directory"; '
                         '_psij_end 1; }' % quote(str(spec.directory)))
        lines.extend(staging_script.stage_in_lines(spec))
        if not spec.inherit_environment and not self.scheduler_isolates_environment:
            lines.extend(_drop_inherited_environment())
        for name, value in (spec.environment or {}).items():
            lines.append(env_assignment(name, value))
        node_lines = self.nodefile_commands(job)
        if node_lines:
            lines.append('export PSIJ_NODEFILE="$_psij_wd/$_psij_id.nodes"')
            lines.extend(node_lines)
        redirects = []
        for path, op in ((spec.stdin_path, '<'), (spec.stdout_path, '>'),
                         (spec.stderr_path, '2>')):
            if path is not None:
                redirects.append('%s%s' % (op, quote(str(path))))
        if spec.stdin_path is None:
            redirects.insert(0, '</dev/null')
        if spec.stdout_path is not None and spec.stdout_path == spec.stderr_path:
            # two opens of one file would truncate and overwrite each other
            redirects[-1] = '2>&1'
        launch = context['psij']['launch_command']
        log = self.config.launcher_log_file
        # the wrapper's text, not its path: the job needs nothing from this host's installation
        lines.append('/bin/sh -c %s launch.sh %s %s %s %s -- %s %s' % (
            quote_code(launch_script_text()), quote(str(spec.pre_launch or '')),
            quote(str(spec.post_launch or '')), quote(str(log or '')),
            quote('' if spec.inherit_environment else '1'), quote_all(launch),
            ' '.join(redirects)))
        lines.extend(staging_script.end_lines(spec))
        return lines

    def _create_script_context(self, job: Job) -> Dict[str, Any]:
        spec = job.spec
        assert spec is not None
        launcher = self._get_launcher_from_job(job)
        try:
            launch_command = launcher.get_launch_command(job)
        except (ValueError, InvalidJobException) as ex:
            raise InvalidJobException('Launcher %s cannot start this job: %s'
                                      % (launcher.name, ex), ex) from ex
        ctx: Dict[str, Any] = {
            'job': job,
            'custom_attributes': self._custom_attributes(job),
            'psij': {'launch_command': launch_command, 'script_dir': str(self.work_directory),
                     'token': job_files.new_token(),
                     'launcher': launcher, 'is_script_launcher': isinstance(
                         launcher, ScriptBasedLauncher)},
        }
        duration = spec.attributes.duration
        if duration is not None:
            ctx['formatted_job_duration'] = self._format_duration(duration)
        return ctx

    custom_attribute_prefixes: tuple[str, ...] = ()
    """Prefixes of this executor's custom attributes besides its name (e.g. its aliases):
    ``JobAttributes.custom_attributes['<prefix>.<key>']`` is for this executor."""

    def custom_attribute_items(self, job: Job) -> List[tuple[str, object, str]]:
        """
        (key, value as given, field name for messages) of each of this executor's custom
        attributes (``<name>.<key>`` or ``<prefix>.<key>``, see `custom_attribute_prefixes`).

        :raises InvalidJobException: for a key that cannot be an option name.
        """
        assert job.spec is not None
        attrs = job.spec.attributes.custom_attributes or {}
        prefixes = {self._scheduler(), *self.custom_attribute_prefixes}
        out = []
        for k, v in attrs.items():
            prefix, dot, rest = k.partition('.')
            if dot and prefix in prefixes:
                field = 'JobAttributes.custom_attributes[%r]' % k
                out.append((custom_attribute_key(field, rest), v, field))
        return out

    def _custom_attributes(self, job: Job) -> Dict[str, str]:
        """This executor's custom attributes by key, values validated for a directive."""
        return {k: directive_value(f, v) for k, v, f in self.custom_attribute_items(job)}

    def _format_duration(self, d: timedelta) -> str:
        secs = int(d.total_seconds())
        if d.total_seconds() > secs:
            secs += 1  # never ask for less than the user did
        return '%d:%02d:%02d' % (secs // 3600, secs // 60 % 60, secs % 60)

    def _refuse_fields_not_passed(self, spec: Any) -> None:
        """
        :raises InvalidJobException: for staging without `supports_staging`, or a field
            set that is not one of `honoured_fields`.
        """
        self._check_staging(spec)
        honoured = type(self).honoured_fields
        if honoured is not None:
            for field, full in fields_set(spec, self._scheduler()):
                if field not in honoured:
                    raise InvalidJobException(
                        '%s: the %s executor does not pass it to its scheduler; it refuses the '
                        'job rather than run it without it' % (full, self._scheduler()))

    def script_for(self, job: Job) -> str:
        """
        The submit script `job` would get, without submitting it (for reviews, e.g. ``psij
        script``); the job is left unsubmitted and unbound.

        :raises InvalidJobException: for a job that `submit` would refuse before writing it.
        """
        import io
        spec = self._check_job(job)
        try:
            self._refuse_fields_not_passed(spec)
            if not isinstance(spec.resources, ResourceSpecV1):
                raise InvalidJobException('Only ResourceSpecV1 resources are supported')
            buf = io.StringIO()
            self.generate_submit_script(job, self._create_script_context(job), buf)
            return buf.getvalue()
        finally:
            job.executor = None

    def _base_writes_script(self) -> bool:
        return type(self).generate_submit_script is BatchSchedulerExecutor.generate_submit_script

    def _check_staging(self, spec: JobSpec) -> None:
        stages = self.supports_staging
        if stages is None:
            stages = self._base_writes_script()
        if stages:
            staging_script.check(spec, self._scheduler())
            return
        for field in ('stage_in', 'stage_out', 'cleanup'):
            if getattr(spec, field, None):
                raise InvalidJobException(
                    'JobSpec.%s: the %s executor does not stage files; it refuses the job '
                    'rather than run it without its files' % (field, self._scheduler()))

    # -- JobExecutor -----------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """
        Writes the job's submit script and submits it (after `check_commands`).

        :raises InvalidJobException: for a specification the scheduler cannot be given safely
            or that the scheduler rejects as invalid.
        :raises SubmitException: if the scheduler cannot be reached or refuses the job;
            ``transient`` is `True` for time-outs and "try again" kinds of errors.
        """
        self.check_commands()
        spec = self._check_job(job)
        try:
            self._refuse_fields_not_passed(spec)
        except InvalidJobException:
            job.executor = None
            raise
        script = self.work_directory / (job.id + job_files.SCRIPT_SUFFIX)
        created = False
        with self._cancel_lock:
            self._submitting.add(job.id)
        try:
            if not isinstance(spec.resources, ResourceSpecV1):
                raise InvalidJobException('Only ResourceSpecV1 resources are supported')
            if not self._work_directory_ready:
                job_files.ensure_private_dir(self.work_directory)
                self._work_directory_ready = True
            context = self._create_script_context(job)
            # never overwrite another job's script (ids are unique per process, forks included)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                try:
                    fd = os.open(script, flags, 0o600)
                except FileNotFoundError:  # the work directory was removed since
                    job_files.ensure_private_dir(self.work_directory)
                    fd = os.open(script, flags, 0o600)
            except FileExistsError as ex:
                raise SubmitException('The submit script %s already exists: another process '
                                      'uses the job id %s' % (script, job.id), ex) from ex
            except OSError as ex:
                raise SubmitException('Cannot write the submit script %s: %s' % (script, ex),
                                      ex) from ex
            created = True
            try:
                with os.fdopen(fd, 'w') as f:
                    self.generate_submit_script(job, context, f)
            except OSError as ex:  # a full disk, a quota
                raise SubmitException('Cannot write the submit script %s: %s' % (script, ex),
                                      ex) from ex
            cmd = self.get_submit_command(job, script)
            submitted = time.time()
            out = self._run_command(cmd, submitting=True)
            native_id = self.job_id_from_submit_output(out).strip()
            if not native_id:
                raise SubmitException('%s printed no job id: %r' % (cmd[0], out))
            self._check_submitted_id(native_id, out)
        except BaseException:
            with self._cancel_lock:
                self._submitting.discard(job.id)
                self._cancel_after_submit.discard(job.id)
            job.executor = None
            if created and not self._config.keep_files:
                job_files.remove(self.work_directory, None, job.id)
            raise
        job._native_id = native_id
        if self._base_writes_script():
            # a script of the subclass's own (psij-python's templates) writes no token
            token = context['psij']['token']
            with self._cancel_lock:
                self._tokens[native_id] = token
            # files an earlier job with the same id left hold another token: they are ignored
            job_files.write_token(self.work_directory, native_id, token)
        self._set_job_status(job, JobStatus(JobState.QUEUED, metadata={'native_id': native_id}))
        self._engine.register(job, self, submitted)
        with self._cancel_lock:
            self._submitting.discard(job.id)
            cancel = job.id in self._cancel_after_submit
            self._cancel_after_submit.discard(job.id)
        if cancel:
            self.cancel(job)

    array_scheme: Optional[arrays.ArrayScheme] = None
    """The scheduler's job arrays, used by `submit_many` (see
    :mod:`psij.executors.batch.arrays`); `None`: jobs are submitted one by one."""

    def submit_many(self, jobs: Iterable[Job]) -> List[Job]:
        """
        Submits jobs as native job arrays where they differ only in arguments, environment,
        name and stdio paths (see :mod:`psij.executors.batch.arrays`), the others one by one;
        see :meth:`psij.JobExecutor.submit_many` for what happens to refused jobs.
        """
        from psij import _bulk
        return arrays.submit_many(self, _bulk.check_list(jobs))

    def cancel(self, job: Job) -> None:
        """
        Cancels the job; one that already ended is left alone. A job whose `submit` is under
        way (in another thread) is canceled as soon as the scheduler has given its id.
        """
        if job.status.state.final:
            return
        native_id = job.native_id
        if native_id is None:
            with self._cancel_lock:
                if job.id in self._submitting:
                    self._cancel_after_submit.add(job.id)
                    return
            raise SubmitException('Job %s has no native id: it was not submitted' % job.id)
        cmd = self._resolve(self.get_cancel_command(native_id))
        queued = job.status.state is JobState.QUEUED
        with self._cancel_lock:
            self._cancel_requested.add(native_id)
            if self.RECANCEL_AFTER:
                self._recancel[native_id] = (time.monotonic() + self.RECANCEL_AFTER[0], 0)
        try:
            res = run_command(cmd, self._config.command_timeout)
        except subprocess.TimeoutExpired as ex:
            raise SubmitException('%s timed out' % cmd[0], ex, transient=True) from ex
        except OSError as ex:
            raise SubmitException(self._cannot_run(cmd[0], ex), ex) from ex
        if res.returncode == 0 and queued:
            # a scheduler may delete a job canceled before it started without a trace
            # (Slurm's pending array elements): from now on its absence is the cancel
            with self._cancel_lock:
                self._canceled_queued.add(native_id)
        if res.returncode != 0:
            try:
                self.process_cancel_command_output(res.returncode,
                                                   (res.stdout + res.stderr).strip())
            except InvalidJobStateError:
                pass
        self._engine.request_poll(0.2)

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows an existing job by native id; its real status is known when this returns
        (even for a job that already left the queue).

        :raises InvalidJobException: for an id that is not one of the scheduler's, or that
            neither the queue nor the accounting knows and this executor did not submit
            (see `_follow_attached`); the job is left ``NEW`` and unbound.
        """
        self._bind(job, native_id)
        for _, ex in self._follow_attached([(job, native_id)]):
            raise ex

    def attach_many(self, pairs: Iterable[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """
        `attach` for many jobs with one status command for all of them (split in commands
        of `ids_per_status_command` ids), where `attach` runs one per job; see
        :meth:`psij.JobExecutor.attach_many`.
        """
        from psij import _bulk
        refused: List[Tuple[Job, Exception]] = []
        bound: List[Tuple[Job, str]] = []
        for job, native_id in _bulk.check_pairs(pairs):
            try:
                self._bind(job, native_id)
            except InvalidJobException as ex:
                refused.append((job, ex))
            else:
                bound.append((job, native_id))
        if bound:
            refused.extend(self._follow_attached(bound))
        return refused

    def _bind(self, job: Job, native_id: str) -> None:
        """Makes `job` this executor's job `native_id`, with the job's token if it has one."""
        self.check_native_id(native_id)
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('Job %s must be NEW to be attached' % job.id)
        if job.executor is not None:
            raise InvalidJobException('Job %s already belongs to %s' % (job.id, job.executor))
        job.executor = self
        job._native_id = native_id
        token = job_files.read_token(self.work_directory, native_id)
        if token is not None:
            with self._cancel_lock:
                self._tokens[native_id] = token

    def check_native_id(self, native_id: str) -> None:
        """
        Refuses what cannot be one of this scheduler's job ids (see `native_id_pattern`).

        :raises InvalidJobException: naming the id and what the scheduler's ids look like.
        """
        if not isinstance(native_id, str):
            raise InvalidJobException('A native id is a string, not %r' % (native_id,))
        pattern = self.native_id_pattern
        if pattern is not None:
            if re.fullmatch(pattern, native_id) is None:
                raise InvalidJobException('%r is not a %s job id (they look like %s: they match '
                                          '%r)' % (native_id, self._scheduler(),
                                                   self.native_id_example,
                                                   _pattern_text(pattern)))
        elif not native_id or native_id.startswith('-') or \
                _UNSAFE_ID_CHARACTER.search(native_id) is not None:
            raise InvalidJobException('%r is not a %s job id: a job id does not start with '
                                      '"-" and holds no blanks, control characters or commas'
                                      % (native_id, self._scheduler()))

    def _check_submitted_id(self, native_id: str, out: str) -> None:
        """
        :raises SubmitException: if the id `job_id_from_submit_output` read from `out` does not
            match `native_id_pattern`: one of the two is wrong (the job was submitted, but
            could never be followed, attached or canceled by that id).
        """
        pattern = self.native_id_pattern
        if pattern is None or re.fullmatch(pattern, native_id) is not None:
            return
        cls = type(self)
        raise SubmitException(
            'Bug in %s.%s: job_id_from_submit_output returned %r, which does not match its '
            'native_id_pattern %r (the submit command printed %r); the scheduler may hold '
            'that job: cancel it by hand' % (cls.__module__, cls.__qualname__, native_id,
                                            _pattern_text(pattern), out.strip()[:200]))

    def _follow_attached(self, bound: List[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """
        Gives jobs just bound their status now (final ones end here) and follows the others:
        one status query for all, then accounting for those the queue no longer knows.

        Returns the jobs refused, unbound again: those whose id neither the queue nor the
        accounting knows, that recorded nothing in the work directory and that this
        executor's work directory holds no submission of (a job this executor submitted may
        not be listed yet). When the status command fails, nothing is refused (a transient
        failure says nothing about the job).
        """
        ids = list(dict.fromkeys(native_id for _, native_id in bound))
        codes = {native_id: self._read_exit_code(native_id) for native_id in ids}
        queried = True
        try:
            statuses = self._query_status(ids)
        except (subprocess.SubprocessError, OSError, RuntimeError) as ex:
            logger.warning('Status of %s not available yet: %s', ', '.join(ids[:10]), ex)
            statuses = {}
            queried = False
        unknown = [i for i in ids if statuses.get(i) is None and codes[i] is None]
        n = self._config.ids_per_status_command
        for i in range(0, len(unknown), n):
            statuses.update(self.get_final_status(unknown[i:i + n]))
        refused: List[Tuple[Job, Exception]] = []
        for job, native_id in bound:
            code = codes[native_id]
            st = statuses.get(native_id)
            if queried and st is None and code is None and not self._submitted_here(native_id):
                job.executor = None
                job._native_id = None
                refused.append((job, InvalidJobException(
                    'No %s job %r: neither the queue nor the accounting knows it, and it was '
                    'not submitted from the work directory %s' % (
                        self._scheduler(), native_id, self.work_directory))))
                continue
            if (st is not None and st.state.final) or (st is None and code is not None):
                self._finish(job, code, st)
                continue
            if st is not None:
                self._set_job_status(job, st)
            elif self._is_active(native_id):
                self._set_job_status(job, JobStatus(JobState.ACTIVE))
            else:
                self._set_job_status(job, JobStatus(JobState.QUEUED))
            self._engine.register(job, self)
        return refused

    def _submitted_here(self, native_id: str) -> bool:
        """Whether the work directory holds a submission of `native_id` (its token, written
        at submit) or a record of its start: a job the scheduler may not list yet."""
        return native_id in self._tokens or self._is_active(native_id)

    def list(self) -> List[str]:
        """The native ids of this user's jobs that have not ended (see
        :meth:`psij.JobExecutor.list`)."""
        return self.parse_list_output(self._run_command(self.get_list_command()))

    def _clean_submit_script(self, job: Job) -> None:
        """Called once a job ended, unless files are kept: psij-python's hook, which its
        executors extend to delete files of their own (``self._delete_aux_file(job,
        '.nodefile')``); the base's own files are already gone."""

    def _delete_aux_file(self, job: Job, suffix: str) -> None:
        """Deletes ``<work directory>/<native id><suffix>`` (psij-python's helper)."""
        if job.native_id and '/' not in suffix:
            try:
                os.unlink(self.work_directory / (job.native_id + suffix))
            except OSError:
                pass

    # -- internals -------------------------------------------------------------------------------

    def is_transient_error(self, message: str) -> bool:
        """Whether a failed command's `message` names a condition a retry may cure."""
        return is_transient(message, self.transient_errors)

    def is_invalid_request(self, exit_code: int, message: str) -> bool:
        """
        Whether the submit command's failure means the request itself is wrong (unknown queue,
        malformed resource...): submitting it unchanged can never succeed, and `submit` raises
        :class:`~psij.InvalidJobException`. The default knows no such failure.
        """
        return False

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

    def _query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        n = self._config.ids_per_status_command
        result: Dict[str, JobStatus] = {}
        for i in range(0, len(native_ids), n):
            cmd = self._resolve(self.get_status_command(native_ids[i:i + n]))
            res = run_command(cmd, self._config.command_timeout)
            result.update(self.parse_status_result(res.returncode, res.stdout, res.stderr))
        return result

    def _read_exit_code(self, native_id: str) -> Optional[int]:
        return job_files.read_exit_code(self.work_directory, native_id,
                                        self._tokens.get(native_id))

    def _is_active(self, native_id: str) -> bool:
        return job_files.is_active(self.work_directory, native_id, self._tokens.get(native_id))

    def _finish(self, job: Job, code: Optional[int], st: Optional[JobStatus]) -> None:
        """Reports a job's final state from its exit code and/or the scheduler's verdict."""
        native_id = job.native_id or ''
        with self._cancel_lock:
            cancel_requested = native_id in self._cancel_requested
            self._cancel_requested.discard(native_id)
            self._canceled_queued.discard(native_id)
            self._recancel.pop(native_id, None)
        if cancel_requested and (st is None or st.state is not JobState.CANCELED) and \
                (code is None or (st is None and (code < 0 or code > 128))):
            # the job was killed before it could record an exit code (whatever the scheduler
            # makes of a job killed while starting, e.g. OpenPBS: "finished", Exit_status 0),
            # or it died of a signal (143: the shell's SIGTERM) and the scheduler's status
            # missed its end: it was canceled
            st = JobStatus(JobState.CANCELED, message='Canceled (%s)' % (
                st.message if st is not None and st.message else 'at the user\'s request'),
                exit_code=st.exit_code if st is not None else None,
                metadata=st.metadata if st is not None else None)
        if st is not None and st.state is JobState.CANCELED:
            final = JobStatus(JobState.CANCELED, message=st.message, exit_code=code,
                              metadata=st.metadata)
        elif st is not None and st.state is JobState.FAILED and st.message:
            # the scheduler knows why (time limit, memory, node failure, ...); a limit's kill
            # signal is the scheduler's, not the job's exit
            final = JobStatus(JobState.FAILED, message=st.message,
                              exit_code=None if exit_codes.is_limit_exceeded(st)
                              else code if code is not None else st.exit_code,
                              metadata=st.metadata)
        elif code is None and st is not None:
            final = st
        elif code == 0:
            final = JobStatus(JobState.COMPLETED, exit_code=0)
        else:
            stderr = job.spec.stderr_path if job.spec is not None else None
            tail = job_files.output_tail(self.work_directory, native_id, stderr,
                                         token=self._tokens.get(native_id))
            pre = job.spec is not None and job.spec.pre_launch is not None
            msg = (pre_launch_failure(tail) if pre else None) or \
                'The job exited with code %s' % code
            final = JobStatus(JobState.FAILED, exit_code=code,
                              message=msg + (': ' + tail if tail else ''))
        if job.status.state is JobState.QUEUED and final.state is not JobState.CANCELED and \
                (code is not None or self._is_active(native_id)):
            self._set_job_status(job, JobStatus(JobState.ACTIVE))
        if not self._config.keep_files:
            # before the final state is reported: whoever waits for it finds the files gone
            job_files.remove(self.work_directory, native_id, job.id,
                             self._tokens.get(native_id))
            self._clean_submit_script(job)
            arrays.job_ended(job)
        with self._cancel_lock:
            self._tokens.pop(native_id, None)
        self._set_job_status(job, final)
