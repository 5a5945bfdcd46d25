"""
The ``sge`` executor (Grid Engine; alias ``gridengine``): jobs submitted with ``qsub``, followed
with one ``qstat -xml`` per polling cycle, ended with ``qdel``; the final state of a job gone
from ``qstat`` comes from the exit code it recorded, else from ``qacct -j``.

How a :class:`~psij.JobSpec` becomes ``#$`` directives
------------------------------------------------------

==========================================  ===============================================
field                                       directive / option
==========================================  ===============================================
``JobSpec.name`` (default: the job's id)    ``-N``: characters other than letters, digits
                                            and ``_.+-`` (Grid Engine refuses ``/:@\\*?``
                                            and blanks) become ``_``; a name starting with
                                            a digit is prefixed with ``psij-``
``JobSpec.directory``                       ``qsub -wd DIR`` (on the command line); a
                                            missing directory puts the job in error state
                                            (``Eqw``): FAILED with Grid Engine's reason. A
                                            path with characters other than printable ASCII
                                            (Grid Engine cuts it at a line break) gets
                                            ``-wd`` the work directory, and the script's
                                            ``cd`` takes the job there. Without a
                                            directory: ``-cwd`` (where it was submitted)
``JobSpec.inherit_environment``             the submitting process's variables exported by
                                            the script (not ``-V``: values with line breaks
                                            survive); otherwise the job gets only what Grid
                                            Engine sets
``JobSpec.environment``                     ``export`` lines in the script (byte-exact)
stdin / stdout / stderr                     redirections in the script; Grid Engine's own
                                            files go to ``/dev/null`` (``-j y -o
                                            /dev/null``) unless ``sge.o``/``sge.e``/
                                            ``sge.j`` say otherwise
slots (``ResourceSpecV1``)                  process count x ``cpu_cores_per_process``; more
                                            than one: ``-pe NAME SLOTS``. NAME: the
                                            ``sge.pe`` custom attribute, else
                                            `SGEExecutorConfig.parallel_environment`
                                            (``PSIJ_SGE_PE``), else ``smp`` (a
                                            ``$pe_slots`` PE) for ``node_count=1`` and
                                            ``mpi`` (``$round_robin``/``$fill_up``)
                                            otherwise (both names configurable)
``memory`` (bytes, for the whole job)       ``-l h_vmem=<bytes per slot>`` (rounded up);
                                            the resources are configurable
                                            (``PSIJ_SGE_MEMORY_RESOURCES=mem_free`` or
                                            ``h_vmem,mem_free``)
``gpu_cores_per_process`` (if > 0)          ``-l gpu=<per slot>`` (the resource name is
                                            configurable: ``gpu_resource``)
``exclusive_node_use``                      ``-l exclusive=true``
``JobAttributes.duration``                  ``-l h_rt=H:MM:SS`` (rounded up)
``queue_name`` / ``account``                ``-q`` / ``-A``
``reservation_id``                          ``-ar ID`` (an advance reservation)
``custom_attributes['sge.X']``              ``-X VALUE`` (``True``: ``-X``; ``False``: left
                                            out), e.g. ``sge.P`` (project), ``sge.l``
                                            (``arch=lx-amd64``), ``sge.hold_jid``
``custom_attributes['sge.pe']``             the PE's name (the executor gives the slots)
==========================================  ===============================================

Values are validated: a line break, quote, backslash, ``$``, backtick, blank or leading ``-``
raises :class:`~psij.InvalidJobException` naming the field (a blank would start another qsub
option in a ``#$`` line).

Status
------
One ``qstat -xml -u USER`` per polling cycle for all active Grid Engine jobs of the process.
``qw``/``hqw``/``t`` are QUEUED, ``r`` (and suspended states) ACTIVE; a job in error state
(``Eqw``) is FAILED with the reason ``qstat -j`` gives, and deleted (it would otherwise wait in
the queue for an administrator forever). Finished jobs vanish from ``qstat`` at once: the exit
code the job script recorded in the work directory decides first (checked every
``file_check_interval``, without any command); a job without one (killed, deleted) is looked up
with ``qacct`` in the same cycle (``qacct -j ID`` for one job, one ``qacct -o USER -b TIME -j
'*'`` for several). A job is in neither ``qstat`` nor ``qacct`` for a while after it ends (up to
the master's accounting ``flush_time``): it keeps its state and is asked about again every
second, for up to `SGEExecutorConfig.accounting_delay` seconds, before it may be declared lost.
While a job is being deleted, or a running job nears its ``h_rt``, the next ``qstat`` also
comes sooner than the polling interval. ``failed 37`` is FAILED "walltime exceeded" (``h_rt``);
``failed 100`` with a kill is CANCELED if this process sent the ``qdel`` or saw the job being
deleted (``d``), else FAILED with the signal (a job that killed its own process group has the
same record as a deleted one); a job deleted before it started has no
accounting record and is CANCELED (it was canceled here, seen in a ``d`` state, or is listed by
``qstat -s z`` without having started).

The commands come from `SGEExecutorConfig.command_directory`, else the ``PSIJ_SGE_COMMAND_DIR``
environment variable, else ``PATH``: ``$SGE_ROOT/bin/<arch>`` (with ``SGE_ROOT`` set; fastest)
or Debian's ``/usr/bin`` wrappers (which set ``SGE_ROOT`` but cost ~0.1-0.3 s per command).
Before its first job an executor checks with ``qstat -help`` that this ``qstat`` is Grid
Engine's (OpenPBS and Slurm's Torque wrappers also install a ``qstat``) and refuses to submit,
naming the command it found, if not.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Set, Tuple

from psij._log import get_logger
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch import job_files
from psij.executors.batch.batch_scheduler_executor import (
    SCHEDULER_FIELDS,
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij.executors.batch.commands import run_command
from psij.executors.batch.exit_codes import cpu_limit_kill
from psij.executors.batch.script_writer import directive_value, quote
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

from psij_sge import job_book
from psij_sge.sge_status import (
    AcctRecord,
    acct_to_job_status,
    category_limits,
    is_grid_engine_banner,
    parse_error_reasons,
    parse_qacct,
    parse_qstat_xml,
    qstat_to_job_status,
)

__all__ = ['SGEExecutorConfig', 'SGEJobExecutor', 'sge_job_name', 'sge_value']

logger = get_logger(__name__)

_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
# variables Grid Engine (or the shell) sets for the job itself: never copied from the submitter
_JOB_OWN_VARIABLES = frozenset({
    'ARC', 'ENVIRONMENT', 'HOSTNAME', 'HOST', 'JOB_ID', 'JOB_NAME', 'JOB_SCRIPT', 'NHOSTS',
    'NQUEUES', 'NSLOTS', 'PE', 'PE_HOSTFILE', 'QUEUE', 'REQUEST', 'RESTARTED', 'TMPDIR', 'TMP',
    'PWD', 'OLDPWD', 'SHLVL', '_', 'PSIJ_NODEFILE', 'SGE_TASK_ID', 'SGE_TASK_FIRST',
    'SGE_TASK_LAST', 'SGE_TASK_STEPSIZE', 'SGE_JOB_SPOOL_DIR', 'SGE_STDOUT_PATH',
    'SGE_STDERR_PATH', 'SGE_STDIN_PATH', 'SGE_O_HOME', 'SGE_O_HOST', 'SGE_O_LOGNAME',
    'SGE_O_MAIL', 'SGE_O_PATH', 'SGE_O_SHELL', 'SGE_O_WORKDIR', 'SGE_CWD_PATH', 'SGE_BINARY_PATH',
    'SGE_ACCOUNT'})
_NAME_BAD = re.compile(r'[^A-Za-z0-9_.+-]')
_JOB_ID = re.compile(r'^(\d+)(?:\.\d+-\d+:\d+)?$')
_NO_CHDIR = "can't chdir"
"""Grid Engine's error reason for a job whose directory (``-wd``) cannot be entered."""
MISSING_DIRECTORY_EXIT_CODE = 1
"""The exit code of such a job, as every executor reports a missing job directory (see
docs/one-event-one-answer.md)."""

_JOB_ID_SENTENCE = re.compile(r'^Your job(?:-array)? (\d+)[ .]')
_TRANSIENT = re.compile(r'unable to contact|unable to send|commlib error|connection|timed? ?out|'
                        r'try again|temporar|failed receiving gdi request|not responding|busy|'
                        r'can\'t unpack|no route', re.IGNORECASE)
# the request itself is wrong: no retry can help
_INVALID = re.compile(r'rejected|does not exist|unknown (?:queue|resource|option)|'
                      r'invalid option|unknown attribute|not a valid|not allowed|'
                      r'can not be requested|'
                      r'cannot run in any queue|ERROR! invalid', re.IGNORECASE)
_NOT_FOUND = re.compile(r'not found|does not exist|no jobs? ', re.IGNORECASE)
ACCT_RETRIES = 4
"""``qacct`` queries for a job gone from ``qstat`` before it is declared to have no record."""
ACCT_RETRY_DELAY = 0.5
"""Seconds between two of them (the record is written 0.1-1 s after the job leaves qstat)."""
NEVER_RAN_GRACE = 2.0
"""Seconds a job that never ran may miss its accounting record before the zombie list
(``qstat -s z``) is taken as proof that it was deleted while it waited."""
FOLLOW_UP_POLL_DELAY = 1.0
"""Seconds to the next ``qstat`` while a job is being deleted or awaits its accounting record
(instead of the polling interval, 30 s by default)."""


_PRINTABLE_ASCII = re.compile(r'[\x20-\x7e]+')


def sge_job_name(name: str, limit: int = 200) -> str:
    """
    The job name passed to Grid Engine (``-N``): characters other than letters, digits and
    ``_.+-`` become ``_`` (Grid Engine refuses ``/:@\\*?`` and a blank ends the option); a name
    that would start with a digit (refused too) is prefixed with ``psij-``; never empty.
    """
    clean = _NAME_BAD.sub('_', name)[:limit]
    if not clean:
        return 'psij'
    if clean[0].isdigit() or clean[0] in '.+-':
        clean = 'psij-' + clean
    return clean


def sge_value(field: str, value: object) -> str:
    """
    A value for a ``#$`` line: what :func:`~psij.executors.batch.script_writer.directive_value`
    accepts, without blanks or single quotes (qsub splits directive lines into words and
    honours quotes).

    :raises InvalidJobException: naming `field`.
    """
    text = directive_value(field, value)
    if "'" in text:
        raise InvalidJobException('%s=%r: a quote cannot be passed to Grid Engine in a '
                                  'directive safely' % (field, text))
    if re.search(r'\s', text):
        raise InvalidJobException('%s=%r: a blank cannot be passed to Grid Engine in a '
                                  'directive (it would start another qsub option)'
                                  % (field, text))
    return text


def _env_list(name: str) -> Optional[Tuple[str, ...]]:
    value = os.environ.get(name)
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(',') if v.strip())


class SGEExecutorConfig(BatchSchedulerExecutorConfig):
    """
    Configuration of the Grid Engine executor: that of every batch-scheduler executor (polling
    intervals, work directory, command directory and time-out, ...), and:
    """

    def __init__(self, *args: Any, parallel_environment: Optional[str] = None,
                 smp_parallel_environment: Optional[str] = None,
                 mpi_parallel_environment: Optional[str] = None,
                 memory_resources: Optional[Collection[str]] = None,
                 gpu_resource: str = 'gpu', delete_failed_jobs: bool = True,
                 accounting_delay: float = 60.0, **kwargs: Any) -> None:
        """
        :param parallel_environment: the parallel environment of every job with more than one
            slot; default: the ``PSIJ_SGE_PE`` environment variable, else `None` (the two
            below, by the shape of the job).
        :param smp_parallel_environment: the PE (``allocation_rule $pe_slots``: all slots on
            one host) of jobs with ``node_count=1``; default ``PSIJ_SGE_SMP_PE``, else ``smp``.
        :param mpi_parallel_environment: the PE (``$round_robin`` or ``$fill_up``: slots on
            any hosts) of other jobs with several slots; default ``PSIJ_SGE_MPI_PE``, else
            ``mpi``.
        :param memory_resources: the resources that carry ``ResourceSpecV1.memory`` (per
            slot): ``h_vmem`` (a hard limit), ``mem_free`` (a scheduling hint), both, or none;
            default ``PSIJ_SGE_MEMORY_RESOURCES`` (comma-separated), else ``h_vmem``.
        :param gpu_resource: the consumable that counts GPUs (per slot), ``gpu`` by default.
        :param delete_failed_jobs: delete (``qdel``) a job Grid Engine put in error state
            (``Eqw``) once it is reported FAILED; it would otherwise wait in the queue.
        :param accounting_delay: seconds a job that left ``qstat`` without recording an exit
            code may wait for its ``qacct`` record before it is declared lost (the master
            writes the accounting file every ``flush_time``: 15 s by default, 1 s in CI).
        Other parameters: see :class:`~psij.executors.batch.BatchSchedulerExecutorConfig`.
        """
        super().__init__(*args, **kwargs)
        self.parallel_environment = parallel_environment or os.environ.get('PSIJ_SGE_PE') \
            or None
        self.smp_parallel_environment = smp_parallel_environment or \
            os.environ.get('PSIJ_SGE_SMP_PE') or 'smp'
        self.mpi_parallel_environment = mpi_parallel_environment or \
            os.environ.get('PSIJ_SGE_MPI_PE') or 'mpi'
        if memory_resources is None:
            memory_resources = _env_list('PSIJ_SGE_MEMORY_RESOURCES') or ('h_vmem',)
        self.memory_resources = tuple(memory_resources)
        for name in (self.parallel_environment, self.smp_parallel_environment,
                     self.mpi_parallel_environment, gpu_resource, *self.memory_resources):
            if name is not None and not re.fullmatch(r'[A-Za-z0-9_.*-]+', name):
                raise ValueError('%r is not a Grid Engine PE or resource name' % name)
        self.gpu_resource = gpu_resource
        self.delete_failed_jobs = delete_failed_jobs
        self.accounting_delay = float(accounting_delay)


class SGEJobExecutor(BatchSchedulerExecutor):
    """
    Runs jobs on Grid Engine; see the module documentation for the mapping of the specification
    to ``qsub`` options and of Grid Engine's states to PSI/J states.

    Submission errors: a master that cannot be reached gives a :class:`~psij.SubmitException`
    with ``transient=True``; a request Grid Engine rejects (unknown queue, PE or resource, bad
    value) an :class:`~psij.InvalidJobException` with its message; anything else a
    :class:`~psij.SubmitException` with Grid Engine's message.
    """

    native_id_pattern = re.compile(r'\d+(?:\.\d+)?')
    """The number ``qsub -terse`` prints, or ``N.T``: task T of array job N (a bare array
    job number stands for the whole array: see `psij_sge.sge_status.acct_to_job_status`)."""
    native_id_example = '12 or 12.3'

    _NAME_ = 'sge'
    config_class = SGEExecutorConfig
    custom_attribute_prefixes = ('sge', 'gridengine')

    honoured_fields = SCHEDULER_FIELDS
    """Every scheduler-dependent field reaches Grid Engine (see the module documentation;
    ``node_count`` and ``processes_per_node`` through the choice of PE: exact placement needs
    a PE whose ``allocation_rule`` is the processes per node, named with ``sge.pe``)."""

    scheduler_isolates_environment = True
    """Without ``-V`` Grid Engine starts jobs with its own variables only; the submitter's
    are exported by the script when the job inherits them."""

    transient_errors = _TRANSIENT
    """Grid Engine's phrases for a master that cannot be reached or is busy."""

    job_id_variable = 'JOB_ID'
    """Grid Engine's variable holding the job id inside the job."""

    command_check = ('qstat', '-help')
    """OpenPBS, Torque and Grid Engine each install a ``qstat``: `command_problem` tells."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used.
        :param config: a :class:`SGEExecutorConfig` (or any batch-scheduler configuration).
        """
        super().__init__(url=url, config=config)
        self._book = job_book.shared
        """What this process knows about its Grid Engine jobs (shared by all instances)."""

    @property
    def _sge_config(self) -> SGEExecutorConfig:
        assert isinstance(self.config, SGEExecutorConfig)
        return self.config

    # -- the submit script -----------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The ``#$`` lines for `job` (see the module documentation)."""
        spec = job.spec
        assert spec is not None
        res = spec.resources if spec.resources is not None else ResourceSpecV1()
        if not isinstance(res, ResourceSpecV1):
            raise InvalidJobException('Only ResourceSpecV1 resources are supported')
        attrs = spec.attributes
        custom = self.custom_attribute_items(job)
        options = {k for k, _, _ in custom}
        lines = ['#$ -N %s' % sge_job_name(spec.name or job.id), '#$ -S /bin/bash']
        if not options & {'o', 'e', 'j'}:
            lines += ['#$ -j y', '#$ -o /dev/null']
        if spec.directory is None:
            lines.append('#$ -cwd')
        pe_name = None
        for key, value, field in custom:
            if key == 'pe':
                pe_name = sge_value(field, value)
        lines.extend(self.resource_directives(res, pe_name))
        if attrs.duration is not None:
            lines.append('#$ -l h_rt=%s' % self._format_duration(attrs.duration))
        if attrs.queue_name is not None:
            lines.append('#$ -q %s' % sge_value('JobAttributes.queue_name', attrs.queue_name))
        if attrs.account is not None:
            lines.append('#$ -A %s' % sge_value('JobAttributes.account', attrs.account))
        if attrs.reservation_id is not None:
            lines.append('#$ -ar %s' % sge_value('JobAttributes.reservation_id',
                                                 attrs.reservation_id))
        for key, value, field in custom:
            if key == 'pe' or value is False:
                continue
            if value is True:
                lines.append('#$ -%s' % key)
            else:
                lines.append('#$ -%s %s' % (key, sge_value(field, value)))
        return lines

    def resource_directives(self, res: ResourceSpecV1, pe_name: Optional[str] = None) \
            -> List[str]:
        """The ``#$`` lines requesting slots, memory, GPUs and exclusive use."""
        cfg = self._sge_config
        slots = self._slots(res)
        lines = []
        if slots > 1:
            if pe_name is None:
                pe_name = cfg.parallel_environment
            if pe_name is None:
                pe_name = cfg.smp_parallel_environment if res.node_count == 1 \
                    else cfg.mpi_parallel_environment
            lines.append('#$ -pe %s %d' % (pe_name, slots))
        requests = []
        if res.memory is not None:
            per_slot = max(1, math.ceil(res.memory / slots))
            requests += ['%s=%d' % (r, per_slot) for r in cfg.memory_resources]
        if res.gpu_cores_per_process:
            per_slot_gpus = math.ceil(res.gpu_cores_per_process / (res.cpu_cores_per_process or 1))
            requests.append('%s=%d' % (cfg.gpu_resource, per_slot_gpus))
        if res.exclusive_node_use:
            requests.append('exclusive=true')
        if requests:
            lines.append('#$ -l %s' % ','.join(requests))
        return lines

    @staticmethod
    def _slots(res: ResourceSpecV1) -> int:
        return max(1, res.computed_process_count * (res.cpu_cores_per_process or 1))

    def _custom_attributes(self, job: Job) -> Dict[str, str]:
        return {k: sge_value(f, v) for k, v, f in self.custom_attribute_items(job)
                if not isinstance(v, bool)}

    def script_setup_commands(self, job: Job) -> List[str]:
        """
        The submitting process's environment when the job inherits it, written into the script
        rather than asked of Grid Engine with ``-V`` (values with line breaks, which ``-V``
        mangles, survive; Grid Engine's own job variables are not overwritten).
        """
        spec = job.spec
        assert spec is not None
        if not spec.inherit_environment:
            return []
        return list(self._environment_exports())

    _env_exports: Tuple[Dict[str, str], Tuple[str, ...]] = ({}, ())
    """The last environment exported and its ``export`` lines (quoting ~100 variables per
    submit costs about a millisecond; the environment seldom changes between submits)."""

    def _environment_exports(self) -> Tuple[str, ...]:
        env = dict(os.environ)
        cached_env, lines = SGEJobExecutor._env_exports
        if env != cached_env or not lines:
            lines = tuple('export %s=%s' % (name, quote(value))
                          for name, value in sorted(env.items())
                          if _ENV_NAME.fullmatch(name) and name not in _JOB_OWN_VARIABLES)
            SGEJobExecutor._env_exports = (env, lines)
        return lines

    def nodefile_commands(self, job: Job) -> List[str]:
        """
        ``$PSIJ_NODEFILE`` from ``$PE_HOSTFILE`` (lines ``host slots queue range``): one line
        per process, i.e. per ``cpu_cores_per_process`` slots of a host; the job's host alone
        for a job without a PE.
        """
        spec = job.spec
        assert spec is not None
        res = spec.resources if isinstance(spec.resources, ResourceSpecV1) else None
        cores = (res.cpu_cores_per_process if res is not None else None) or 1
        return ['if [ -r "${PE_HOSTFILE:-}" ]; then awk \'{n = int($2 / %d); if (n < 1) n = 1; '
                'for (i = 0; i < n; i++) print $1}\' "$PE_HOSTFILE" >"$PSIJ_NODEFILE"; '
                'else hostname >"$PSIJ_NODEFILE"; fi' % cores]

    # -- submit ----------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """
        Checks (once per ``qstat``) that the commands are Grid Engine's, then submits.

        :raises SubmitException: if the ``qstat`` found is another scheduler's, or Grid Engine
            refuses the job for a reason other than the request itself (``transient`` when the
            master cannot be reached).
        :raises InvalidJobException: for a request Grid Engine can never accept (unknown
            queue, PE or resource, malformed value) or that cannot be written safely.
        """
        self.check_commands()  # before the try: its refusal is no refusal of the request
        try:
            super().submit(job)
        except SubmitException as ex:
            if _TRANSIENT.search(ex.message):
                ex.transient = True
            elif _INVALID.search(ex.message):
                raise InvalidJobException(ex.message, ex) from ex
            raise
        if job.native_id is not None:
            duration = job.spec.attributes.duration if job.spec is not None else None
            self._book.submitted(job.native_id, time.time(),
                                 None if duration is None else duration.total_seconds())

    def command_problem(self, path: str, output: str) -> Optional[str]:
        """Not Grid Engine's unless ``qstat -help`` printed its banner."""
        return None if is_grid_engine_banner(output) else (
            '%s is not Grid Engine\'s qstat (`qstat -help` printed %r; OpenPBS and Slurm\'s '
            'Torque wrappers also install a qstat). Set PSIJ_SGE_COMMAND_DIR (or the '
            'command_directory of the executor\'s config) to the directory of the Grid '
            'Engine commands, e.g. /usr/bin or $SGE_ROOT/bin/lx-amd64'
            % (path, output.strip()[:200]))

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``qsub -terse [-wd DIR] <script>`` (the directory as an argument: any path works)."""
        cmd = ['qsub', '-terse']
        assert job.spec is not None
        if job.spec.directory is not None:
            wd = str(job.spec.directory)
            cmd += ['-wd', wd if _PRINTABLE_ASCII.fullmatch(wd) else str(self.work_directory)]
        return cmd + [str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """
        The id ``qsub -terse`` printed (``12``; ``12.1-3:1`` for an array: ``12``), or the
        one in qsub's sentence without ``-terse`` (``Your job 12 ("name") has been submitted``).

        :raises SubmitException: if the output is not a Grid Engine job id (another
            scheduler's qsub).
        """
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        m = (_JOB_ID.match(lines[-1]) or _JOB_ID_SENTENCE.match(lines[-1])) if lines else None
        if m:
            return m.group(1)
        raise SubmitException('%s printed %r, which is not a Grid Engine job id: is it another '
                              'scheduler\'s qsub? Set PSIJ_SGE_COMMAND_DIR to the directory of '
                              'the Grid Engine commands' % (self.command_path('qsub'),
                                                            out.strip()[:200]))

    # -- cancel and list -------------------------------------------------------------------------

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """The end of `job` (see the base); its record in the job book goes with it. A job
        with an ``h_cpu`` limit (``sge.l``) whose process was SIGKILLed (``RLIMIT_CPU``)
        exceeded it."""
        if job.spec is not None and (status is None or (status.state is JobState.FAILED
                                                        and not status.message)):
            h_cpu = next((category_limits('-l %s' % v).get('h_cpu')
                          for k, v, _ in self.custom_attribute_items(job) if k == 'l'), None)
            status = cpu_limit_kill(exit_code, h_cpu, 'Grid Engine') or status
        super().report_final(job, exit_code, status)
        if job.native_id is not None:
            self._book.forget([job.native_id])

    def cancel(self, job: Job) -> None:
        """Deletes the job (``qdel``); one that already ended is left alone."""
        if job.native_id is not None and not job.status.state.final:
            self._book.canceled(job.native_id)
        super().cancel(job)

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``qdel <id>``."""
        return ['qdel', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        :raises InvalidJobStateError: if the job is unknown (it already ended).
        :raises SubmitException: otherwise (``transient`` if the master cannot be reached).
        """
        if 'does not exist' in out:
            raise InvalidJobStateError(out)
        raise SubmitException('qdel failed (exit code %d): %s' % (exit_code, out),
                              transient=bool(_TRANSIENT.search(out)))

    def get_list_command(self) -> List[str]:
        """``qstat -xml -u <user>``: the user's jobs that have not ended."""
        return ['qstat', '-xml', '-u', getpass.getuser()]

    def parse_list_output(self, out: str) -> List[str]:
        """The job numbers in ``qstat -xml``."""
        try:
            return [i for i in parse_qstat_xml(out) if '.' not in i]  # jobs, not tasks
        except ValueError as ex:
            raise SubmitException('%s (is %s Grid Engine\'s qstat?)'
                                  % (ex, self.command_path('qstat'))) from ex

    # -- status ----------------------------------------------------------------------------------

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """``qstat -xml -u <user>``: one command for all of the user's jobs (Grid Engine's
        ``qstat`` does not select jobs by id except in ``-j``'s detailed form)."""
        return ['qstat', '-xml', '-u', getpass.getuser()]

    def parse_status_result(self, exit_code: int, stdout: str,
                            stderr: str) -> Dict[str, JobStatus]:
        """
        The status of every job ``qstat -xml`` lists (error reasons are added by the caller).

        :raises RuntimeError: if qstat failed (the engine retries later) or printed something
            that is not Grid Engine's XML.
        """
        if exit_code != 0:
            raise RuntimeError('qstat failed (exit code %d): %s'
                               % (exit_code, (stderr or stdout).strip()[:500]))
        try:
            jobs = parse_qstat_xml(stdout)
        except ValueError as ex:
            raise RuntimeError('%s (is %s Grid Engine\'s qstat?)'
                               % (ex, self.command_path('qstat'))) from ex
        return {job_id: qstat_to_job_status(j) for job_id, j in jobs.items()}

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """psij-python's hook: `out` is qstat's stdout (see `parse_status_result`)."""
        return self.parse_status_result(exit_code, out, '')

    def _query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        """
        One ``qstat -xml`` for all of `native_ids`; then, only for jobs it no longer lists and
        that recorded no exit code, one (batched) ``qacct``: a job killed or deleted gets its
        final state in the same cycle. While a job is being deleted, or has left ``qstat``
        without an accounting record yet, the next cycle is asked for within a second.
        """
        wanted = set(native_ids)
        statuses = {k: v for k, v in super()._query_status(native_ids).items() if k in wanted}
        self._book.listed(statuses)
        errors = []
        soon = False
        for nid, st in statuses.items():
            sge_state = str((st.metadata or {}).get('sge_state', ''))
            if 'd' in sge_state:
                soon = True
                self._book.deleting(nid)
            if st.state is JobState.FAILED:
                errors.append(nid)
            elif st.state is JobState.QUEUED and 't' in sge_state and self._is_active(nid):
                # "transferring" lasts until execd confirms the start, which the job's own
                # .active file may precede
                statuses[nid] = JobStatus(JobState.ACTIVE, metadata=st.metadata)
        gone = [n for n in dict.fromkeys(native_ids)
                if n not in statuses and self._read_exit_code(n) is None]
        if gone:
            soon = self._resolve_gone(gone, statuses) or soon
        delay = self._time_to_next_limit(statuses)
        if soon:
            delay = min(delay, FOLLOW_UP_POLL_DELAY)
        if delay < self.config_poll_interval():
            self._engine.request_poll(delay)
        if errors:
            reasons = self._error_reasons(errors)
            for nid in errors:
                old = statuses[nid]
                msg = old.message or ''
                reason = reasons.get(nid) or ''
                if reason:
                    msg += ': %s' % reason
                # a job directory that cannot be entered: exit code 1, as on every executor
                code = MISSING_DIRECTORY_EXIT_CODE if _NO_CHDIR in reason else None
                statuses[nid] = JobStatus(JobState.FAILED, message=msg, exit_code=code,
                                          metadata=old.metadata)
                if self._sge_config.delete_failed_jobs:
                    self._delete_quietly(nid)
        return statuses

    def _time_to_next_limit(self, statuses: Dict[str, JobStatus]) -> float:
        """Seconds until a running job's time limit (h_rt) is reached, plus the time Grid
        Engine takes to kill it: the job then leaves qstat, and its end (FAILED "time limit")
        is reported by the next cycle rather than a full polling interval later."""
        now = time.time()
        delay = float('inf')
        for nid, st in statuses.items():
            if st.state is not JobState.ACTIVE:
                continue
            try:  # the job's .active file tells when it started, to the second
                self._book.started(nid, os.stat(self.work_directory / (
                    nid + job_files.ACTIVE_SUFFIX)).st_mtime)
            except OSError:
                self._book.started(nid, now)
            left = self._book.time_left(nid, now)
            if left is not None:
                delay = min(delay, max(0.0, left) + FOLLOW_UP_POLL_DELAY)
        return delay

    def _resolve_gone(self, gone: List[str], statuses: Dict[str, JobStatus]) -> bool:
        """Adds to `statuses` the final state of the `gone` jobs that have an accounting record
        or that were being deleted; True if some are still unknown (the record is not written
        yet). Those stay QUEUED in `statuses` (a status that never moves a job) for up to
        `SGEExecutorConfig.accounting_delay` seconds, so that the engine does not count them
        missing; after that, the engine's own rule (two polls, `get_final_status`) applies."""
        try:
            records = self._qacct(gone)
        except (OSError, subprocess.SubprocessError, RuntimeError) as ex:
            logger.warning('qacct failed (%s); will ask again', ex)
            records = {}
        now = time.time()
        never_ran = {n for n in gone if not self._is_active(n) and
                     not self._book.ever_started(n)}
        # finished without ever running nor leaving an accounting record (after a grace
        # period), and listed by qstat -s z: deleted by someone else while it waited
        suspects = [n for n in gone if n not in records and n in never_ran and
                    not self._book.was_deleted(n) and
                    self._book.gone_for(n, now) >= NEVER_RAN_GRACE]
        zombies = self._zombies() if suspects else set()
        unknown = False
        for nid in gone:
            if nid in records:
                statuses[nid] = acct_to_job_status(records[nid], self._book.was_deleted(nid))
            elif self._book.was_deleted(nid):
                statuses[nid] = JobStatus(JobState.CANCELED, message='The job was deleted '
                                          '(qdel)%s' % (' before it started' if nid in never_ran
                                                        else ''))
            elif nid in suspects and nid in zombies:
                statuses[nid] = JobStatus(JobState.CANCELED, message='The job was deleted '
                                          'before it started (it has no accounting record)')
            else:
                unknown = True
                # a job never seen here (attach) has no record to wait for: the caller decides
                if self._book.seen(nid) and \
                        self._book.gone_for(nid, now) < self._sge_config.accounting_delay:
                    statuses[nid] = JobStatus(JobState.QUEUED, metadata={
                        'sge_state': 'awaiting its accounting record'})
                continue
            self._book.forget([nid])
        return unknown

    def _error_reasons(self, native_ids: List[str]) -> Dict[str, str]:
        """``qstat -j ID,...``'s error reasons (remembered: a job's reason does not change)."""
        known = self._book.reasons(native_ids)
        todo = [n for n in native_ids if n not in known]
        if todo:
            try:
                res = run_command(self._resolve(['qstat', '-j', ','.join(todo)]),
                                  self._config.command_timeout)
                found = parse_error_reasons(res.stdout)
            except (OSError, subprocess.SubprocessError) as ex:
                logger.warning('qstat -j %s failed: %s', ','.join(todo), ex)
                found = {}
            self._book.add_reasons(found)
        return self._book.reasons(native_ids)

    def _delete_quietly(self, native_id: str) -> None:
        try:
            run_command(self._resolve(['qdel', native_id]), self._config.command_timeout)
        except (OSError, subprocess.SubprocessError) as ex:
            logger.warning('could not delete job %s in error state: %s', native_id, ex)

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """
        How jobs gone from ``qstat`` ended, from their accounting records (``qacct``), asked
        for all of them at once and retried while a record is not written yet. A job without a
        record that Grid Engine lists as finished (``qstat -s z``) and never started, or that
        was seen being deleted, was deleted before it started: CANCELED.

        :raises RuntimeError: if ``qacct`` cannot be run (the engine retries later).
        """
        ids = list(dict.fromkeys(native_ids))
        found: Dict[str, AcctRecord] = {}
        for attempt in range(ACCT_RETRIES):
            todo = [i for i in ids if i not in found]
            if attempt > 0:
                # a job canceled before it started never gets a record: no point waiting
                todo = [i for i in todo if not self._book.was_deleted(i)]
            if not todo:
                break
            if attempt > 0:
                time.sleep(ACCT_RETRY_DELAY)
            found.update(self._qacct(todo, single=attempt == ACCT_RETRIES - 1))
        result = {nid: acct_to_job_status(rec, self._book.was_deleted(nid))
                  for nid, rec in found.items()}
        rest = [i for i in ids if i not in found]
        if rest:
            zombies = self._zombies()
            for nid in rest:
                # a job that ran and ended is a zombie too: only one that never started
                # (no .active file) may be taken for deleted
                if self._book.was_deleted(nid) or (nid in zombies and
                                                   not self._is_active(nid)):
                    result[nid] = JobStatus(JobState.CANCELED, message='The job was deleted '
                                            'before it started (it has no accounting record)')
        self._book.forget(result)
        return result

    def _qacct(self, native_ids: List[str], single: bool = False) -> Dict[str, AcctRecord]:
        """The accounting records of `native_ids`: one ``qacct`` for all those whose submit
        time is known (``-b``: jobs started since the earliest), one each for the others (or
        for all, with `single`)."""
        times = self._book.submit_times(native_ids)
        calls: List[List[str]] = []
        if len(times) > 1 and not single:
            begin = time.strftime('%Y%m%d%H%M.%S', time.localtime(min(times.values()) - 120))
            calls.append(['qacct', '-o', getpass.getuser(), '-b', begin, '-j', '*'])
            singles = [n for n in native_ids if n not in times]
        else:
            singles = list(native_ids)
        # a task's record comes with its array's (qacct -j N lists every task)
        calls += [['qacct', '-j', n] for n in dict.fromkeys(i.split('.')[0] for i in singles)]
        wanted = set(native_ids)
        found: Dict[str, AcctRecord] = {}
        for cmd in calls:
            res = run_command(self._resolve(cmd), self._config.command_timeout)
            if res.returncode != 0 and not _NOT_FOUND.search(res.stderr + res.stdout):
                raise RuntimeError('%s failed (exit code %d): %s' % (
                    ' '.join(cmd), res.returncode, (res.stderr or res.stdout).strip()[:300]))
            found.update({k: v for k, v in parse_qacct(res.stdout).items() if k in wanted})
        return found

    def _zombies(self) -> Set[str]:
        """The job numbers ``qstat -s z`` lists (recently finished jobs), empty on error."""
        try:
            res = run_command(self._resolve(['qstat', '-s', 'z', '-xml', '-u',
                                             getpass.getuser()]), self._config.command_timeout)
            return set(parse_qstat_xml(res.stdout)) if res.returncode == 0 else set()
        except (OSError, subprocess.SubprocessError, ValueError):
            return set()
