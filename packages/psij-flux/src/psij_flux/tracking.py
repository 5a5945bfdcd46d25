"""
Per-job tracking state and the interface the executor uses to talk to a Flux connection.

A :class:`TrackedJob` holds everything known about one job, behind its own lock; a
:class:`Backend` (the event stream of :mod:`psij_flux.event_stream`, or the command-line
fallback of :mod:`psij_flux.cli_backend`) feeds it events or job records.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple

from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus

from psij_flux.jobspec import Submission
from psij_flux.results import EventFolder, statuses_from_record

StatusSink = Callable[[Job, JobStatus], None]
"""Reports a status change of a job (the executor's ``_set_job_status``)."""


class TrackedJob:
    """One job followed by a backend: its Flux id, its event folder and its final state."""

    __slots__ = ('job', 'jobid', 'sink', 'lock', 'folder', 'ended', 'submitted_at',
                 'cancel_requested')

    def __init__(self, job: Job, jobid: int, sink: StatusSink,
                 submitted_at: Optional[float] = None) -> None:
        """
        :param jobid: the Flux job id.
        :param sink: where status changes go.
        :param submitted_at: when this process submitted the job (`None` if attached).
        """
        self.job = job
        self.jobid = jobid
        self.sink = sink
        self.lock = threading.Lock()
        self.folder = EventFolder()
        self.ended = False
        self.submitted_at = submitted_at
        self.cancel_requested = False
        """Set by a cancel that came before Flux accepted the job (asynchronous submit)."""

    def on_event(self, name: str, context: Optional[Mapping[str, Any]],
                 timestamp: Optional[float]) -> bool:
        """Applies one job event; `True` once the job has reached its final state."""
        with self.lock:
            return self.fold_locked([(name, context, timestamp)])

    def fold_locked(self, events: Iterable[Tuple[str, Optional[Mapping[str, Any]],
                                                 Optional[float]]]) -> bool:
        """Applies events in order; the caller holds `lock`. `True` once the job ended. A job
        attached after it ended (its whole history in `events`) reports its final state
        alone."""
        statuses = []
        for name, context, timestamp in events:
            if self.folder.ended:
                break
            st = self.folder.fold(name, context, timestamp)
            if st is not None:
                statuses.append(st)
        if statuses and statuses[-1].state.final and self._attached_new():
            statuses = statuses[-1:]
        for st in statuses:
            self._report(st)
        return self.ended

    def _attached_new(self) -> bool:
        return self.submitted_at is None and self.job.status.state is JobState.NEW

    def on_record(self, record: Mapping[str, Any]) -> bool:
        """Applies a job record (``flux jobs --json``); `True` once the job has ended."""
        with self.lock:
            if self.ended:
                return True
            statuses = statuses_from_record(record)
            if statuses and statuses[-1].state.final and self._attached_new():
                statuses = statuses[-1:]  # attached after it ended: its final state alone
            for st in statuses:
                if st.state.final:
                    self.folder.ended = True
                self._report(st)
            return self.ended

    def fail(self, message: str) -> None:
        """Ends the job ``FAILED`` with `message` (the instance lost it)."""
        with self.lock:
            if self.ended:
                return
            self.folder.ended = True
            self._report(JobStatus(JobState.FAILED, message=message))

    def _report(self, st: JobStatus) -> None:
        if st.state.final:
            self.ended = True
        self.sink(self.job, st)


class Backend(ABC):
    """
    A connection to one Flux instance, shared by all executors of the process using it.

    A forked child never uses its parent's backends (their connections and threads belong to
    the parent): :func:`forget_backends_after_fork` drops the shared ones in the child, and an
    executor whose backend has another `pid` gets a new one.
    """

    pid = 0
    """The process that created this backend."""

    @abstractmethod
    def submit(self, sub: Submission, make: Callable[[int], TrackedJob]) -> TrackedJob:
        """
        Submits a job and starts following it.

        :param make: builds the tracking state once the id is known.
        :raises psij.SubmitException: if Flux could not be reached or refused the job.
        :raises psij.InvalidJobException: if Flux refused the job as invalid.
        """

    asynchronous = False
    """Whether `submit_nowait` returns before Flux answers (else asynchronous submission
    gains nothing, and `FluxJobExecutor.submit` waits for the answer)."""

    def check_queue(self, name: str) -> None:
        """
        Refuses a queue the instance does not have, when that can be known without
        submitting (asynchronous submission has no answer from Flux to raise); the default
        knows nothing and refuses nothing.

        :raises psij.InvalidJobException: naming the queue and the instance's queues.
        """
        return None

    def submit_nowait(self, sub: Submission, tracked: TrackedJob,
                      accepted: Callable[[int], bool],
                      refused: Callable[[Exception], None]) -> None:
        """
        Sends a job without waiting for Flux's answer (asynchronous submit).

        :param accepted: called with the id once Flux accepted the job, before its events are
            applied; returns whether the job must be canceled right away.
        :param refused: called if Flux refused the job.
        """
        try:
            def make(jobid: int) -> TrackedJob:
                accepted(jobid)
                return tracked
            t = self.submit(sub, make)
        except Exception as ex:  # noqa: BLE001 - the job fails with the reason
            refused(ex)
            return
        if t.cancel_requested:
            self.cancel(t.jobid)

    @abstractmethod
    def follow(self, tracked: TrackedJob) -> None:
        """Follows a job submitted elsewhere (attach): its current state, then its events."""

    @abstractmethod
    def cancel(self, jobid: int) -> None:
        """Cancels a job; a job that already ended (or that Flux does not know) is no error."""

    @abstractmethod
    def list_ids(self) -> List[int]:
        """The ids of this user's jobs that Flux knows, active and inactive."""

    @abstractmethod
    def decode_words(self, text: str) -> Optional[int]:
        """The id for Flux's mnemonic form, if this backend can decode it."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """``bindings`` or ``cli``."""

    @abstractmethod
    def thread_count(self) -> int:
        """The threads this backend runs (constant, whatever the number of jobs)."""


_registries: List[Callable[[], None]] = []


def on_fork_forget(clear: Callable[[], None]) -> None:
    """Registers `clear`, called in a forked child to drop the parent's shared backends."""
    _registries.append(clear)


def forget_backends_after_fork() -> None:
    """Drops every shared backend (in a forked child; registered with `os.register_at_fork`)."""
    for clear in _registries:
        clear()


os.register_at_fork(after_in_child=forget_backends_after_fork)
