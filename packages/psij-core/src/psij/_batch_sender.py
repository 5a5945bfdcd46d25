"""
A thread that hands everything queued since its last call to one function call: how the
``flux`` and ``rp`` executors submit (a call per job costs about as much as one for
hundreds), so that ``submit()`` returns as soon as the job is queued.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, List, Optional, TypeVar

from psij._log import get_logger

T = TypeVar('T')
logger = get_logger(__name__)


class BatchSender(Generic[T]):
    """
    Queues items; one daemon thread (started with the first item) calls ``send(batch)`` with
    all the items queued since its previous call, in the order they were queued. `send` must
    deal with its own errors: an exception it raises is logged, and its batch lost.
    """

    def __init__(self, name: str, send: Callable[[List[T]], None],
                 max_batch: Optional[int] = None) -> None:
        """
        :param name: the thread's name.
        :param send: called with each batch, on the thread.
        :param max_batch: the most items one batch holds (`None`: all that are queued).
        """
        self._name = name
        self._send = send
        self._max = max_batch
        self._cond = threading.Condition()
        self._queue: List[T] = []
        self._sending = 0
        self._thread: Optional[threading.Thread] = None

    @property
    def started(self) -> bool:
        """Whether the thread runs (an item was queued)."""
        return self._thread is not None

    def put(self, item: T) -> None:
        """Queues `item` for the next batch."""
        with self._cond:
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Waits, at most `timeout` seconds, until every queued item was sent (`send`
        returned); `True` if none is left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._sending:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                if self._max is None or len(self._queue) <= self._max:
                    batch, self._queue = self._queue, []
                else:
                    batch, self._queue = self._queue[:self._max], self._queue[self._max:]
                self._sending = len(batch)
            try:
                self._send(batch)
            except Exception:  # the sender's bug: its batch is lost, not the thread
                logger.exception('%s: send failed', self._name)
            finally:
                with self._cond:
                    self._sending = 0
                    self._cond.notify_all()
