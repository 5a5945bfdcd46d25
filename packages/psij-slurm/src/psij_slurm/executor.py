"""
The ``slurm`` executor: jobs submitted with ``sbatch``, followed with ``squeue``, ended with
``scancel``.

How a :class:`~psij.JobSpec` becomes ``#SBATCH`` directives
-----------------------------------------------------------

===========================================  ===============================================
field                                        directive
===========================================  ===============================================
``JobSpec.name`` (default: the executable)   ``--job-name``, blanks and unusual characters
                                             replaced by ``_`` (``sacct -c`` loses the state
                                             of a job whose name holds a blank)
``JobSpec.directory``                        ``--chdir`` (if the path can be written in a
                                             directive; the script also ``cd``\\ s there and
                                             fails with exit code 1 if it cannot)
``JobSpec.inherit_environment``              ``--export=ALL`` / ``--export=NONE``
stdin / stdout / stderr                      redirections in the script; Slurm's own output
                                             (e.g. "CANCELLED DUE TO TIME LIMIT") goes to the
                                             job's output file in the work directory
``ResourceSpecV1`` node / process counts     ``--nodes``, ``--ntasks``, ``--ntasks-per-node``
                                             (the ``computed_*`` values)
``cpu_cores_per_process``                    ``--cpus-per-task``
``gpu_cores_per_process`` (if > 0)           ``--gpus-per-task``
``memory`` (bytes, for the whole job)        ``--mem=<KiB per node>K``, rounded up
``exclusive_node_use``                       ``--exclusive``
``JobAttributes.duration``                   ``--time=D-HH:MM:SS`` (Slurm rounds up to minutes)
``queue_name`` / ``account`` /               ``--partition`` / ``--account`` /
``reservation_id``                           ``--reservation``
``custom_attributes['slurm.KEY']``           ``--KEY="VALUE"`` (``True``: ``--KEY``; ``False``:
                                             left out); written last, so they take precedence
===========================================  ===============================================

Values are validated (:func:`psij.executors.batch.script_writer.directive_value`) and written
in double quotes; anything that cannot be written safely raises
:class:`~psij.InvalidJobException`.

Status
------
One ``squeue --states=all --jobs=ID1,ID2,...`` per polling cycle for all active Slurm jobs of
the process (see :mod:`psij_slurm.slurm_status`). Jobs that left the queue (``MinJobAge``) are
looked up in accounting: plain ``sacct`` where slurmdbd runs, ``sacct -c`` (the jobcomp log)
where it does not; and the exit code the job script recorded in the work directory wins over
both when present. Slurm states map to PSI/J states as in
:data:`psij_slurm.slurm_status.SLURM_TO_PSIJ`; ``OUT_OF_MEMORY``, ``TIMEOUT``, ``NODE_FAIL``,
``PREEMPTED``, ``BOOT_FAIL`` and ``DEADLINE`` are ``FAILED`` with a message naming the cause.

``inherit_environment=False``
-----------------------------
``--export=NONE`` gives the batch script the user's *login* environment on the compute node
(Slurm sets ``SLURM_GET_USER_ENV=1``: ``HOME``, ``PATH``, ``USER``, ``SHELL``... as a login
shell would have them) plus the ``SLURM_*`` variables, but nothing from the submitting process;
the script then adds ``JobSpec.environment``. Slurm also sets ``SLURM_EXPORT_ENV=NONE``, which
would give ``srun`` steps an *empty* environment (not even ``PATH``); the script resets it to
``ALL`` so that ranks started by ``srun`` see the same environment as the script.
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

from psij_slurm import slurm_arrays
from psij_slurm.slurm_status import (
    FAILED,
    NO_ACCOUNTING,
    UNKNOWN_JOB,
    SlurmJobStatus,
    classify_error,
    is_final,
    normalize_state,
    parse_sacct,
    parse_squeue,
    sacct_command,
    squeue_command,
    to_psij,
)

__all__ = ['SlurmExecutorConfig', 'SlurmJobExecutor', 'INVALID_JOB_MESSAGES', 'slurm_job_name']

# Messages of sbatch (and of slurmctld, after "Batch job submission failed: ") that mean the
# request itself is wrong: resubmitting it unchanged can never succeed.
INVALID_JOB_MESSAGES = (
    'More processors requested than permitted',
    'Invalid partition name specified',
    'Invalid account or account/partition combination specified',
    'Requested node configuration is not available',
    'Memory specification can not be satisfied',
    'Requested time limit is invalid',
    'Node count specification invalid',
    'Invalid generic resource (gres) specification',
    'Requested reservation is invalid',
    'Invalid feature specification',
    'Invalid qos specification',
    'Invalid Trackable RESource (TRES) specification',
    'Job dependency problem',
    'Invalid job array specification',
    'unrecognized option',
    'invalid option',
    "doesn't allow an argument",
    'requires an argument',
    'Invalid --',
    'invalid --',
    'Invalid numeric value',
    'Invalid node name specified',
    'Invalid wckey specification',
)
"""Submission errors reported as :class:`~psij.InvalidJobException` (see `SlurmJobExecutor`)."""

_CLUSTER_ATTRIBUTES = frozenset({'slurm.clusters', 'slurm.cluster', 'slurm.M'})
_NAME_OK = re.compile(r'[^A-Za-z0-9_.+,:@/%=-]')
_ALREADY_DONE = ('already completing or completed', 'Invalid job id specified',
                 'Job has already finished')


def slurm_job_name(name: str) -> str:
    """
    The job name passed to Slurm: blanks and characters other than letters, digits and
    ``_.+,:@/%=-`` become ``_``; never empty, never starting with ``-``.
    """
    clean = _NAME_OK.sub('_', name).lstrip('-')[:200]
    return clean or 'psij'


_SQUEUE_LINE = re.compile(r'^\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?\|[A-Z_]+\|[^\n]*\|-?\d*\|$')
"""A line of ``squeue --Format=SQUEUE_FIELDS``."""
_SQUEUE_ID = re.compile(r'\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?')
"""The job id at the start of such a line."""

class SlurmExecutorConfig(BatchSchedulerExecutorConfig):
    """
    Configuration of the Slurm executor: that of every batch-scheduler executor (polling
    intervals, work directory, command time-out, ...).

    The work directory (default ``~/.psij/work/slurm``) must be on a filesystem shared by the
    submitting host and the compute nodes, as the job script records its start and exit code
    there.
    """


class SlurmJobExecutor(BatchSchedulerExecutor):
    """
    Runs jobs on a Slurm cluster; see the module documentation for the mapping of the
    specification to ``sbatch`` options and of Slurm states to PSI/J states.

    Submission errors: a scheduler that cannot be reached (``Unable to contact slurm
    controller``, time-outs, "try again") gives a :class:`~psij.SubmitException` with
    ``transient=True``; a request Slurm rejects as impossible or malformed (e.g. ``More
    processors requested than permitted``, ``Invalid partition name specified``, an unknown
    ``slurm.*`` option; see `INVALID_JOB_MESSAGES`) gives an
    :class:`~psij.InvalidJobException` with Slurm's message; anything else a
    :class:`~psij.SubmitException` with Slurm's message.
    """

    native_id_pattern = re.compile(r'\d+(?:_\d+)?')
    """A job (``1234``) or an element of a job array (``1234_7``)."""
    native_id_example = '1234 or 1234_7'

    _NAME_ = 'slurm'
    config_class = SlurmExecutorConfig
    job_id_variable = 'SLURM_JOB_ID'

    honoured_fields = SCHEDULER_FIELDS

    array_scheme = slurm_arrays.SlurmArrays()
    """`submit_many` submits ``sbatch --array`` (see `psij_slurm.slurm_arrays`)."""

    scheduler_isolates_environment = True
    """Without ``inherit_environment`` the scheduler gives the job none of the submitter's
    environment (see the module documentation)."""
    """Every scheduler-dependent field reaches the scheduler (see the module documentation)."""
    """Slurm's variable holding the job id inside the job."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used.
        :param config: a :class:`SlurmExecutorConfig` (or any batch-scheduler configuration).
        """
        super().__init__(url=url, config=config)
        self._accounting: Optional[bool] = None
        """Whether plain ``sacct`` works here (slurmdbd); `None` until first asked."""

    # -- the submit script -----------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """
        The ``#SBATCH`` lines for `job` (see the module documentation).

        :raises InvalidJobException: for a job sent to another cluster of a multi-cluster
            installation (``slurm.clusters``/``slurm.cluster``/``slurm.M`` custom attributes):
            its status would have to be asked with ``-M`` everywhere; submit from that
            cluster instead.
        """
        spec = job.spec
        assert spec is not None
        for key in (spec.attributes.custom_attributes or {}):
            if key in _CLUSTER_ATTRIBUTES:
                raise InvalidJobException(
                    'JobAttributes.custom_attributes[%r]: jobs on another cluster of a '
                    'multi-cluster Slurm are not supported (their status, cancel and accounting '
                    'would all need -M); submit from a login node of that cluster' % key)
        res = spec.resources if spec.resources is not None else ResourceSpecV1()
        if not isinstance(res, ResourceSpecV1):
            raise InvalidJobException('Only ResourceSpecV1 resources are supported')
        attrs = spec.attributes
        lines: List[str] = []

        def opt(name: str, value: object = None, field: Optional[str] = None) -> None:
            if value is None:
                lines.append('#SBATCH --%s' % name)
            else:
                lines.append('#SBATCH --%s="%s"' % (name, directive_value(field or name,
                                                                          value)))

        opt('job-name', slurm_job_name(spec.name or job.id), 'JobSpec.name')
        if spec.directory is not None and _directive_safe(str(spec.directory)):
            opt('chdir', str(spec.directory), 'JobSpec.directory')
        # Slurm's own messages (e.g. "CANCELLED DUE TO TIME LIMIT") go to the script's output
        out = str(self.work_directory / job_files.output_name(
            '%j', context.get('psij', {}).get('token')))
        opt('output', out if _directive_safe(out) else '/dev/null', 'work directory')
        opt('open-mode', 'append')
        opt('export', 'ALL' if spec.inherit_environment else 'NONE')

        nodes = res.computed_node_count
        opt('nodes', nodes)
        opt('ntasks', res.computed_process_count)
        opt('ntasks-per-node', res.computed_processes_per_node)
        if res.cpu_cores_per_process is not None:
            opt('cpus-per-task', res.cpu_cores_per_process)
        if res.gpu_cores_per_process:
            opt('gpus-per-task', res.gpu_cores_per_process)
        if res.memory is not None:
            opt('mem', '%dK' % max(1, math.ceil(res.memory / 1024 / nodes)))
        if res.exclusive_node_use:
            opt('exclusive')

        if attrs.duration is not None:
            opt('time', self._format_duration(attrs.duration))
        if attrs.queue_name is not None:
            opt('partition', attrs.queue_name, 'JobAttributes.queue_name')
        if attrs.account is not None:
            opt('account', attrs.account, 'JobAttributes.account')
        if attrs.reservation_id is not None:
            opt('reservation', attrs.reservation_id, 'JobAttributes.reservation_id')

        raw = attrs.custom_attributes or {}
        for key, value in context.get('custom_attributes', {}).items():
            orig = raw.get('slurm.' + key)
            if orig is True:
                opt(key)
            elif orig is False:
                continue
            else:
                lines.append('#SBATCH --%s="%s"' % (key, value))
        return lines

    def nodefile_commands(self, job: Job) -> List[str]:
        """
        Writes ``$PSIJ_NODEFILE`` from ``$SLURM_JOB_NODELIST`` (expanded by ``scontrol show
        hostnames``, which needs no controller) and ``$SLURM_TASKS_PER_NODE`` (``2(x3),1``),
        one line per task slot, without starting a job step.

        Also sets ``SLURM_EXPORT_ENV=ALL``: after ``--export=NONE`` Slurm leaves it at
        ``NONE``, and ``srun`` would then start the ranks with an empty environment.
        """
        return [
            'export SLURM_EXPORT_ENV=ALL',
            '_psij_nodes() {',
            '    local _s _h _i=0 _c',
            '    local -a _n=()',
            '    local IFS=,',
            '    for _s in ${SLURM_TASKS_PER_NODE:-1}; do',
            r'        if [[ $_s =~ ^([0-9]+)\(x([0-9]+)\)$ ]]; then',
            '            for ((_c = 0; _c < BASH_REMATCH[2]; _c++)); do '
            '_n+=("${BASH_REMATCH[1]}"); done',
            '        else',
            '            _n+=("$_s")',
            '        fi',
            '    done',
            "    IFS=$' \\t\\n'",
            '    while read -r _h; do',
            '        for ((_c = 0; _c < ${_n[_i]:-1}; _c++)); do printf "%s\\n" "$_h"; done',
            '        _i=$((_i + 1))',
            '    done < <(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null '
            '|| hostname)',
            '}',
            '_psij_nodes >"$PSIJ_NODEFILE"',
        ]

    def _format_duration(self, d: timedelta) -> str:
        secs = math.ceil(d.total_seconds())
        days, secs = divmod(secs, 86400)
        return '%d-%02d:%02d:%02d' % (days, secs // 3600, secs // 60 % 60, secs % 60)

    # -- submit ----------------------------------------------------------------------------------

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``sbatch --parsable <script>``."""
        return ['sbatch', '--parsable', str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """The id ``sbatch --parsable`` printed (``123`` or ``123;cluster``)."""
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if not lines:
            return ''
        native_id, _, cluster = lines[-1].partition(';')
        native_id = native_id.strip()
        if not native_id.isdigit():
            raise SubmitException('sbatch printed no job id: %r' % out)
        if cluster.strip():
            # the environment (SLURM_CLUSTERS) sent the job to a named cluster: follow it
            # there or not at all; a job left running unfollowed is better canceled now
            run_command(self._resolve(['scancel', '-M', cluster.strip(), native_id]),
                        self._config.command_timeout)
            raise SubmitException(
                'sbatch submitted job %s to cluster %s (SLURM_CLUSTERS=%r): jobs on a named '
                'cluster of a multi-cluster Slurm are not supported, so it was canceled; unset '
                'SLURM_CLUSTERS or submit from that cluster' % (
                    native_id, cluster.strip(), os.environ.get('SLURM_CLUSTERS')))
        return native_id

    def is_invalid_request(self, exit_code: int, message: str) -> bool:
        """Slurm's messages for a request that can never succeed (`INVALID_JOB_MESSAGES`)."""
        return any(m in message for m in INVALID_JOB_MESSAGES)

    # -- status ----------------------------------------------------------------------------------

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """One ``squeue`` for all of `native_ids` (see `psij_slurm.slurm_status`; with array
        elements among them, `psij_slurm.slurm_arrays.status_command`)."""
        if any('_' in i for i in native_ids):
            return slurm_arrays.status_command(native_ids)
        return squeue_command(native_ids)

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """
        The statuses in ``squeue``'s answer; jobs Slurm no longer knows are absent.

        :raises RuntimeError: if ``squeue`` failed (e.g. the controller is down); the status
            engine retries later and the jobs keep their state.
        """
        if exit_code != 0:
            if classify_error(exit_code, out) == UNKNOWN_JOB:
                return {}
            raise RuntimeError('squeue failed (exit code %d): %s' % (exit_code, out.strip()))
        # with our --Format every line is "ID|STATE|REASON|EXIT|": anything else (garbage, a
        # truncated answer) must not pass for "the job left the queue"
        result = {}
        # thousands of jobs share a few answers (a long queue of pending or held jobs): each
        # distinct "STATE|REASON|EXIT|" is read once per poll, and its jobs share the status
        made: Dict[str, Optional[JobStatus]] = {}
        for line in out.splitlines():
            native_id, _, answer = line.partition('|')
            if answer in made:
                if not _SQUEUE_ID.fullmatch(native_id):  # a known answer: only the id is new
                    raise RuntimeError('squeue printed something that is not a job record: %r'
                                       % line[:200])
                st = made[answer]
            else:  # a new answer: the whole line is checked and read
                if not line.strip():
                    continue
                if not _SQUEUE_LINE.match(line):
                    raise RuntimeError('squeue printed something that is not a job record: %r'
                                       % line[:200])
                s = parse_squeue(line).get(native_id)
                st = made[answer] = slurm_to_job_status(s) if s is not None else None
            if st is not None:
                result[native_id] = st
        return result

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """
        How jobs that left ``squeue`` ended, from ``sacct`` (slurmdbd) or, on sites without
        accounting, ``sacct -c`` (the jobcomp log). Only final states are returned.
        """
        ids = list(native_ids)
        if not ids:
            return {}
        out = None
        if self._accounting is not False:
            res = self._run_quietly(sacct_command(ids, jobcomp=False))
            if res is not None and res[0] == 0:
                self._accounting = True
                out = res[1]
            elif res is not None and classify_error(res[0], res[2]) == NO_ACCOUNTING:
                self._accounting = False
        if out is None:
            res = self._run_quietly(sacct_command(ids, jobcomp=True))
            if res is None or res[0] != 0:
                return {}
            out = res[1]
        result = {}
        for native_id, s in parse_sacct(out).items():
            if native_id in ids and is_final(s.state):
                st = slurm_to_job_status(s)
                if st is not None:
                    result[native_id] = st
        return result

    def _run_quietly(self, cmd: List[str]) -> Optional[tuple[int, str, str]]:
        try:
            p = run_command(cmd, self._config.command_timeout)
        except (OSError, subprocess.SubprocessError):
            return None
        return p.returncode, p.stdout, p.stderr

    # -- cancel and list -------------------------------------------------------------------------

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``scancel <id>``."""
        return ['scancel', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        :raises InvalidJobStateError: if Slurm says the job already ended.
        :raises SubmitException: otherwise (``transient`` if the controller cannot be reached).
        """
        if any(m in out for m in _ALREADY_DONE):
            raise InvalidJobStateError(out)
        raise SubmitException('scancel failed (exit code %d): %s' % (exit_code, out),
                              transient=self.is_transient_error(out))

    def get_list_command(self) -> List[str]:
        """``squeue`` for this user's jobs that have not ended (squeue's default states:
        pending, running, suspended, completing, configuring; not the finished ones it keeps
        for ``MinJobAge``), raw ids only."""
        return ['squeue', '--noheader', '--user=' + getpass.getuser(), '--Format=JobID:|']

    def parse_list_output(self, out: str) -> List[str]:
        """The ids, one per line (``123|``)."""
        ids = []
        for line in out.splitlines():
            v = line.strip().rstrip('|').strip()
            if v.isdigit():
                ids.append(v)
        return ids


def _directive_safe(value: str) -> bool:
    try:
        directive_value('', value)
    except InvalidJobException:
        return False
    return True


def slurm_to_job_status(s: SlurmJobStatus) -> Optional[JobStatus]:
    """
    The PSI/J status for what Slurm says about a job; `None` for a state this module does not
    know (no news rather than a guess).

    Failures carry a message naming the cause (time limit, memory, node failure, preemption,
    boot failure, signal); a plain non-zero exit (``FAILED``/``NonZeroExitCode``) has none, so
    that the executor reports the exit code with the tail of the job's output instead. A job
    killed by signal N has exit code 128 + N, as a shell reports it; one Slurm ended at its
    time limit has none (see :func:`psij.executors.batch.exit_codes.limit_exceeded`).
    """
    p = to_psij(s)
    if p is None:
        return None
    state = JobState[p.state]
    message = p.message
    exit_code = p.exit_code
    if s.signal:
        exit_code = 128 + s.signal
    if (p.state == FAILED and normalize_state(s.state) == 'FAILED' and not s.signal
            and s.exit_code and s.reason in (None, 'NonZeroExitCode')):
        message = None
    metadata: Dict[str, Any] = {'slurm_state': normalize_state(s.state)}
    if s.reason:
        metadata['slurm_reason'] = s.reason
    if metadata['slurm_state'] == 'TIMEOUT':
        return limit_exceeded('walltime', detail=message or '', metadata=metadata)
    return JobStatus(state, message=message, exit_code=exit_code, metadata=metadata)
