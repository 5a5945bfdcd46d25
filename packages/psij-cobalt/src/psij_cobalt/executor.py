"""
The ``cobalt`` executor: jobs submitted with ``qsub --cwd WORK_DIR script``, followed with one
``qstat -l --header=JobID:State ID...`` per polling cycle, ended with ``qdel``.

How a :class:`~psij.JobSpec` becomes ``#COBALT`` directives
-----------------------------------------------------------

=========================================  ===============================================
field                                      directive
=========================================  ===============================================
``JobSpec.name`` (default: the job's id)   ``--jobname``, characters other than letters,
                                           digits and ``_.+-`` replaced by ``_``
``JobSpec.directory``                      none: the script ``cd``\\ s there (the job's
                                           Cobalt ``--cwd`` is the work directory, where
                                           Cobalt writes ``<id>.cobaltlog``); without a
                                           directory the job runs where it was submitted
``ResourceSpecV1`` node count              ``-n`` (Cobalt allocates whole nodes, so
                                           ``exclusive_node_use`` needs nothing more)
process count                              ``--proccount``
``JobAttributes.duration``                 ``-t`` minutes, rounded up
``queue_name`` / ``reservation_id``        ``-q`` (Cobalt's reservations are queues; both
                                           given and different: refused)
``account``                                ``-A`` (the project)
``custom_attributes['cobalt.attrs']``      ``--attrs "k=v:k2=v2"``
``custom_attributes['cobalt.KEY']``        ``--KEY "VALUE"`` (``-K`` for a one-letter key;
                                           ``True``: the flag alone; ``False``: left out)
memory, cores or GPUs per process          refused (:class:`~psij.InvalidJobException`):
                                           Cobalt has no such request
=========================================  ===============================================

Values are validated (:func:`psij.executors.batch.script_writer.directive_value`: no line
break, quote, ``$``, backslash, backtick, nor a leading ``-``) and written in double quotes.

Status and exit codes
---------------------
One ``qstat`` per polling cycle for all active Cobalt jobs of the process; states map as in
:data:`psij_cobalt.cobalt_status.COBALT_TO_PSIJ`. A job's true exit code is the one its script
records in the work directory; a job that left the queue without one (killed) is judged by its
``.cobaltlog``: walltime exceeded is FAILED with a message, a ``qdel`` CANCELED, an exit code
Cobalt logged is used as is.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional

from psij._files import read_tail
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    SCHEDULER_FIELDS,
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij.executors.batch.commands import run_command
from psij.executors.batch.exit_codes import limit_exceeded
from psij.executors.batch.script_writer import directive_value, quote
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

from psij_cobalt.cobalt_status import (
    job_id_from_qsub,
    parse_long,
    parse_table_ids,
    read_cobaltlog,
    to_psij_state,
)

__all__ = ['CobaltExecutorConfig', 'CobaltJobExecutor', 'LOG_KEPT_DAYS', 'cobalt_job_name']

_NAME_BAD = re.compile(r'[^A-Za-z0-9_.+-]')
_ALREADY_DONE = re.compile(r'not found|no such job|unknown job', re.IGNORECASE)
_EMPTY_SUFFIXES = ('.output', '.error')  # Cobalt's, empty: the script writes its own output
_LOG_LIMIT = 64 * 1024
LOG_KEPT_DAYS = 7
"""Days a job's ``.cobaltlog`` is kept in the work directory after the job ended: it is the
only record of how the job ended that another process attaching to it can read (Cobalt keeps
no history that ``qstat`` shows)."""


def cobalt_job_name(name: str) -> str:
    """
    The job name passed to Cobalt (``--jobname``): characters other than letters, digits and
    ``_.+-`` become ``_``; never empty, never starting with ``-``, at most 200 characters.
    """
    clean = _NAME_BAD.sub('_', name).lstrip('-')[:200]
    return clean or 'psij'


class CobaltExecutorConfig(BatchSchedulerExecutorConfig):
    """
    Configuration of the Cobalt executor: that of every batch-scheduler executor (polling
    intervals, work directory, command time-out, ``command_directory`` or the
    ``PSIJ_COBALT_COMMAND_DIR`` environment variable for ``qsub``/``qstat``/``qdel``).

    The work directory (default ``~/.psij/work/cobalt``) must be on a filesystem shared by the
    login node and the nodes that run job scripts: the script records its start and exit code
    there, and Cobalt writes the job's ``.cobaltlog`` there.
    """


class CobaltJobExecutor(BatchSchedulerExecutor):
    """
    Runs jobs on a Cobalt system (ALCF's Theta and Cooley used it); see the module
    documentation for the mapping of the specification to ``#COBALT`` directives and of
    Cobalt's states to PSI/J's.

    Submission errors: ``qsub``'s message in a :class:`~psij.SubmitException` (``transient``
    when Cobalt cannot be reached).
    """

    native_id_pattern = re.compile(r'\d+')
    """Cobalt's job ids are numbers."""
    native_id_example = '123456'

    _NAME_ = 'cobalt'
    config_class = CobaltExecutorConfig
    job_id_variable = 'COBALT_JOBID'
    """Cobalt's variable holding the job id inside the job."""

    honoured_fields = SCHEDULER_FIELDS - {'memory', 'cpu_cores_per_process',
                                          'gpu_cores_per_process'}
    """Cobalt allocates whole nodes: it has no memory, core or GPU request."""

    transient_errors = re.compile(r'Failed to connect|ComponentLookupError|'
                                  r'could not connect|Connection refused', re.IGNORECASE)
    """Cobalt's client messages for a queue manager that does not answer."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[BatchSchedulerExecutorConfig] = None) -> None:
        """
        :param url: not used.
        :param config: a :class:`CobaltExecutorConfig` (or any batch-scheduler
            configuration).
        """
        super().__init__(url=url, config=config)
        self._logs_pruned = False

    # -- the submit script -----------------------------------------------------------------------

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The ``#COBALT`` lines for `job` (see the module documentation)."""
        spec = job.spec
        assert spec is not None
        res = spec.resources or ResourceSpecV1()  # the base has refused any other kind
        assert isinstance(res, ResourceSpecV1)
        attrs = spec.attributes
        lines = ['#COBALT --jobname %s' % cobalt_job_name(spec.name or job.id),
                 '#COBALT -n %d' % res.computed_node_count,
                 '#COBALT --proccount %d' % res.computed_process_count]
        if attrs.duration is not None:
            lines.append('#COBALT -t %d' % _minutes(attrs.duration))
        queue = attrs.queue_name
        if attrs.reservation_id is not None:
            if queue is not None and queue != attrs.reservation_id:
                raise InvalidJobException(
                    'JobAttributes.reservation_id=%r: Cobalt runs a reservation\'s jobs in the '
                    'queue of that name, and JobAttributes.queue_name is %r'
                    % (attrs.reservation_id, queue))
            queue = attrs.reservation_id
        if queue is not None:
            field = 'JobAttributes.queue_name' if attrs.queue_name is not None else \
                'JobAttributes.reservation_id'
            lines.append('#COBALT -q "%s"' % directive_value(field, queue))
        if attrs.account is not None:
            lines.append('#COBALT -A "%s"' % directive_value('JobAttributes.account',
                                                            attrs.account))
        for key, value, field in self.custom_attribute_items(job):
            if value is False:
                continue
            option = ('-' if len(key) == 1 else '--') + key
            if value is True:
                lines.append('#COBALT %s' % option)
            else:
                lines.append('#COBALT %s "%s"' % (option, directive_value(field, value)))
        return lines

    def script_setup_commands(self, job: Job) -> List[str]:
        """Without a job directory: back to the directory the job was submitted from (Cobalt
        starts it in its ``--cwd``, the work directory)."""
        assert job.spec is not None
        if job.spec.directory is not None:
            return []
        return ['cd -- %s || { echo "psij: cannot change to the submission directory"; '
                '_psij_end 1; }' % quote(os.getcwd())]

    def nodefile_commands(self, job: Job) -> List[str]:
        """
        Writes ``$PSIJ_NODEFILE`` (one line per process) from ``$COBALT_NODEFILE`` (one line
        per node), else from the host name.
        """
        assert job.spec is not None
        res = job.spec.resources
        ppn = res.computed_processes_per_node if isinstance(res, ResourceSpecV1) else 1
        return [
            'if [ -n "${COBALT_NODEFILE:-}" ] && [ -r "$COBALT_NODEFILE" ]; then',
            '    _psij_hosts=$(cat "$COBALT_NODEFILE")',
            'else',
            '    _psij_hosts=$(hostname)',
            'fi',
            'for _psij_h in $_psij_hosts; do',
            '    for ((_psij_i = 0; _psij_i < %d; _psij_i++)); do printf "%%s\\n" "$_psij_h"; '
            'done' % ppn,
            'done >"$PSIJ_NODEFILE"',
        ]

    # -- submit ----------------------------------------------------------------------------------

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``qsub --cwd WORK_DIR SCRIPT``: Cobalt runs the script itself, which must be
        executable, and writes the job's ``.cobaltlog`` in its ``--cwd``."""
        os.chmod(submit_file_path, 0o700)
        return [self.command_path('qsub'), '--cwd', str(self.work_directory),
                str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """The id ``qsub`` printed (a number alone on its line)."""
        native_id = job_id_from_qsub(out)
        if native_id is None:
            raise SubmitException('qsub printed no job id: %r' % out)
        return native_id

    # -- status ----------------------------------------------------------------------------------

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """One ``qstat -l --header=JobID:State ID...`` for all of `native_ids`."""
        return [self.command_path('qstat'), '-l', '--header=JobID:State', *native_ids]

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """
        The statuses in ``qstat -l``'s answer; jobs Cobalt does not know (any more) are absent.

        :raises RuntimeError: if ``qstat`` failed otherwise than by knowing none of the jobs
            (it then exits 1 and prints nothing); the engine retries later.
        """
        jobs = parse_long(out)
        if not jobs and exit_code != 0 and out.strip():
            raise RuntimeError('qstat failed (exit code %d): %s' % (exit_code, out.strip()))
        result = {}
        for native_id, fields in jobs.items():
            state = fields.get('State', '')
            name = to_psij_state(state)
            if name is None:
                continue  # a state this module does not know: no news rather than a guess
            message = None
            if name == 'FAILED':
                message = 'A job this job depends on failed (Cobalt state %s)' % state
            result[native_id] = JobStatus(JobState[name], message=message,
                                          metadata={'cobalt_state': state})
        return result

    def get_final_status(self, native_ids: Collection[str]) -> Dict[str, JobStatus]:
        """How jobs gone from ``qstat`` ended, from their ``.cobaltlog``; a job without a
        verdict there is FAILED with a message saying so."""
        result = {}
        for native_id in native_ids:
            st = self._log_status(native_id)
            result[native_id] = st if st is not None else JobStatus(
                JobState.FAILED, message='Cobalt no longer lists job %s, which recorded no '
                'exit code, and its .cobaltlog does not say how it ended' % native_id)
        return result

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """The end of `job`; a walltime or a ``qdel`` its ``.cobaltlog`` tells of wins over
        the exit code the killed script may have recorded."""
        if status is None and job.native_id is not None:
            st = self._log_status(job.native_id)
            if st is not None and st.state is not JobState.COMPLETED and \
                    (st.metadata or {}).get('cobalt_log') != 'exit':
                status = st
        super().report_final(job, exit_code, status)

    def _log_status(self, native_id: str) -> Optional[JobStatus]:
        text = read_tail(self.work_directory / (native_id + '.cobaltlog'), _LOG_LIMIT)
        verdict = read_cobaltlog(text)
        if verdict is None:
            return None
        if verdict.reason == 'walltime':
            return limit_exceeded('walltime', detail=verdict.message or '',
                                  metadata={'cobalt_log': verdict.reason})
        return JobStatus(JobState[verdict.state], exit_code=verdict.exit_code,
                         message=verdict.message, metadata={'cobalt_log': verdict.reason})

    def _clean_submit_script(self, job: Job) -> None:
        """Deletes Cobalt's empty ``.output`` and ``.error`` files; the ``.cobaltlog`` stays
        for other processes following the job (see `LOG_KEPT_DAYS`)."""
        for suffix in _EMPTY_SUFFIXES:
            self._delete_aux_file(job, suffix)

    def submit(self, job: Job) -> None:
        """See :meth:`~psij.executors.batch.batch_scheduler_executor.BatchSchedulerExecutor.
        submit`; the first submit of an executor also deletes the ``.cobaltlog`` files older
        than `LOG_KEPT_DAYS`."""
        if not self._logs_pruned:
            self._logs_pruned = True
            _prune_logs(self.work_directory, LOG_KEPT_DAYS * 86400)
        super().submit(job)

    # -- cancel and list -------------------------------------------------------------------------

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``qdel <id>``."""
        return [self.command_path('qdel'), native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """
        :raises InvalidJobStateError: if Cobalt no longer knows the job (it ended).
        :raises SubmitException: otherwise (``transient`` if Cobalt cannot be reached).
        """
        if _ALREADY_DONE.search(out):
            raise InvalidJobStateError(out)
        raise SubmitException('qdel failed (exit code %d): %s' % (exit_code, out),
                              transient=self.is_transient_error(out))

    def get_list_command(self) -> List[str]:
        """``qstat -u USER`` (the table)."""
        return [self.command_path('qstat'), '-u', getpass.getuser()]

    def parse_list_output(self, out: str) -> List[str]:
        """The ids in ``qstat``'s table."""
        return parse_table_ids(out)

    def list(self) -> List[str]:
        """The native ids of this user's jobs Cobalt lists (none: an empty list, although
        ``qstat`` then exits 1)."""
        cmd = self.get_list_command()
        try:
            res = run_command(cmd, self._config.command_timeout)
        except subprocess.TimeoutExpired as ex:
            raise SubmitException('qstat did not answer within %s s'
                                  % self._config.command_timeout, ex, transient=True) from ex
        except OSError as ex:
            raise SubmitException('Cannot run qstat: %s' % ex, ex) from ex
        ids = parse_table_ids(res.stdout)
        if res.returncode == 0 or ids or not (res.stdout + res.stderr).strip():
            return ids
        text = (res.stdout + res.stderr).strip()
        raise SubmitException('qstat failed (exit code %d): %s' % (res.returncode, text),
                              transient=self.is_transient_error(text))


def _prune_logs(work_directory: Path, age: float) -> None:
    """Deletes the ``<id>.cobaltlog`` files of `work_directory` not modified for `age`
    seconds."""
    limit = time.time() - age
    try:
        entries = list(os.scandir(work_directory))
    except OSError:
        return
    for entry in entries:
        if not entry.name.endswith('.cobaltlog'):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and \
                    entry.stat(follow_symlinks=False).st_mtime < limit:
                os.unlink(entry.path)
        except OSError:
            pass


def _minutes(d: timedelta) -> int:
    """``-t``: minutes, rounded up (at least one)."""
    return max(1, math.ceil(d.total_seconds() / 60))
