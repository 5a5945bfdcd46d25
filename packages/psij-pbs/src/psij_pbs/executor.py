"""
The ``pbs`` executor (PBS Professional / OpenPBS; aliases ``pbspro``, ``openpbs``): jobs
submitted with ``qsub``, followed with ``qstat -x -f -F json``, ended with ``qdel``.

How a :class:`~psij.JobSpec` becomes ``#PBS`` directives
--------------------------------------------------------

============================================  ===============================================
field                                         directive
============================================  ===============================================
``JobSpec.name`` (default: the job's id)      ``-N``, characters other than letters, digits
                                              and ``_.+-`` replaced by ``_``
``JobSpec.directory``                         the script changes to it and fails the job with
                                              exit code 1 if it cannot; without a directory
                                              the job runs where it was submitted
                                              (``$PBS_O_WORKDIR``), not in ``$HOME`` where
                                              PBS starts it
``JobSpec.inherit_environment``               the submitting process's variables exported
                                              by the script (not ``-V``, see
                                              `script_setup_commands`); otherwise the job
                                              gets only what PBS sets
``JobSpec.environment``                       ``export`` lines in the script (byte-exact)
stdin / stdout / stderr                       redirections in the script; PBS's own files go
                                              to ``/dev/null`` (``-j oe -o /dev/null``)
``ResourceSpecV1`` counts                     ``-l select=N:ncpus=C:mpiprocs=P`` with N the
                                              node count, P the processes per node and C =
                                              P x ``cpu_cores_per_process`` (default 1)
``gpu_cores_per_process`` (if > 0)            ``:ngpus=P x G`` in each chunk
``memory`` (bytes, for the whole job)         ``:mem=<KiB per chunk>kb``, rounded up
N > 1                                         ``-l place=scatter`` (one chunk per host;
                                              ``vscatter`` with ``PSIJ_PBS_PLACE=vscatter``
                                              or ``PBSExecutorConfig(place='vscatter')``, for
                                              sites whose nodes are vnodes of fewer hosts)
``exclusive_node_use``                        ``:excl`` in ``place``
``JobAttributes.duration``                    ``-l walltime=H:MM:SS`` (rounded up)
``queue_name`` / ``account``                  ``-q`` / ``-A``
``reservation_id``                            ``-q`` the reservation's queue (``R123.srv`` ->
                                              ``R123``)
``custom_attributes['pbs.X']`` (one letter)   ``-X VALUE`` (``True``: ``-X``; ``False``: left
                                              out), e.g. ``pbs.P`` (project), ``pbs.W``
                                              (``depend=afterok:12.srv``), ``pbs.r`` (``n``)
``custom_attributes['pbs.NAME']``             ``-l NAME=VALUE``, e.g. ``pbs.filesystems`` =
                                              ``home:eagle`` (ALCF Polaris)
============================================  ===============================================

Values are validated: a line break, quote, backslash, ``$``, backtick, blank or leading ``-``
raises :class:`~psij.InvalidJobException` naming the field (a blank would start another qsub
option in a ``#PBS`` line).

Status
------
One ``qstat -x -f -F json ID...`` per polling cycle for all active PBS jobs of the process
(in chunks of ``ids_per_status_command`` ids, 2000 by default). Known ids are read from stdout
even when qstat also complains about unknown ones (exit 153). Sites where ``qstat -x`` is
refused are polled without it. The exit code the job script recorded in the work directory wins over
qstat's ``Exit_status``. ``Exit_status`` is decoded as PBS encodes it: 256 + N is a kill by
signal N (exit code 128 + N), -29 is FAILED "walltime", other negative values are PBS's own
reasons; a job deleted with ``qdel`` (substate 91) is CANCELED. A queued job's ``comment``
("Not Running: ...", "Can Never Run: ...") is its status message.

The commands come from ``PBSExecutorConfig.command_directory``, else the
``PSIJ_PBS_COMMAND_DIR`` environment variable, else ``PATH``. Before its first job an executor
checks that this ``qstat`` is PBS's (Grid Engine and Slurm's Torque wrappers also install a
``qstat``) and refuses to submit with a message naming it if not.
"""

from __future__ import annotations

import getpass
import math
import os
import re
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional

from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    SCHEDULER_FIELDS,
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij.executors.batch.exit_codes import cpu_limit_kill, limit_exceeded
from psij.executors.batch.script_writer import directive_value, quote
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

from psij_pbs import pbs_arrays
from psij_pbs.pbs_status import (
    HISTORY_EXIT,
    PBS_CPU_TIME_EXCEEDED,
    PBS_WALLTIME_EXCEEDED,
    QUEUED_STATES,
    UNKNOWN_JOB_EXIT,
    PbsJob,
    describe_pbs_failure,
    duration_seconds,
    exit_code_of,
    parse_qstat_json,
)

__all__ = ['PBSExecutorConfig', 'PBSJobExecutor', 'PbsExecutorBase', 'pbs_job_name',
           'pbs_value']

_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
# variables PBS (or the shell) sets for the job itself: never copied from the submitter
_JOB_OWN_VARIABLES = frozenset({'ENVIRONMENT', 'TMPDIR', 'NCPUS', 'HOSTNAME', 'HOST', 'PWD',
                                'OLDPWD', 'SHLVL', '_', 'PSIJ_NODEFILE'})
_NAME_BAD = re.compile(r'[^A-Za-z0-9_.+-]')
_JOB_ID = re.compile(r'^\d+(?:\[\d*\])?(?:\.[A-Za-z0-9_.-]+)?$')
# besides psij.executors.batch.commands.COMMON_TRANSIENT_ERRORS
_TRANSIENT = re.compile(r'premature end|refused|errno=15010', re.IGNORECASE)
_ALREADY_DONE = ('Job has finished', 'Unknown Job Id', 'Request invalid for state of job',
                 'invalid state for job')
# PBS errors (exit code = error number & 0xff) that mean the request itself is wrong
_INVALID_REQUEST = {
    166: 'Illegal attribute or resource value',
    170: 'Unknown queue',
    187: 'Unknown resource',
    188: 'Job violates queue and/or server resource limits',
}


def pbs_job_name(name: str, limit: int = 200) -> str:
    """
    The job name passed to PBS (``-N``): characters other than letters, digits and ``_.+-``
    become ``_``; it starts with a letter or digit and is never empty.
    """
    clean = _NAME_BAD.sub('_', name)[:limit].lstrip('_.+-')
    return clean or 'psij'


_RESERVATION_QUEUE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]*')
# the queue of a reservation: PBS names it after the reservation (R123 for R123.server) but a
# site may name reservations otherwise (a plain name, a hex token); any safe word will do


def pbs_value(field: str, value: object) -> str:
    """
    A value for a ``#PBS`` line: what :func:`~psij.executors.batch.script_writer.directive_value`
    accepts, without blanks (qsub splits directive lines into words).

    :raises InvalidJobException: naming `field`.
    """
    text = directive_value(field, value)
    if re.search(r'\s', text):
        raise InvalidJobException('%s=%r: a blank cannot be passed to PBS in a directive (it '
                                  'would start another qsub option)' % (field, text))
    return text


class PBSExecutorConfig(BatchSchedulerExecutorConfig):
    """
    Configuration of the PBS executors: that of every batch-scheduler executor (polling
    intervals, work directory, command directory and time-out, ...), and:
    """

    def __init__(self, *args: Any, place: Optional[str] = None,
                 ids_per_qstat: Optional[int] = None, **kwargs: Any) -> None:
        """
        :param place: the ``place`` arrangement for jobs on several nodes: ``scatter`` (one
            chunk per host, the default) or ``vscatter`` (one chunk per vnode, for sites whose
            "nodes" are vnodes of fewer hosts); default: the ``PSIJ_PBS_PLACE`` environment
            variable, else ``scatter``.
        :param ids_per_qstat: the most job ids passed to one ``qstat`` call (the same as
            ``ids_per_status_command``).
        Other parameters: see :class:`~psij.executors.batch.BatchSchedulerExecutorConfig`.
        """
        super().__init__(*args, **kwargs)
        self.place = place or os.environ.get('PSIJ_PBS_PLACE') or 'scatter'
        if self.place not in ('scatter', 'vscatter', 'pack', 'free'):
            raise ValueError('place must be scatter, vscatter, pack or free, not %r'
                             % self.place)
        if ids_per_qstat is not None:
            self.ids_per_status_command = max(1, int(ids_per_qstat))

    @property
    def ids_per_qstat(self) -> int:
        """The most job ids passed to one ``qstat`` call."""
        return self.ids_per_status_command

    @ids_per_qstat.setter
    def ids_per_qstat(self, value: int) -> None:
        self.ids_per_status_command = max(1, int(value))


class PbsExecutorBase(BatchSchedulerExecutor):
    """
    What the PBS Pro (``pbs``) and Torque (``pbs_classic``) executors share: the script,
    names, values and custom attributes, ``qsub``/``qdel``/``qselect``, and the check that the
    commands are PBS's. Subclasses give the resource request and the status query.
    """

    native_id_pattern = _JOB_ID
    """``12``, ``12.server``, an array ``12[].server`` or its element ``12[7].server``."""
    native_id_example = '12.server or 12[7].server'

    job_id_variable = 'PBS_JOBID'

    honoured_fields = SCHEDULER_FIELDS

    scheduler_isolates_environment = True
    """Without ``inherit_environment`` the scheduler gives the job none of the submitter's
    environment (see the module documentation)."""
    """Every scheduler-dependent field reaches the scheduler (see the module documentation)."""
    """PBS's variable holding the job id inside the job."""

    transient_errors = _TRANSIENT
    """PBS's phrases for an unreachable server."""

    command_check = ('qstat', '--version')
    """OpenPBS, Torque and Grid Engine each install a ``qstat``: `command_problem` tells."""

    config_class = PBSExecutorConfig

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """The end of `job` (see the base); a job with a ``pbs.cput`` limit whose process
        was SIGKILLed (the mom's ``RLIMIT_CPU``) exceeded it."""
        if job.spec is not None and (status is None or (status.state is JobState.FAILED
                                                        and not status.message)):
            cput = next((duration_seconds(v) for k, v, _ in self.custom_attribute_items(job)
                         if k == 'cput'), None)
            status = cpu_limit_kill(exit_code, cput, 'PBS') or status
        super().report_final(job, exit_code, status)

    @property
    def _pbs_config(self) -> PBSExecutorConfig:
        assert isinstance(self.config, PBSExecutorConfig)
        return self.config

    # -- flavour-specific ------------------------------------------------------------------------

    def resource_directives(self, res: ResourceSpecV1) -> List[str]:
        """The ``#PBS`` lines requesting the job's resources."""
        raise NotImplementedError

    def command_problem(self, path: str, output: str) -> Optional[str]:
        """Why the ``qstat`` at `path`, whose ``--version`` printed `output`, is not this
        flavour's."""
        raise NotImplementedError

    # -- the submit script -----------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The ``#PBS`` lines for `job` (see the module documentation)."""
        spec = job.spec
        assert spec is not None
        res = spec.resources if spec.resources is not None else ResourceSpecV1()
        if not isinstance(res, ResourceSpecV1):
            raise InvalidJobException('Only ResourceSpecV1 resources are supported')
        attrs = spec.attributes
        lines = ['#PBS -N %s' % pbs_job_name(spec.name or job.id),
                 '#PBS -j oe', '#PBS -o /dev/null']
        lines.extend(self.resource_directives(res))
        if attrs.duration is not None:
            lines.append('#PBS -l walltime=%s' % self._format_duration(attrs.duration))
        queue = None
        if attrs.queue_name is not None:
            queue = pbs_value('JobAttributes.queue_name', attrs.queue_name)
        if attrs.reservation_id is not None:
            resv = pbs_value('JobAttributes.reservation_id', attrs.reservation_id).split('.')[0]
            if not _RESERVATION_QUEUE.fullmatch(resv):
                raise InvalidJobException(
                    'JobAttributes.reservation_id=%r: not a PBS reservation id (its queue, the '
                    'part before the first ".", must be letters, digits, "_" and "-", not '
                    'starting with "-", e.g. R123.server or maint_window)' % attrs.reservation_id)
            if queue is not None and queue != resv:
                raise InvalidJobException(
                    'JobAttributes.reservation_id=%r: PBS runs a reservation\'s jobs in the '
                    'reservation\'s queue %r, which conflicts with queue_name=%r'
                    % (attrs.reservation_id, resv, queue))
            queue = resv
        if queue is not None:
            lines.append('#PBS -q %s' % queue)
        if attrs.account is not None:
            lines.append('#PBS -A %s' % pbs_value('JobAttributes.account', attrs.account))
        for key, orig, field in self.custom_attribute_items(job):
            if orig is False:
                continue
            if len(key) == 1:
                if orig is True:
                    lines.append('#PBS -%s' % key)
                else:
                    lines.append('#PBS -%s %s' % (key, pbs_value(field, orig)))
            else:
                lines.append('#PBS -l %s=%s' % (key, pbs_value(field, orig)))
        return lines

    custom_attribute_prefixes: tuple[str, ...] = ('pbs',)
    """``pbs.*`` custom attributes are for every PBS flavour."""

    def _custom_attributes(self, job: Job) -> Dict[str, str]:
        return {k: pbs_value(f, v) for k, v, f in self.custom_attribute_items(job)
                if not isinstance(v, bool)}

    def script_setup_commands(self, job: Job) -> List[str]:
        """
        The submitting process's environment when the job inherits it, and, without a job
        directory, a change to the directory it was submitted from (PBS starts jobs in
        ``$HOME``).

        The environment is written into the script rather than asked of PBS with ``-V``: the
        OpenPBS 23.06 server passes none of it with ``-V`` (only ``PBS_O_*``), and a script
        carries it the same way on every PBS.
        """
        spec = job.spec
        assert spec is not None
        lines = []
        if spec.inherit_environment:
            for name, value in sorted(os.environ.items()):
                if _ENV_NAME.fullmatch(name) and name not in _JOB_OWN_VARIABLES and \
                        not name.startswith('PBS_'):
                    lines.append('export %s=%s' % (name, quote(value)))
        if spec.directory is None:
            lines.append('if [ -n "${PBS_O_WORKDIR:-}" ]; then cd -- "$PBS_O_WORKDIR" || '
                         'echo "psij: cannot change to the submit directory $PBS_O_WORKDIR; '
                         'running in $PWD"; fi')
        return lines

    def nodefile_commands(self, job: Job) -> List[str]:
        """``$PSIJ_NODEFILE`` is a copy of ``$PBS_NODEFILE`` (one line per MPI rank slot)."""
        return ['if [ -r "${PBS_NODEFILE:-}" ]; then cat -- "$PBS_NODEFILE" >"$PSIJ_NODEFILE"; '
                'else hostname >"$PSIJ_NODEFILE"; fi']

    # -- submit ----------------------------------------------------------------------------------

    def is_invalid_request(self, exit_code: int, message: str) -> bool:
        """PBS errors meaning the request can never be accepted (exit code = error & 0xff)."""
        return exit_code in _INVALID_REQUEST

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``qsub <script>``."""
        return ['qsub', str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """
        The id qsub printed (``12.server``, ``5[].server``).

        :raises SubmitException: if the output is not a PBS job id (another scheduler's qsub).
        """
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if lines and _JOB_ID.match(lines[-1]):
            return lines[-1]
        raise SubmitException('%s printed %r, which is not a PBS job id: is it another '
                              'scheduler\'s qsub? Set PSIJ_PBS_COMMAND_DIR to the directory '
                              'of the PBS commands' % (self.command_path('qsub'), out.strip()))

    # -- cancel and list -------------------------------------------------------------------------

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``qdel <id>``."""
        return ['qdel', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        :raises InvalidJobStateError: if the job already ended, is ending (state E) or is
            unknown to the server.
        :raises SubmitException: otherwise (``transient`` if the server cannot be reached).
        """
        if exit_code in (HISTORY_EXIT, UNKNOWN_JOB_EXIT, 168) or \
                any(m in out for m in _ALREADY_DONE):
            raise InvalidJobStateError(out)
        raise SubmitException('qdel failed (exit code %d): %s' % (exit_code, out),
                              transient=self.is_transient_error(out))

    def get_list_command(self) -> List[str]:
        """``qselect -u <user>``: the full ids of the user's jobs that have not ended."""
        return ['qselect', '-u', getpass.getuser()]

    def parse_list_output(self, out: str) -> List[str]:
        """One id per line."""
        return [line.strip() for line in out.splitlines() if _JOB_ID.match(line.strip())]

    # -- status ----------------------------------------------------------------------------------

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """Nothing beyond qstat's history: a job it no longer knows has left no record."""
        return {}


_LIMITS = {PBS_WALLTIME_EXCEEDED: 'walltime', PBS_CPU_TIME_EXCEEDED: 'cpu_time'}
_CPU_LIMIT_KILLS = (256 + 9, 256 + 24)  # SIGKILL, SIGXCPU


def pbs_to_job_status(job: PbsJob, scheduler: str = 'PBS') -> JobStatus:
    """
    The PSI/J status for what qstat says about a job (see the module documentation).

    A plain non-zero exit (1-255) has no message, so that the executor reports the exit code
    with the tail of the job's output instead; a walltime or CPU-time kill has no exit code
    (see :func:`psij.executors.batch.exit_codes.limit_exceeded`): ``Exit_status`` -29 or -28,
    or a job with a ``cput`` limit that was SIGKILLed (or SIGXCPU) without a ``qdel``.
    """
    metadata: Dict[str, Any] = {'pbs_state': job.state}
    if job.substate is not None:
        metadata['pbs_substate'] = job.substate
    if job.comment:
        metadata['pbs_comment'] = job.comment
    if not job.final:
        if job.state in QUEUED_STATES:
            return JobStatus(JobState.QUEUED, message=job.comment or None, metadata=metadata)
        return JobStatus(JobState.ACTIVE, metadata=metadata)
    code = exit_code_of(job.exit_status)
    if job.deleted:
        msg = 'The job was deleted (qdel)'
        if job.comment:
            msg += ': %s' % job.comment
        return JobStatus(JobState.CANCELED, message=msg, exit_code=code, metadata=metadata)
    if job.exit_status is None:
        msg = '%s ended the job without running it' % scheduler
        if job.comment:
            msg += ': %s' % job.comment
        return JobStatus(JobState.FAILED, message=msg, metadata=metadata)
    if job.exit_status == 0:
        return JobStatus(JobState.COMPLETED, exit_code=0, metadata=metadata)
    if job.exit_status in _LIMITS:
        return limit_exceeded(_LIMITS[job.exit_status], job.walltime_limit
                              if job.exit_status == PBS_WALLTIME_EXCEEDED else
                              job.cput_limit, describe_pbs_failure(job.exit_status) or '',
                              metadata)
    if job.cput_limit is not None and job.exit_status in _CPU_LIMIT_KILLS:
        # the mom kills a job over its cput with SIGKILL, and qstat says no more than that
        # (Exit_status 265, comment "... and failed"): a job with a cput limit that SIGKILLs
        # itself reads the same
        return limit_exceeded('cpu_time', job.cput_limit, describe_pbs_failure(
            job.exit_status) or '', metadata)
    return JobStatus(JobState.FAILED, message=describe_pbs_failure(job.exit_status),
                     exit_code=code, metadata=metadata)


class PBSJobExecutor(PbsExecutorBase):
    """
    Runs jobs on PBS Professional / OpenPBS; see the module documentation for the mapping of
    the specification to ``qsub`` options and of PBS states to PSI/J states.

    Submission errors: a server that cannot be reached gives a :class:`~psij.SubmitException`
    with ``transient=True``; a request PBS rejects as malformed or impossible (unknown queue or
    resource, bad value, over the queue's limits) an :class:`~psij.InvalidJobException` with
    PBS's message; anything else a :class:`~psij.SubmitException` with PBS's message.
    """

    _NAME_ = 'pbs'
    custom_attribute_prefixes = ('pbs', 'pbspro', 'openpbs')

    array_scheme = pbs_arrays.PbsArrays()
    """`submit_many` submits ``qsub -J`` (see `psij_pbs.pbs_arrays`)."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used.
        :param config: a :class:`PBSExecutorConfig` (or any batch-scheduler configuration).
        """
        super().__init__(url=url, config=config)
        self._history = True
        """Whether ``qstat -x`` works here (job history); switched off if qstat refuses it."""

    def resource_directives(self, res: ResourceSpecV1) -> List[str]:
        """``-l select=N:ncpus=C:mpiprocs=P[:ngpus=G][:mem=Mkb]`` and ``-l place=...``."""
        nodes = res.computed_node_count
        ppn = res.computed_processes_per_node
        chunk = '%d:ncpus=%d:mpiprocs=%d' % (nodes, ppn * (res.cpu_cores_per_process or 1), ppn)
        if res.gpu_cores_per_process:
            chunk += ':ngpus=%d' % (ppn * res.gpu_cores_per_process)
        if res.memory is not None:
            chunk += ':mem=%dkb' % max(1, math.ceil(res.memory / 1024 / nodes))
        lines = ['#PBS -l select=%s' % chunk]
        place = []
        if nodes > 1:
            place.append(self._pbs_config.place)
        if res.exclusive_node_use:
            place.append('excl')
        if place:
            lines.append('#PBS -l place=%s' % ':'.join(place))
        return lines

    def command_problem(self, path: str, output: str) -> Optional[str]:
        """Not OpenPBS's unless ``qstat --version`` printed ``pbs_version``."""
        if 'pbs_version' in output:
            return None
        return ('%s is not the qstat of PBS Professional/OpenPBS (`qstat --version` printed %r; '
                'Grid Engine and Slurm\'s Torque wrappers also install a qstat). Set '
                'PSIJ_PBS_COMMAND_DIR (or the command_directory of the executor\'s config) to '
                'the directory of the PBS commands, e.g. /opt/pbs/bin'
                % (path, output.strip()[:200]))

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """``qstat -x -f -F json ID...`` (without ``-x`` where qstat refuses it; with ``-t``
        and the array's id for array subjobs)."""
        cmd = ['qstat', '-f', '-F', 'json']
        if self._history:
            cmd.insert(1, '-x')
        ids, arrays = pbs_arrays.status_ids(native_ids)
        if arrays:
            cmd.insert(1, '-t')  # array subjobs: through their array (see psij_pbs.pbs_arrays)
        return cmd + ids

    def parse_status_result(self, exit_code: int, stdout: str,
                            stderr: str) -> Dict[str, JobStatus]:
        """
        The jobs qstat printed. Exit codes 153 (some ids unknown) and 35 (some jobs finished,
        asked without ``-x``) still carry the known jobs on stdout.

        :raises RuntimeError: if qstat failed (the engine retries later) or printed something
            that is not PBS's JSON.
        """
        if exit_code not in (0, UNKNOWN_JOB_EXIT, HISTORY_EXIT):
            err = (stderr or stdout).strip()
            if self._history and re.search(r'invalid option|illegal option|unknown option|'
                                           r'usage', err, re.IGNORECASE):
                self._history = False
            raise RuntimeError('qstat failed (exit code %d): %s' % (exit_code, err))
        try:
            jobs = parse_qstat_json(stdout)
        except ValueError as ex:
            raise RuntimeError('%s (is %s PBS\'s qstat?)' % (ex, self.command_path('qstat'))) \
                from ex
        return {job_id: pbs_to_job_status(j) for job_id, j in jobs.items()}

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """psij-python's hook: `out` is qstat's stdout (see `parse_status_result`)."""
        return self.parse_status_result(exit_code, out, '')
