"""
The ``lsf`` executor: jobs submitted with ``bsub < script``, followed with ``bjobs``, ended
with ``bkill``.

How a :class:`~psij.JobSpec` becomes ``#BSUB`` directives
---------------------------------------------------------

=========================================  ===============================================
field                                      directive
=========================================  ===============================================
``JobSpec.name`` (default: the job's id)   ``-J``, characters other than letters, digits
                                           and ``_.+-`` replaced by ``_`` (``[`` would
                                           make an array job, blanks break ``bjobs``)
``JobSpec.directory``                      ``-cwd`` (if the path can be written in a
                                           directive; the script also ``cd``\\ s there and
                                           fails with exit code 1 if it cannot)
``JobSpec.inherit_environment``            nothing (LSF passes the submission environment)
                                           / ``-env "none"``
stdin / stdout / stderr                    redirections in the script; LSF's own output
                                           (``-o``) goes to the job's output file in the
                                           work directory
``ResourceSpecV1`` process count           ``-n`` (slots)
nodes / processes per node                 ``-R "span[ptile=PPN]"`` when the job gave
                                           either; with ``use_nnodes`` (CSM sites such as
                                           Summit) ``-nnodes N`` instead of ``-n`` and
                                           ``span``
``cpu_cores_per_process``                  ``-R "affinity[core(C)]"``
``gpu_cores_per_process`` (if > 0)         ``-gpu "num=G/task"``
``memory`` (bytes, for the whole job)      ``-M`` and ``-R "rusage[mem=...]"`` in
                                           ``memory_unit`` (LSF_UNIT_FOR_LIMITS; KB by
                                           default), per process if ``memory_per_process``
                                           (LSF's default meaning), rounded up
``exclusive_node_use``                     ``-x``
``JobAttributes.duration``                 ``-W H:MM`` (minutes, rounded up)
``queue_name`` / ``account`` /             ``-q`` / ``-P`` / ``-U``
``reservation_id``
``custom_attributes['lsf.KEY']``           ``-KEY "VALUE"`` (``True``: ``-KEY``; ``False``:
                                           left out), e.g. ``lsf.alloc_flags``,
                                           ``lsf.Jd`` (job description); written last
=========================================  ===============================================

Values are validated (:func:`psij.executors.batch.script_writer.directive_value`: no line
break, quote, ``$``, backslash, backtick, nor a leading ``-``) and strings are written in
double quotes; anything that cannot be written safely raises
:class:`~psij.InvalidJobException`.

The LSF commands are run from the configuration's ``command_directory`` (default: the
``PSIJ_LSF_COMMAND_DIR`` environment variable, else ``PSIJ_LSF_BIN``, else ``PATH``).

Status
------
One ``bjobs -a -o 'jobid stat exit_code exit_reason' -json ID1 ID2 ...`` per polling cycle for
all active LSF jobs of the process (the ``delimiter='|'`` form on LSFs without ``-json``, found
out automatically; see :mod:`psij_lsf.lsf_status`). States map as in
:data:`psij_lsf.lsf_status.LSF_TO_PSIJ`; EXIT is CANCELED after ``bkill`` (TERM_OWNER,
TERM_ADMIN), FAILED "walltime exceeded" (no exit code) for TERM_RUNLIMIT, "memory" for
TERM_MEMLIMIT, and so on. The exit code the job script recorded in the work directory wins
over ``bjobs``' when present.
A job ``bjobs`` no longer knows (``Job <N> is not found``: finished more than CLEAN_PERIOD ago)
gets its exit code from the work directory, or is reported FAILED with a message saying LSF
forgot it.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional

from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch import job_files
from psij.executors.batch.batch_scheduler_executor import (
    SCHEDULER_FIELDS,
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij.executors.batch.commands import run_command
from psij.executors.batch.exit_codes import limit_exceeded
from psij.executors.batch.script_writer import directive_value
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

from psij_lsf.lsf_status import (
    TRANSIENT_ERRORS,
    BjobsAnswer,
    LsfJobStatus,
    bjobs_status_command,
    is_final,
    job_id_from_bsub,
    json_job_ids,
    json_unsupported,
    parse_bjobs,
    says_no_jobs,
    term_key,
    to_psij,
)

__all__ = ['LsfExecutorConfig', 'LsfJobExecutor', 'INVALID_JOB_MESSAGES', 'lsf_job_name',
           'lsf_to_job_status']

# bsub's messages for a request that can never succeed as it is (FACTS L2); bsub exits 255 for
# every error, transient or not, so the text decides
INVALID_JOB_MESSAGES = (
    'No such queue',
    'Bad argument for option',
    'Error in rusage section',
    'Error in select section',
    'Error in span section',
    'Error in order section',
    'Error in same section',
    'Error in affinity section',
    'Bad resource requirement syntax',
    'illegal option',
    'Illegal option',
    'Bad job name',
    'not a valid reservation',
    'Invalid reservation',
    'User cannot use the queue',
    'Not enough processors to meet',
    'outside the range set by',
    'Too many processors requested',
)
"""Submission errors reported as :class:`~psij.InvalidJobException` (see `LsfJobExecutor`)."""

_NAME_BAD = re.compile(r'[^A-Za-z0-9_.+-]')
_ALREADY_DONE = re.compile(r'already finished|No matching job', re.IGNORECASE)
_UNITS = {'KB': 1024, 'MB': 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4}
_FORGOTTEN = ('LSF no longer knows job %s (bjobs forgets finished jobs after CLEAN_PERIOD) and '
              'the job recorded no exit code')


def lsf_job_name(name: str) -> str:
    """
    The job name passed to LSF (``-J``): characters other than letters, digits and ``_.+-``
    become ``_``; never empty, never starting with ``-``, at most 200 characters.
    """
    clean = _NAME_BAD.sub('_', name).lstrip('-')[:200]
    return clean or 'psij'


class LsfExecutorConfig(BatchSchedulerExecutorConfig):
    """
    Configuration of the LSF executor: that of every batch-scheduler executor (polling
    intervals, work directory, command time-out, ...) and the site's LSF conventions.

    The work directory (default ``~/.psij/work/lsf``) must be on a filesystem shared by the
    submitting host and the compute nodes, as the job script records its start and exit code
    there.
    """

    def __init__(self, *args: Any, use_nnodes: bool = False, memory_unit: str = 'KB',
                 memory_per_process: bool = True, bjobs_json: Optional[bool] = None,
                 **kwargs: Any) -> None:
        """
        :param args: see :class:`~psij.executors.batch.batch_scheduler_executor.
            BatchSchedulerExecutorConfig`; its ``command_directory`` is the directory of
            ``bsub``, ``bjobs`` and ``bkill`` (default: the ``PSIJ_LSF_COMMAND_DIR``
            environment variable, else ``PSIJ_LSF_BIN``, else the commands are looked up on
            ``PATH``).
        :param use_nnodes: the site allocates whole nodes with ``-nnodes N`` (IBM CSM systems
            such as Summit and Lassen) instead of slots with ``-n``.
        :param memory_unit: the site's ``LSF_UNIT_FOR_LIMITS``: ``KB`` (LSF's default), ``MB``,
            ``GB`` or ``TB``, for ``-M`` and ``rusage[mem=]``.
        :param memory_per_process: the memory limit applies per process (LSF's default); if
            `False` (``LSB_JOB_MEMLIMIT=Y``) the whole job's memory is requested.
        :param bjobs_json: use ``bjobs -json`` (LSF 10.1 Fix Pack 2 and later); `None`: try
            it, and fall back to the ``delimiter`` form if ``bjobs`` rejects it.
        :param kwargs: see `args`.
        """
        super().__init__(*args, **kwargs)
        if self.command_directory is None and not os.environ.get('PSIJ_LSF_COMMAND_DIR') and \
                os.environ.get('PSIJ_LSF_BIN'):
            self.command_directory = Path(os.environ['PSIJ_LSF_BIN'])
        self.use_nnodes = use_nnodes
        unit = memory_unit.upper()
        if unit not in _UNITS:
            raise ValueError('memory_unit must be one of %s, not %r' % (', '.join(_UNITS),
                                                                       memory_unit))
        self.memory_unit = unit
        self.memory_per_process = memory_per_process
        self.bjobs_json = bjobs_json


class LsfJobExecutor(BatchSchedulerExecutor):
    """
    Runs jobs on an IBM Spectrum LSF cluster; see the module documentation for the mapping of
    the specification to ``bsub`` options and of LSF states to PSI/J states.

    Submission errors: ``bsub`` exits 255 for every error, so its message decides. LSF not
    reachable or busy (``Cannot connect to LSF. Please wait ...``, time-outs) gives a
    :class:`~psij.SubmitException` with ``transient=True``; a request LSF rejects as malformed
    or impossible (``No such queue``, ``Bad argument for option -n``, ``Error in rusage
    section``...; see `INVALID_JOB_MESSAGES`) an :class:`~psij.InvalidJobException` with LSF's
    message; anything else a :class:`~psij.SubmitException` with LSF's message.
    """

    native_id_pattern = re.compile(r'\d+(?:\[\d+\])?')
    """A job (``1234``) or an element of a job array (``1234[7]``)."""
    native_id_example = '1234 or 1234[7]'

    _NAME_ = 'lsf'
    config_class = LsfExecutorConfig
    job_id_variable = 'LSB_JOBID'
    """LSF's variable holding the job id inside the job."""

    honoured_fields = SCHEDULER_FIELDS
    """Every scheduler-dependent field reaches LSF (see the module documentation)."""

    scheduler_isolates_environment = True
    """Without ``inherit_environment`` the job is submitted with ``-env "none"``."""

    transient_errors = TRANSIENT_ERRORS
    """LSF's phrases for a master that cannot be reached or is busy (FACTS L2, L9)."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used.
        :param config: an :class:`LsfExecutorConfig` (or any batch-scheduler configuration).
        """
        super().__init__(url=url, config=config)
        cfg = self._lsf_config
        self._json: Optional[bool] = cfg.bjobs_json

    @property
    def _lsf_config(self) -> LsfExecutorConfig:
        cfg = self.config
        assert isinstance(cfg, LsfExecutorConfig)
        return cfg

    def command(self, name: str) -> str:
        """The path (or bare name, looked up on ``PATH``) of the LSF command `name`."""
        return self.command_path(name)

    # -- the submit script -----------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The ``#BSUB`` lines for `job` (see the module documentation)."""
        spec = job.spec
        assert spec is not None
        res = spec.resources if spec.resources is not None else ResourceSpecV1()
        if not isinstance(res, ResourceSpecV1):
            raise InvalidJobException('Only ResourceSpecV1 resources are supported')
        cfg = self._lsf_config
        attrs = spec.attributes
        lines: List[str] = []

        def opt(name: str, value: object = None, field: Optional[str] = None,
                quoted: bool = True) -> None:
            if value is None:
                lines.append('#BSUB -%s' % name)
                return
            text = directive_value(field or '-' + name, value)
            lines.append('#BSUB -%s %s' % (name, '"%s"' % text if quoted else text))

        opt('J', lsf_job_name(spec.name or job.id), 'JobSpec.name')
        if spec.directory is not None and _directive_safe(str(spec.directory)):
            opt('cwd', str(spec.directory), 'JobSpec.directory')
        # LSF's own output (and messages) go to the script's output file
        out = str(self.work_directory / job_files.output_name(
            '%J', context.get('psij', {}).get('token')))
        opt('o', out if _directive_safe(out) else '/dev/null', 'work directory')
        if not spec.inherit_environment:
            opt('env', 'none')

        procs = res.computed_process_count
        shaped = res.node_count is not None or res.processes_per_node is not None
        if cfg.use_nnodes:
            opt('nnodes', res.computed_node_count, quoted=False)
        else:
            opt('n', procs, quoted=False)
            if shaped:
                opt('R', 'span[ptile=%d]' % res.computed_processes_per_node)
        if res.cpu_cores_per_process is not None:
            opt('R', 'affinity[core(%d)]' % res.cpu_cores_per_process)
        if res.gpu_cores_per_process:
            opt('gpu', 'num=%d/task' % res.gpu_cores_per_process)
        if res.memory is not None:
            per = res.memory / (procs if cfg.memory_per_process else 1)
            mem = max(1, math.ceil(per / _UNITS[cfg.memory_unit]))
            opt('M', mem, quoted=False)
            opt('R', 'rusage[mem=%d]' % mem)
        if res.exclusive_node_use:
            opt('x')

        if attrs.duration is not None:
            opt('W', self._format_duration(attrs.duration), quoted=False)
        if attrs.queue_name is not None:
            opt('q', attrs.queue_name, 'JobAttributes.queue_name')
        if attrs.account is not None:
            opt('P', attrs.account, 'JobAttributes.account')
        if attrs.reservation_id is not None:
            opt('U', attrs.reservation_id, 'JobAttributes.reservation_id')

        raw = attrs.custom_attributes or {}
        for key, value in context.get('custom_attributes', {}).items():
            orig = raw.get('lsf.' + key)
            if orig is True:
                opt(key)
            elif orig is not False:
                lines.append('#BSUB -%s "%s"' % (key, value))
        return lines

    def _format_duration(self, d: timedelta) -> str:
        """``-W``: ``H:MM``, rounded up to whole minutes (at least one)."""
        minutes = max(1, math.ceil(d.total_seconds() / 60))
        return '%d:%02d' % (minutes // 60, minutes % 60)

    def nodefile_commands(self, job: Job) -> List[str]:
        """
        Writes ``$PSIJ_NODEFILE`` (one line per slot) from ``$LSB_DJOB_HOSTFILE`` (one host per
        slot), else from ``$LSB_MCPU_HOSTS`` (``hostA 4 hostB 4``), else the host name. With
        ``use_nnodes`` the launch (batch) node that CSM sites list first with one slot is left
        out when other hosts follow.
        """
        lines = [
            '_psij_nodes() {',
            '    local _h _n _i',
            '    if [ -n "${LSB_DJOB_HOSTFILE:-}" ] && [ -r "$LSB_DJOB_HOSTFILE" ]; then',
            '        while read -r _h _n; do [ -n "$_h" ] && printf "%s\\n" "$_h"; done '
            '<"$LSB_DJOB_HOSTFILE"',
            '    elif [ -n "${LSB_MCPU_HOSTS:-}" ]; then',
            '        set -- $LSB_MCPU_HOSTS',
            '        while [ $# -ge 2 ]; do',
            '            for ((_i = 0; _i < $2; _i++)); do printf "%s\\n" "$1"; done',
            '            shift 2',
            '        done',
            '    else',
            '        hostname',
            '    fi',
            '}',
        ]
        if self._lsf_config.use_nnodes:
            lines += [
                '_psij_nodes >"$PSIJ_NODEFILE.all"',
                '_psij_first=$(head -n 1 "$PSIJ_NODEFILE.all")',
                'if [ "$(grep -cxF -- "$_psij_first" "$PSIJ_NODEFILE.all")" = 1 ] && '
                '[ "$(wc -l <"$PSIJ_NODEFILE.all")" -gt 1 ]; then',
                '    tail -n +2 "$PSIJ_NODEFILE.all" >"$PSIJ_NODEFILE"',
                'else',
                '    cat "$PSIJ_NODEFILE.all" >"$PSIJ_NODEFILE"',
                'fi',
                'rm -f "$PSIJ_NODEFILE.all"',
            ]
        else:
            lines.append('_psij_nodes >"$PSIJ_NODEFILE"')
        return lines

    # -- submit ----------------------------------------------------------------------------------

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``bsub < script`` (``#BSUB`` lines are read from standard input only), through
        ``/bin/sh``, which ``exec``\\ s bsub with the script as its input."""
        return ['/bin/sh', '-c', 'exec "$0" <"$1"', self.command('bsub'),
                str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """The id in ``Job <ID> is submitted to [default ]queue <Q>.``."""
        native_id = job_id_from_bsub(out)
        if native_id is None:
            raise SubmitException('bsub printed no job id: %r' % out)
        return native_id

    def is_invalid_request(self, exit_code: int, message: str) -> bool:
        """bsub's messages for a request that can never succeed (`INVALID_JOB_MESSAGES`)."""
        return any(m in message for m in INVALID_JOB_MESSAGES)

    def _run_command(self, cmd: List[str], submitting: bool = False) -> str:
        """The framework's command runner; failures of the submit command are reported as
        ``bsub``'s, not as those of the shell that gives it the script."""
        try:
            return super()._run_command(cmd, submitting)
        except InvalidJobException as ex:
            if not submitting:
                raise
            raise InvalidJobException(_as_bsub(ex.message), ex.exception) from ex
        except SubmitException as ex:
            if not submitting:
                raise
            raise SubmitException(_as_bsub(ex.message), ex.exception,
                                  transient=ex.transient) from ex

    # -- status ----------------------------------------------------------------------------------

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """One ``bjobs`` for all of `native_ids` (see :mod:`psij_lsf.lsf_status`)."""
        return bjobs_status_command(native_ids, self._json is not False, self.command('bjobs'))

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """
        The statuses in ``bjobs``' answer; jobs LSF does not know (any more) are absent.

        :raises RuntimeError: if ``bjobs`` failed (e.g. LSF cannot be reached); the status
            engine retries later and the jobs keep their state.
        """
        answer = self._check_answer(exit_code, out)
        result = {}
        for native_id, s in answer.jobs.items():
            st = lsf_to_job_status(s)
            if st is not None:
                result[native_id] = st
        return result

    def parse_status_result(self, exit_code: int, stdout: str,
                            stderr: str) -> Dict[str, JobStatus]:
        """`parse_status_output` of both streams: ``Job <N> is not found`` and the "Please
        wait" lines go to stderr, whatever the exit code."""
        return self.parse_status_output(exit_code, stdout + '\n' + stderr)

    def _check_answer(self, exit_code: int, out: str) -> BjobsAnswer:
        answer = parse_bjobs(out)
        if answer.complete or answer.jobs or answer.not_found or says_no_jobs(out):
            return answer
        if self._json is None and json_unsupported(out):
            self._json = False  # an LSF older than 10.1 FP2: the delimiter form from now on
            raise RuntimeError('bjobs does not know -json; using the delimiter form')
        if exit_code != 0 or (out.strip() and not _only_please_wait(out)):
            raise RuntimeError('bjobs failed (exit code %d): %s' % (exit_code, out.strip()))
        return answer

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """
        The final status of jobs missing from the last ``bjobs`` answers: asked again, with
        LSF's complaints read; a job LSF says it does not know is FAILED with a message saying
        so (its exit code, if the job recorded one, still wins). Empty if LSF cannot be asked.
        """
        ids = list(native_ids)
        if not ids:
            return {}
        try:
            res = run_command(self.get_status_command(ids), self._config.command_timeout)
        except (OSError, subprocess.SubprocessError):
            return {}
        text = res.stdout + '\n' + res.stderr
        try:
            answer = self._check_answer(res.returncode, text)
        except RuntimeError:
            return {}
        result: Dict[str, JobStatus] = {}
        for native_id in ids:
            s = answer.jobs.get(native_id)
            if s is not None:
                if is_final(s.stat):
                    st = lsf_to_job_status(s)
                    if st is not None:
                        result[native_id] = st
            elif native_id in answer.not_found or (len(ids) == 1 and not res.stdout.strip()):
                result[native_id] = JobStatus(JobState.FAILED, message=_FORGOTTEN % native_id,
                                              metadata={'lsf_stat': None})
        return result

    # -- cancel and list -------------------------------------------------------------------------

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``bkill <id>``."""
        return [self.command('bkill'), native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        :raises InvalidJobStateError: if LSF says the job already finished or does not know it
            (``Job <N>: Job has already finished``, ``Job <N>: No matching job found``).
        :raises SubmitException: otherwise (``transient`` if LSF cannot be reached).
        """
        if _ALREADY_DONE.search(out):
            raise InvalidJobStateError(out)
        raise SubmitException('bkill failed (exit code %d): %s' % (exit_code, out),
                              transient=self.is_transient_error(out))

    def get_list_command(self) -> List[str]:
        """``bjobs`` for this user's unfinished jobs (no ``-a``), ids only."""
        cmd = [self.command('bjobs'), '-u', getpass.getuser(), '-o', 'jobid']
        return cmd + (['-json'] if self._json is not False else ['-noheader'])

    def parse_list_output(self, out: str) -> List[str]:
        """The ids in ``bjobs -o jobid`` output (JSON or one per line)."""
        if '{' in out:
            return json_job_ids(out)
        return [w for w in (line.strip() for line in out.splitlines()) if w.isdigit()]

    def list(self) -> List[str]:
        """The native ids of this user's unfinished jobs (``No unfinished job found`` is an
        empty list)."""
        cmd = self.get_list_command()
        try:
            res = run_command(cmd, self._config.command_timeout)
        except subprocess.TimeoutExpired as ex:
            raise SubmitException('bjobs did not answer within %s s'
                                  % self._config.command_timeout, ex, transient=True) from ex
        except OSError as ex:
            raise SubmitException('Cannot run bjobs: %s' % ex, ex) from ex
        text = res.stdout + '\n' + res.stderr
        ids = self.parse_list_output(res.stdout)
        if ids or says_no_jobs(text) or (res.returncode == 0 and not res.stdout.strip()):
            return ids
        if res.returncode == 0 and '{' in res.stdout:
            return ids
        if self._json is None and json_unsupported(text):
            # asked before any status command found out: the delimiter form from now on
            self._json = False
            return self.list()
        raise SubmitException('bjobs failed (exit code %d): %s' % (res.returncode,
                                                                   text.strip()),
                              transient=self.is_transient_error(text))


def _as_bsub(message: str) -> str:
    return message.replace('/bin/sh failed', 'bsub failed', 1).replace(
        '/bin/sh did not answer', 'bsub did not answer', 1)


def _only_please_wait(out: str) -> bool:
    return all('Please wait' in line for line in out.splitlines() if line.strip())


def _directive_safe(value: str) -> bool:
    try:
        directive_value('', value)
    except InvalidJobException:
        return False
    return True


def lsf_to_job_status(s: LsfJobStatus) -> Optional[JobStatus]:
    """
    The PSI/J status for what ``bjobs`` says about a job; `None` for a state this module does
    not know (no news rather than a guess). See :func:`psij_lsf.lsf_status.to_psij`.
    """
    p = to_psij(s)
    if p is None:
        return None
    metadata: Dict[str, Any] = {'lsf_stat': s.stat}
    if s.exit_reason:
        metadata['lsf_exit_reason'] = s.exit_reason
    limit = _LIMITS.get(term_key(s.exit_reason) or '')
    if limit is not None and p.state == 'FAILED':
        return limit_exceeded(limit, detail=p.message or '', metadata=metadata)
    return JobStatus(JobState[p.state], message=p.message, exit_code=p.exit_code,
                     metadata=metadata)


_LIMITS = {'TERM_RUNLIMIT': 'walltime', 'TERM_CPULIMIT': 'cpu_time'}
"""LSF's reasons for a limit kill: FAILED without an exit code (see
:func:`psij.executors.batch.exit_codes.limit_exceeded`)."""
