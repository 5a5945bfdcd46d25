"""The local executor's event loop: pidfds, sockets and a deadline heap in one ``epoll`` set.

`EventLoop` sleeps in ``epoll_wait`` with no timeout unless a timer is pending, so an idle
process has no wake-ups at all; a job's end (its pidfd becomes readable) or a message wakes it
at once (no polling, no SIGCHLD handler, nothing installed at import time). Timers (the SIGKILL
that follows a cancel's SIGTERM, the checks of attached jobs' records) live in a heap whose
head gives the ``epoll`` timeout; an ``eventfd`` wakes the loop when an earlier timer is added
from another thread. ``epoll_ctl`` is thread-safe, so other threads register descriptors
directly.

Two loops use it: `Reaper`, one daemon thread per submitting process (job ends sent by the
keeper, attached jobs' pidfds), and the keeper process's main loop (`psij.executors.local._keeper`:
its jobs' pidfds and the submitter's requests).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from psij._fork import after_fork_in_child

logger = logging.getLogger(__name__)

ExitHandler = Callable[[int], None]
"""Called in the loop's thread with the descriptor that became readable (for a pidfd: the
process ended)."""

Timer = Tuple[float, int, Callable[[], None]]
"""A pending timer: deadline, sequence number, function."""


class EventLoop:
    """An ``epoll`` set of descriptors with handlers, and a deadline heap of timers.

    `run_once` sleeps until a watched descriptor is ready or the earliest timer is due, with
    no timeout at all when no timer is pending. `Reaper` runs one in a daemon thread; the
    keeper process (`psij.executors.local._keeper`) runs one in its main thread.
    """

    def __init__(self) -> None:
        """Creates the epoll set."""
        self._ep = select.epoll()
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._ep.register(self._wake, select.EPOLLIN)
        self._handlers: Dict[int, ExitHandler] = {}
        self._persistent: Dict[int, bool] = {}
        self._timers: List[Timer] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._owner: Optional[int] = None  # the thread that runs the loop

    def watch(self, fd: int, handler: ExitHandler, persistent: bool = False) -> None:
        """
        Calls ``handler(fd)`` in the loop's thread once `fd` is readable (a pidfd: once the
        process behind it ends).

        A one-shot watch (the default) forgets `fd` before calling the handler, which owns `fd`
        from then on (for a pidfd: reaps the process and closes the fd); a `persistent` one
        calls the handler each time `fd` is readable, until `unwatch`.
        """
        # The handler must be in the map before epoll can report the fd.
        self._handlers[fd] = handler
        self._persistent[fd] = persistent
        flags = select.EPOLLIN if persistent else select.EPOLLIN | select.EPOLLONESHOT
        self._ep.register(fd, flags)

    def unwatch(self, fd: int) -> None:
        """Stops watching `fd` (which the caller still owns)."""
        self._handlers.pop(fd, None)
        self._persistent.pop(fd, None)
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        """Calls `fn` in the loop's thread after `delay` seconds; returns a handle for
        `cancel_timer`."""
        timer = (time.monotonic() + delay, next(self._seq), fn)
        with self._lock:
            earliest = not self._timers or timer[0] < self._timers[0][0]
            heapq.heappush(self._timers, timer)
        if earliest and threading.get_ident() != self._owner:
            os.eventfd_write(self._wake, 1)
        return timer

    def cancel_timer(self, timer: Timer) -> None:
        """Forgets a timer that has not fired, so that it does not wake the thread up.

        Called from the loop's thread (e.g. when a cancelled job ends before its SIGKILL), it
        costs no wake-up at all: the thread recomputes its timeout before sleeping again.
        """
        with self._lock:
            try:
                self._timers.remove(timer)
            except ValueError:
                return
            heapq.heapify(self._timers)

    def _next_timeout(self) -> float:
        with self._lock:
            if not self._timers:
                return -1
            return max(0.0, self._timers[0][0] - time.monotonic())

    def _due_timers(self) -> List[Callable[[], None]]:
        now = time.monotonic()
        due = []
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        return due

    def run_once(self) -> None:
        """Waits for ready descriptors or due timers and calls their handlers."""
        self._owner = threading.get_ident()
        try:
            events = self._ep.poll(self._next_timeout())
        except InterruptedError:
            return
        for fd, _ in events:
            if fd == self._wake:
                try:
                    os.eventfd_read(self._wake)
                except BlockingIOError:
                    pass
                continue
            handler = self._handlers.get(fd)
            if handler is None:
                continue
            if not self._persistent.get(fd):
                self.unwatch(fd)
            self._call(handler, fd)
        for fn in self._due_timers():
            self._call(fn)

    @staticmethod
    def _call(fn: Callable[..., None], *args: int) -> None:
        # A failing handler must never stop the loop that serves every other job.
        try:
            fn(*args)
        except Exception:
            logger.exception('Unexpected error in the psij local event loop')


class Reaper(EventLoop):
    """The process-wide `EventLoop` of the local executor, in a daemon thread started on
    first use."""

    _instance: Optional[Reaper] = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> Reaper:
        """The process-wide reaper; starts its thread on first call (and again after fork)."""
        r = cls._instance
        if r is not None:
            return r
        with cls._instance_lock:
            r = cls._instance
            if r is None:
                r = cls._instance = Reaper()
            return r

    @classmethod
    def _forget_after_fork(cls) -> None:
        # the thread is gone in the child, and its lock may be held forever (see psij._fork)
        cls._instance = None
        cls._instance_lock = threading.Lock()

    def __init__(self) -> None:
        """Creates the epoll set and starts the thread."""
        super().__init__()
        self._thread = threading.Thread(target=self._run, name='psij-local-reaper', daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        """The reaper thread."""
        return self._thread

    def _run(self) -> None:
        while True:
            self.run_once()


after_fork_in_child(Reaper._forget_after_fork)
