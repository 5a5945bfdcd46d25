"""The `Job` class: a job specification plus the job's life as reported by an executor."""

from __future__ import annotations

import itertools
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from datetime import timedelta

from psij._fork import after_fork_in_child
from psij._log import DEBUG, get_logger
from psij.exceptions import SubmitException
from psij.job_spec import JobSpec
from psij.job_state import _PREV, JobState
from psij.job_status import JobStatus

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Callable, Deque, List, Optional, Sequence, Union

    from psij._async import StatusUpdates
    from psij.job_executor import JobExecutor

logger = get_logger(__name__)

# Job ids: a random per-process prefix plus a counter is unique on the machine and costs a
# fraction of a uuid4 per job.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


@after_fork_in_child
def _new_ids() -> None:
    # a forked child must never name a job like its parent does (see psij._fork)
    global _ID_PREFIX, _id_counter
    _ID_PREFIX = os.urandom(8).hex()
    _id_counter = itertools.count(1)


class PendingNativeId:
    """What an executor puts in a job's native id while it is still learning it (it set it
    before `submit` returned): `Job.native_id` calls `resolve`, which waits for it."""

    __slots__ = ()

    def resolve(self) -> Optional[str]:
        """Waits for the native id and returns it (`None` if the job could not start)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """``<pending>``."""
        return '<pending>'


class JobStatusCallback(ABC):
    """Receives status changes of jobs."""

    @abstractmethod
    def job_status_changed(self, job: Job, job_status: JobStatus) -> None:
        """
        Called once for each state a job enters, in the order of the states.

        Calls for one job never overlap; calls for different jobs may. `job.status` may already
        be newer than `job_status`. Implementations must return quickly; an exception they
        raise is logged and otherwise ignored.
        """


class FunctionJobStatusCallback(JobStatusCallback):
    """Wraps a function ``fn(job, status)`` as a `JobStatusCallback`."""

    __slots__ = ('fn',)

    def __init__(self, fn: Callable[[Job, JobStatus], None]) -> None:
        """:param fn: the function to call."""
        self.fn = fn

    def job_status_changed(self, job: Job, job_status: JobStatus) -> None:
        """Calls the wrapped function."""
        self.fn(job, job_status)


if TYPE_CHECKING:
    CallbackLike = Union[JobStatusCallback, Callable[['Job', JobStatus], None], None]


def _as_callback(cb: CallbackLike) -> Optional[JobStatusCallback]:
    if cb is None or isinstance(cb, JobStatusCallback):
        return cb
    if not callable(cb):
        raise TypeError('A status callback must be a JobStatusCallback or a callable taking '
                        '(job, status), not %r' % (cb,))
    return FunctionJobStatusCallback(cb)


class Job:
    """
    A job: its specification, its identity and its current status.

    A job starts in the ``NEW`` state. Once submitted, its status only moves forward in the
    specification's partial order; states it skipped are reported too (a job seen ``QUEUED``
    and then ``COMPLETED`` is reported ``STAGE_IN``, ``ACTIVE``, ``STAGE_OUT``, ``CLEANUP`` in
    between), it reaches exactly one final state, and its callbacks are called in order, never
    concurrently.
    """

    def __init__(self, spec: Optional[JobSpec] = None) -> None:
        """:param spec: what the job runs."""
        self.spec = spec
        self._id = '%s-%d' % (_ID_PREFIX, next(_id_counter))
        self._status = self._delivered = JobStatus(JobState.NEW)
        self.executor: Optional[JobExecutor] = None
        self._native_id: Optional[object] = None
        self._cb: Optional[JobStatusCallback] = None
        self._lock = threading.Lock()
        # made on demand and dropped when no longer needed (a deque is 760 bytes): a program
        # following tens of thousands of jobs holds no idle Condition or queue per job
        self._cv: Optional[threading.Condition] = None
        self._waiting = 0  # threads in `wait` (the Condition is dropped when none is left)
        self._pending: Optional[Deque[JobStatus]] = None
        self._deliverer: Optional[int] = None
        self._watchers: Optional[List[Callable[[JobStatus], None]]] = None

    @property
    def id(self) -> str:
        """An identifier assigned at construction, unique on this machine."""
        return self._id

    @property
    def native_id(self) -> Optional[str]:
        """The backend's identifier for the job, available once the job is submitted (an
        executor may still be learning it when `submit` returns: then this waits for it)."""
        n = self._native_id
        if isinstance(n, PendingNativeId):
            return n.resolve()
        return None if n is None else str(n)

    @property
    def status(self) -> JobStatus:
        """The current status. It never moves backwards in the partial order of states."""
        return self._status

    @status.setter
    def status(self, status: JobStatus) -> None:
        # psij-python's executors set the status this way.
        self._set_status(status)

    def set_job_status_callback(self, cb: CallbackLike) -> None:
        """
        Sets the callback for this job's status changes, in addition to the executor's.

        :param cb: a `JobStatusCallback`, a function ``fn(job, status)``, or `None` to remove.
        """
        self._cb = _as_callback(cb)

    def cancel(self) -> None:
        """
        Asks the job's executor to cancel the job; a job already in a final state is left alone.

        :raises SubmitException: if the job was never submitted.
        """
        if self._status.state.final:
            return
        if self.executor is None:
            raise SubmitException('Cannot cancel job %s: it has not been submitted' % self._id)
        self.executor.cancel(self)

    def wait(self, timeout: Union[timedelta, float, None] = None,
             target_states: Union[JobState, Sequence[JobState], None] = None) \
            -> Optional[JobStatus]:
        """
        Waits until the job reaches one of `target_states`, a state after one of them, or a
        final state.

        When this returns, the callbacks for the returned status have been called (except when
        `wait` is called from inside one of this job's callbacks).

        :param timeout: how long to wait at most (a `timedelta` or seconds); forever if `None`.
        :param target_states: a state or states to wait for; final states if `None`.
        :return: the status that ended the wait, or `None` on timeout.
        """
        if isinstance(target_states, JobState):
            targets: Sequence[JobState] = (target_states,)
        else:
            targets = target_states or ()
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._cv is None:
                self._cv = threading.Condition(self._lock)
            cv = self._cv
            self._waiting += 1
            try:
                while True:
                    if self._deliverer == threading.get_ident():
                        st = self._status
                    else:
                        st = self._delivered
                    state = st.state
                    if state.final:
                        return st
                    for t in targets:
                        if state is t or state.is_greater_than(t):
                            return st
                    if deadline is None:
                        cv.wait()
                    else:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return None
                        cv.wait(left)
            finally:
                self._waiting -= 1
                if not self._waiting:
                    self._cv = None

    async def wait_async(self, timeout: Union[timedelta, float, None] = None,
                         target_states: Union[JobState, Sequence[JobState], None] = None) \
            -> Optional[JobStatus]:
        """
        `wait` for asyncio: same meaning and result, without blocking the event loop or using a
        thread. Cancelling the awaiting task stops the wait, not the job.

        :param timeout: how long to wait at most (a `timedelta` or seconds); forever if `None`.
        :param target_states: a state or states to wait for; final states if `None`.
        :return: the status that ended the wait, or `None` on timeout.
        """
        from psij._async import wait_async
        return await wait_async(self, timeout, target_states)

    def status_updates(self) -> StatusUpdates:
        """
        An asynchronous iterator over this job's status changes from now on, ending with its
        final status (just that one if the job has ended already)::

            async for status in job.status_updates():
                print(status.state)

        The statuses are those the callbacks receive, in order, handed over on the event
        loop's thread. Call it (from a coroutine) before submitting the job to see every
        state. Leaving the loop early does not affect the job.
        """
        from psij._async import StatusUpdates
        return StatusUpdates(self)

    def _add_watcher(self, fn: Callable[[JobStatus], None]) -> JobStatus:
        # `fn` gets each status delivered from now on, under the job's lock (it must only
        # hand it over); returns the status delivered before
        with self._lock:
            if self._watchers is None:
                self._watchers = []
            self._watchers.append(fn)
            return self._delivered

    def _remove_watcher(self, fn: Callable[[JobStatus], None]) -> None:
        with self._lock:
            if self._watchers is not None and fn in self._watchers:
                self._watchers.remove(fn)

    # -- status updates, for executors -----------------------------------------------------------

    def _set_status(self, status: JobStatus) -> bool:
        """
        Moves the job to `status` and delivers callbacks; returns `False` if ignored.

        A status that is not after the current one is ignored, as is anything after a final
        state. States skipped between the current state and the new one are filled in first
        (``FAILED`` after ``ACTIVE`` is preceded by ``STAGE_OUT`` and ``CLEANUP``), except
        for a final state given to a ``NEW`` job (one attached after it ended), which is
        reported alone.
        A status stamped before the current one gets the current one's time, so that times
        never go backwards. A status in the current (non-final) state with a new message
        replaces the current status without a callback, so that `status` says why a job
        waits (e.g. a scheduler's "Can Never Run" comment); callbacks stay one per state.
        """
        with self._lock:
            cur = self._status.state
            new = status.state
            if status.time < self._status.time and not cur.final:
                # stamped before the status it follows (made by another thread, or before the
                # state it follows was synthesized): a status is never older than the last one
                status = JobStatus(new, time=self._status.time, message=status.message,
                                   exit_code=status.exit_code, metadata=status.metadata)
            if new is cur and not cur.final and status.message and \
                    status.message != self._status.message:
                self._status = status
                return False
            if cur.final or new is cur or cur.is_greater_than(new):
                if logger.isEnabledFor(DEBUG):
                    logger.debug('Job %s: ignoring %s after %s', self._id, new, cur)
                return False
            pending = self._pending
            if pending is None:
                pending = self._pending = deque()
            # a NEW job given a final state is one attached after it ended: it reports that
            # state alone, nothing it cannot know it went through (a submitted job is QUEUED
            # before its executor reports anything else)
            prev = None if cur is JobState.NEW and new.final else _PREV[new]
            if new is JobState.FAILED and (cur is JobState.ACTIVE or cur is JobState.STAGE_OUT):
                # a job that ran passes through STAGE_OUT and CLEANUP, failed ones too (as in
                # psij-python); one that never ran goes straight to FAILED
                prev = JobState.CLEANUP
            if prev is not None and prev is not cur and prev.is_greater_than(cur):
                missing = []
                while prev is not None and prev is not cur:
                    missing.append(prev)
                    prev = _PREV[prev]
                for s in reversed(missing):
                    pending.append(JobStatus(s, time=status.time))
            pending.append(status)
            self._status = status
            if self._deliverer is not None:
                return True  # the thread delivering callbacks for this job will deliver it
            self._deliverer = threading.get_ident()
        self._deliver(pending)
        return True

    def _deliver(self, pending: Deque[JobStatus]) -> None:
        try:
            self._drain(pending)
        except BaseException:
            # e.g. KeyboardInterrupt inside a callback: let a later status deliver the rest
            with self._lock:
                self._deliverer = None
            raise

    def _drain(self, pending: Deque[JobStatus]) -> None:
        executor = self.executor
        while True:
            with self._lock:
                if not pending:
                    self._deliverer = None
                    self._pending = None  # the next status makes a new one
                    return
                st = pending.popleft()
            cb = self._cb
            if cb is not None:
                try:
                    cb.job_status_changed(self, st)
                except Exception:
                    logger.exception('Status callback of job %s raised an exception', self._id)
            if executor is not None:
                executor._notify_callback(self, st)
            with self._lock:
                self._delivered = st
                if self._cv is not None:
                    self._cv.notify_all()
                if self._watchers:
                    for w in self._watchers:
                        w(st)

    def __hash__(self) -> int:
        """Hash of the id."""
        return hash(self._id)

    def __str__(self) -> str:
        """Job id, native id, executor and status."""
        return 'Job[id=%s, native_id=%s, executor=%s, status=%s]' % (
            self._id, self._native_id, self.executor, self._status)

    __repr__ = __str__
