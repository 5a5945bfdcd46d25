"""
The asyncio API: `JobExecutor.submit_async`, `Job.wait_async` and `Job.status_updates`.

No thread per job. A job tells the event loop about each status it *delivers* (after its
callbacks ran, the moment `Job.wait` would return), from whichever thread delivers it, through
one inbox per loop: the first status posted wakes the loop once (``call_soon_threadsafe``),
and the loop then hands every posted status to its waiters, in order, on the loop's thread.
Submitting runs the executor's blocking `submit` on a small fixed pool of threads
(`SUBMIT_THREADS`), shared by all loops, so nothing that can block runs on the loop: not a
scheduler command, and not the ``open`` of a job's stdio path either (a FIFO that a task on
the same loop reads, a hung NFS mount). Submits wait in one queue, which one thread drains,
more (up to `SUBMIT_THREADS`) while the submits in progress take longer than `STUCK_AFTER`
(a scheduler command; a blocked open). Results go back through the loop's inbox, which wakes
the loop once for every result posted until it runs (not once per job), so a burst of
submits costs about what the same submits cost in one thread.

Cancelling a task that awaits a job stops the waiting, never the job (use `Job.cancel`).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Optional, Sequence, Tuple, Union

from psij._fork import after_fork_in_child
from psij.job_state import JobState
from psij.job_status import JobStatus

if TYPE_CHECKING:
    from psij.job import Job
    from psij.job_executor import JobExecutor

SUBMIT_THREADS = 4
"""Threads that run blocking `submit` calls for `submit_async`, whatever the number of jobs."""

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()  # also guards _queue, _draining and _busy
_Submit = Tuple['JobExecutor', 'Job', '_Inbox', 'asyncio.Future[None]']
_queue: Deque[_Submit] = deque()  # submits no thread has taken yet
_draining = 0  # threads of the pool that drain _queue
_busy: Dict[int, float] = {}  # draining thread -> when the submit it runs began

STUCK_AFTER = 0.02
"""Seconds after which a submit that has not returned may be blocked for good (a FIFO, a hung
mount): the queued submits then get another thread, up to `SUBMIT_THREADS`. One thread
otherwise: submits of one process contend for the same locks, and more threads made a burst
of local submits slower."""


@after_fork_in_child
def _drop_pool() -> None:
    # the pool's threads are gone in a forked child (see psij._fork)
    global _pool, _pool_lock, _draining
    _pool = None
    _pool_lock = threading.Lock()
    _queue.clear()
    _busy.clear()
    _draining = 0


def _new_drainer() -> Optional[ThreadPoolExecutor]:
    """The pool, counting one more draining thread, if the queue needs one (with
    `_pool_lock` held): none drains it, or every one is in a submit older than
    `STUCK_AFTER`."""
    global _pool, _draining
    if not _queue or _draining >= SUBMIT_THREADS:
        return None
    if _draining:
        now = time.monotonic()
        if len(_busy) < _draining or any(now - t < STUCK_AFTER for t in _busy.values()):
            return None
    _draining += 1
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=SUBMIT_THREADS, thread_name_prefix='psij-submit')
    return _pool


async def submit_async(executor: JobExecutor, job: Job) -> None:
    """`executor.submit(job)` on the submit pool; raises what `submit` raises."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    inbox = _inbox(loop)
    with _pool_lock:
        _queue.append((executor, job, inbox, fut))
        pool = _new_drainer()
    if pool is not None:
        pool.submit(_drain_submits)
    elif not inbox.checking:
        inbox.checking = True
        loop.call_later(STUCK_AFTER, _check_stuck, inbox)
    await fut


def _check_stuck(inbox: _Inbox) -> None:
    """On a loop with queued submits: starts another thread if every draining one is stuck;
    looks again later while submits are queued."""
    with _pool_lock:
        pool = _new_drainer()
        again = bool(_queue) and _draining < SUBMIT_THREADS
    if pool is not None:
        pool.submit(_drain_submits)
    if again:
        inbox.loop.call_later(STUCK_AFTER, _check_stuck, inbox)
    else:
        inbox.checking = False


def _drain_submits() -> None:
    """In a pool thread: submits queued jobs until none is left."""
    global _draining
    me = threading.get_ident()
    while True:
        with _pool_lock:
            _busy.pop(me, None)
            if not _queue:
                _draining -= 1
                return
            executor, job, inbox, fut = _queue.popleft()
            _busy[me] = time.monotonic()
        error: Optional[BaseException] = None
        try:
            executor.submit(job)
        except BaseException as ex:  # raised by submit_async, on the loop
            error = ex
        inbox.post(partial(_settle, fut), error)


def _settle(fut: asyncio.Future[None], error: Optional[BaseException]) -> None:
    if fut.done():
        return  # the awaiting task was cancelled: the job is submitted all the same
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


# -- from the delivering thread to the loop -----------------------------------------------------

class _Inbox:
    """Statuses posted to one loop by other threads, handed over on the loop's thread."""

    __slots__ = ('loop', 'items', 'lock', 'scheduled', 'checking', '__weakref__')

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: Deque[Tuple[Callable[[Any], None], Any]] = deque()
        self.lock = threading.Lock()
        self.scheduled = False
        self.checking = False  # a _check_stuck is due on the loop

    def post(self, fn: Callable[[Any], None], arg: Any) -> None:
        """Calls ``fn(arg)`` on the loop's thread (a status for a waiter, a submit's result)."""
        with self.lock:
            self.items.append((fn, arg))
            if self.scheduled:
                return  # one wake-up carries every status posted until it runs
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits these jobs any more

    def _drain(self) -> None:
        with self.lock:
            items, self.items = self.items, deque()
            self.scheduled = False
        for fn, arg in items:
            fn(arg)


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = \
    weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


def _inbox(loop: asyncio.AbstractEventLoop) -> _Inbox:
    with _inboxes_lock:
        box = _inboxes.get(loop)
        if box is None:
            box = _inboxes[loop] = _Inbox(loop)
        return box


class _Watch:
    """A job's delivered statuses, forwarded to a function on a loop's thread."""

    __slots__ = ('job', 'inbox', 'fn')

    def __init__(self, job: Job, fn: Callable[[JobStatus], None]) -> None:
        self.job = job
        self.inbox = _inbox(asyncio.get_running_loop())
        self.fn = fn

    def __call__(self, status: JobStatus) -> None:
        # called by Job._drain under the job's lock: post and return, nothing more
        self.inbox.post(self.fn, status)

    def start(self) -> JobStatus:
        """Starts forwarding; returns the status delivered before (atomically)."""
        return self.job._add_watcher(self)

    def stop(self) -> None:
        self.job._remove_watcher(self)


def _reached(status: JobStatus, targets: Sequence[JobState]) -> bool:
    state = status.state
    return state.final or any(state is t or state.is_greater_than(t) for t in targets)


async def wait_async(job: Job, timeout: Union[timedelta, float, None],
                     target_states: Union[JobState, Sequence[JobState], None]) \
        -> Optional[JobStatus]:
    """See `Job.wait_async`."""
    if isinstance(target_states, JobState):
        targets: Sequence[JobState] = (target_states,)
    else:
        targets = tuple(target_states or ())
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    fut: asyncio.Future[JobStatus] = asyncio.get_running_loop().create_future()

    def seen(status: JobStatus) -> None:
        if not fut.done() and _reached(status, targets):
            fut.set_result(status)

    watch = _Watch(job, seen)
    current = watch.start()
    try:
        if _reached(current, targets):
            return current
        if timeout is None:
            return await fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return None
    finally:
        watch.stop()


class StatusUpdates:
    """
    An asynchronous iterator over a job's status changes, up to and including its final
    status; see `Job.status_updates`. Statuses are those the job's callbacks receive, in the
    same order, delivered on the event loop's thread.
    """

    def __init__(self, job: Job) -> None:
        """Starts collecting at once (call it before submitting to see every state)."""
        self._queue: Deque[JobStatus] = deque()
        self._waiter: Optional[asyncio.Future[None]] = None
        self._ended = False
        self._watch = _Watch(job, self._seen)
        current = self._watch.start()
        if current.state.final:
            self._queue.append(current)
            self._watch.stop()

    def _seen(self, status: JobStatus) -> None:
        if self._ended:
            return  # posted before aclose() stopped the watch
        self._queue.append(status)
        if status.state.final:
            self._watch.stop()
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def __aiter__(self) -> StatusUpdates:
        """This iterator."""
        return self

    async def __anext__(self) -> JobStatus:
        """The next status change (waits for it); stops after the final one."""
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        st = self._queue.popleft()
        if st.state.final:
            self._ended = True
        return st

    async def aclose(self) -> None:
        """Stops following the job (the job itself is not affected)."""
        self._ended = True
        self._queue.clear()
        self._watch.stop()

