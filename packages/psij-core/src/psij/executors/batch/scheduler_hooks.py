"""What a batch-scheduler executor subclass supplies: psij-python's hooks and attributes.

`SchedulerHooks` holds the class attributes a subclass sets and the methods it
implements or overrides, with their defaults; `_check_hooks` checks that a class
implements the required ones. psij-python's helpers for such subclasses are here too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Pattern, Tuple, Union

from psij.exceptions import SubmitException
from psij.executors.batch.commands import is_transient
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_status import JobStatus

UNKNOWN_ERROR = 'Failed for an unknown reason'


class InvalidJobStateError(Exception):
    """A job cannot be canceled because it has already ended."""


def check_status_exit_code(command: str, exit_code: int, out: str) -> None:
    """Raises `RuntimeError` for a failed status command (psij-python's helper)."""
    if exit_code != 0:
        raise RuntimeError('%s failed with exit code %d: %s' % (command, exit_code, out))


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
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor
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


class SchedulerHooks(JobExecutor):
    """The scheduler-specific part of `BatchSchedulerExecutor`: what a subclass sets
    and implements (psij-python's names and signatures), with the defaults."""

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

    def _clean_submit_script(self, job: Job) -> None:
        """Called once a job ended, unless files are kept: psij-python's hook, which its
        executors extend to delete files of their own (``self._delete_aux_file(job,
        '.nodefile')``); the base's own files are already gone."""

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
