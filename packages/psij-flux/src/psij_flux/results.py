"""
How Flux's view of a job becomes a PSI/J status.

Two sources give the same answer:

* the events of the job (job-manager journal, ``flux job eventlog``): ``submit`` is
  ``QUEUED``, ``start`` is ``ACTIVE``, ``exception`` (severity 0) records why the job ends,
  and ``finish`` (with the wait status), or ``clean`` for a job that never ran, ends it
  (:class:`EventFolder`);
* a job record (``flux jobs --json``, ``flux.job.JobList``): ``state``, ``result``,
  ``waitstatus``, ``returncode``, ``exception`` (:func:`status_from_record`).

Final states
------------
=================================  ========================================================
Flux                               PSI/J
=================================  ========================================================
COMPLETED (exit 0)                 ``COMPLETED``, exit code 0
FAILED, no exception (exit N)      ``FAILED``, exit code N (128+S for a task killed by S)
TIMEOUT (exception ``timeout``)    ``FAILED``, message ``walltime exceeded: Flux: <note>``,
                                   no exit code (Flux's SIGALRM, 142, is not the job's)
CANCELED (exception ``cancel``)    ``CANCELED``, exit code as Flux reports it (143: the
                                   SIGTERM) but none for 1, which Flux also gives a job that
                                   exited 0, and none if it never ran
``prelaunch`` (psij's wrapper)     ``FAILED``, the pre-launch script's exit code, message
                                   naming the script and the code
any other exception (``exec``,     ``FAILED``, message ``<type>: <note>`` (Flux's note),
``alloc``, ``dependency``, ...)    exit code as Flux reports it
=================================  ========================================================
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from psij.executors.batch.exit_codes import limit_exceeded
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import pre_launch_failure

ACTIVE_STATES = frozenset({'DEPEND', 'PRIORITY', 'SCHED', 'RUN', 'CLEANUP', 'NEW'})
"""Flux's states of a job that has not ended."""


def exit_code_of(waitstatus: Optional[int]) -> Optional[int]:
    """The exit code for a wait status: the exit status, or 128+N if killed by signal N."""
    if waitstatus is None:
        return None
    if os.WIFEXITED(waitstatus):
        return os.WEXITSTATUS(waitstatus)
    if os.WIFSIGNALED(waitstatus):
        return 128 + os.WTERMSIG(waitstatus)
    return None


MISSING_DIRECTORY_EXCEPTION = 'cwd'
"""The type of the exception psij's task wrapper raises on a job whose directory cannot be
entered (rendered into the wrapper by :mod:`psij_flux.jobspec`)."""
MISSING_DIRECTORY_EXIT_CODE = 1
"""The wrapper's exit code then, and the job's: the exit code every executor gives a job whose
directory is missing (Flux's shell kills the job's tasks on the exception, so the wait status
says 143)."""

PRE_LAUNCH_EXCEPTION = 'prelaunch'
"""The type of the exception psij's task wrapper raises on a job whose pre-launch script
failed; its note is the wrapper's line naming the script and its exit code, the job's exit
code (Flux's shell may kill the task before it exits with it)."""
_PRE_LAUNCH_CODE = re.compile(r'exit code (\d+)$')

CANCELED_EXIT_OF_FLUX = 1
"""The exit status Flux records for a canceled job whose tasks exited 0 (a job that traps
SIGTERM and exits 0): not the job's own, so a canceled job's 1 is reported as no exit code."""


def final_status(waitstatus: Optional[int], exc_type: Optional[str], exc_note: Optional[str],
                 timestamp: Optional[float] = None, returncode: Optional[int] = None,
                 flux_result: Optional[str] = None) -> JobStatus:
    """
    The final PSI/J status of a job (see the module documentation).

    :param waitstatus: from the ``finish`` event; `None` if the job never ran.
    :param exc_type: the type of the first fatal exception, if any.
    :param exc_note: its note.
    :param returncode: Flux's return code, used when there is no wait status.
    :param flux_result: Flux's result name, kept in the metadata.
    """
    code = exit_code_of(waitstatus)
    if code is None and returncode is not None and returncode >= 0:
        code = returncode
    meta: Dict[str, Any] = {}
    if flux_result:
        meta['flux_result'] = flux_result
    if exc_type:
        meta['flux_exception'] = exc_type
    note = (exc_note or '').strip()
    if exc_type == 'cancel':
        if code == CANCELED_EXIT_OF_FLUX and waitstatus is not None:
            code = None  # perhaps the job's own exit 1, perhaps its 0: Flux's 1 either way
        return JobStatus(JobState.CANCELED, time=timestamp, exit_code=code,
                         message='canceled' + (': ' + note if note else ''),
                         metadata=meta or None)
    if exc_type == 'timeout':
        meta.setdefault('flux_result', 'TIMEOUT')
        return limit_exceeded('walltime', detail='Flux: %s' % (note or 'time limit exceeded'),
                              metadata=meta, time=timestamp)
    if exc_type == MISSING_DIRECTORY_EXCEPTION:
        code = MISSING_DIRECTORY_EXIT_CODE
    if exc_type == PRE_LAUNCH_EXCEPTION:
        said = pre_launch_failure(note)
        m = _PRE_LAUNCH_CODE.search(note)
        if said is not None and m is not None:
            return JobStatus(JobState.FAILED, time=timestamp, exit_code=int(m.group(1)),
                             message=said, metadata=meta)
    if exc_type:
        if code is None:
            code = 1 if returncode is None else (returncode if returncode >= 0 else None)
        return JobStatus(JobState.FAILED, time=timestamp, exit_code=code,
                         message='%s: %s' % (exc_type, note or 'Flux raised an exception'),
                         metadata=meta)
    if code is None:
        return JobStatus(JobState.FAILED, time=timestamp,
                         message='Flux reported no exit status for the job',
                         metadata=meta or None)
    if code == 0:
        return JobStatus(JobState.COMPLETED, time=timestamp, exit_code=0, metadata=meta or None)
    return JobStatus(JobState.FAILED, time=timestamp, exit_code=code, metadata=meta or None)


class EventFolder:
    """
    Folds the events of one job, in order, into PSI/J statuses.

    Not thread-safe: the caller serializes the calls for one job.
    """

    __slots__ = ('exc_type', 'exc_note', 'ended', 'started')

    def __init__(self) -> None:
        """A job of which no event was seen."""
        self.exc_type: Optional[str] = None
        self.exc_note: Optional[str] = None
        self.ended = False
        self.started = False

    def fold(self, name: str, context: Optional[Mapping[str, Any]],
             timestamp: Optional[float] = None) -> Optional[JobStatus]:
        """The status event `name` moves the job to, or `None` if it does not move it."""
        if self.ended:
            return None
        ctx = context or {}
        if name == 'submit':
            return JobStatus(JobState.QUEUED, time=timestamp)
        if name == 'start':
            self.started = True
            return JobStatus(JobState.ACTIVE, time=timestamp)
        if name == 'exception':
            if int(ctx.get('severity', 0)) == 0 and self.exc_type is None:
                self.exc_type = str(ctx.get('type') or 'exception')
                self.exc_note = str(ctx.get('note') or '')
            return None
        if name == 'finish':
            self.ended = True
            status = ctx.get('status')
            return final_status(int(status) if status is not None else None, self.exc_type,
                                self.exc_note, timestamp)
        if name == 'clean':
            self.ended = True
            return final_status(None, self.exc_type, self.exc_note, timestamp,
                                returncode=None if self.exc_type == 'cancel' else 1)
        return None


def _int_or_none(v: Any) -> Optional[int]:
    if v is None or v == '':
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def record_exception(record: Mapping[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """(type, note) of a record's fatal exception, or (None, None)."""
    exc = record.get('exception')
    if isinstance(exc, Mapping):
        if exc.get('occurred') and int(exc.get('severity') or 0) == 0:
            return str(exc.get('type') or 'exception'), str(exc.get('note') or '')
        return None, None
    # flux.job.JobInfo-style flat keys
    if record.get('exception_occurred') and int(record.get('exception_severity') or 0) == 0:
        return (str(record.get('exception_type') or 'exception'),
                str(record.get('exception_note') or ''))
    return None, None


def statuses_from_record(record: Mapping[str, Any]) -> List[JobStatus]:
    """
    The statuses a job record implies, in order: as `status_from_record`, preceded by
    ``ACTIVE`` (at ``t_run``) for an ended job that ran, so that a job seen only after its end
    (by a polling cycle, or by `attach`) is still reported as having been active.
    """
    st = status_from_record(record)
    if st is None:
        return []
    t_run = record.get('t_run')
    if st.state.final and isinstance(t_run, (int, float)) and t_run > 0:
        return [JobStatus(JobState.ACTIVE, time=float(t_run)), st]
    return [st]


def status_from_record(record: Mapping[str, Any]) -> Optional[JobStatus]:
    """
    The status a job record shows, or `None` if the record has no state.

    Active jobs are ``QUEUED`` until they run, ``ACTIVE`` while they run (``RUN``, and
    ``CLEANUP`` after a start); inactive jobs get their final status.
    """
    state = record.get('state')
    if not isinstance(state, str) or not state:
        return None
    if state != 'INACTIVE':
        ran = bool(record.get('t_run')) or state == 'RUN'
        if state in ('RUN', 'CLEANUP') and ran:
            return JobStatus(JobState.ACTIVE, time=record.get('t_run') or None)
        return JobStatus(JobState.QUEUED, time=record.get('t_submit') or None)
    exc_type, exc_note = record_exception(record)
    return final_status(_int_or_none(record.get('waitstatus')), exc_type, exc_note,
                        record.get('t_inactive') or None, _int_or_none(record.get('returncode')),
                        str(record.get('result') or '') or None)
