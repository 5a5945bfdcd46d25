"""
One status engine per scheduler per process, shared by all executor instances of it.

Its thread does two things for all active jobs:

- every `file_check_interval` seconds it looks at the files running jobs write in the work
  directory (start, exit code): cheap local checks that report ACTIVE and final states within
  about a second, without asking the scheduler;
- every `queue_polling_interval` seconds (sooner after a submit, a cancel or a job's end) it
  runs **one** bulk status command for all active jobs; the scheduler is the authority on
  QUEUED, cancellations and scheduler-side failures (time limit, memory, node failure).

The status command runs in a second thread of the engine, so that a slow scheduler (a
``qstat`` of a few hundred jobs takes seconds on a busy server) never delays what the files
tell. A failing status command is retried with exponential backoff and logged; jobs keep their last
known state meanwhile. A job is declared lost only after the scheduler stopped listing it on two
polls in a row, recorded no exit code, and the executor's `get_final_status` knows nothing.
With no active job the thread waits on a condition and does not wake up.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import TYPE_CHECKING, Dict, List, Optional

from psij._fork import after_fork_in_child
from psij._log import get_logger
from psij.executors.batch import job_files
from psij.job_state import JobState
from psij.job_status import JobStatus

if TYPE_CHECKING:
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor
    from psij.job import Job

logger = get_logger(__name__)

MAX_BACKOFF = 300.0
MISSING_POLLS_BEFORE_LOST = 2


class _Tracked:
    __slots__ = ('job', 'executor', 'active', 'missing', 'ended', 'code', 'done')

    def __init__(self, job: Job, executor: BatchSchedulerExecutor,
                 submitted: Optional[float]) -> None:
        self.job = job
        self.executor = executor
        self.active = False
        self.missing = 0
        self.ended = False
        """The job recorded a non-zero exit code; the next poll gives the scheduler's verdict."""
        self.code: Optional[int] = None
        """That exit code (the file may be gone by then if another `Job` followed the job)."""
        self.done = False
        """Its final state is being reported (by one of the engine's two threads, once)."""

    def exit_code(self, native_id: str) -> Optional[int]:
        """The exit code the job recorded, if any."""
        code = self.executor._read_exit_code(native_id)
        return self.code if code is None else code


class StatusEngine:
    """Follows the jobs of one scheduler; see the module documentation."""

    _engines: Dict[str, StatusEngine] = {}
    _engines_lock = threading.Lock()

    @classmethod
    def for_scheduler(cls, key: str) -> StatusEngine:
        """The engine of a scheduler (created on first use)."""
        with cls._engines_lock:
            engine = cls._engines.get(key)
            if engine is None:
                engine = cls._engines[key] = StatusEngine(key)
            return engine

    @classmethod
    def _forget_after_fork(cls) -> None:
        # the threads are gone in the child, and their locks may be held forever; the parent
        # keeps following its jobs, the child follows only its own (see psij._fork)
        cls._engines = {}
        cls._engines_lock = threading.Lock()

    def __init__(self, key: str) -> None:
        """:param key: the scheduler's name, used for the thread name and logs."""
        self.key = key
        self._cv = threading.Condition()
        self._jobs: Dict[str, _Tracked] = {}
        """Keyed by `Job.id`: two `Job` objects may follow one native job (attach)."""
        self._thread: Optional[threading.Thread] = None
        self._poller: Optional[threading.Thread] = None
        self._poll_busy = False
        """A status command runs now (in the poller thread)."""
        self._poll_batch: Optional[List[tuple[str, _Tracked]]] = None
        """The jobs the poller thread is to ask about next."""
        self._poll_requested = False
        self._next_poll = 0.0
        self._backoff = 0.0
        self.polls = 0
        """Status commands run so far (for benchmarks and tests)."""

    # -- registration ----------------------------------------------------------------------------

    def register(self, job: Job, executor: BatchSchedulerExecutor,
                 submitted: Optional[float] = None) -> None:
        """
        Starts following a submitted (or attached) job.

        :param submitted: when the job was submitted (kept for compatibility; files of an
            earlier job with the same native id are told apart by their token, see
            :mod:`psij.executors.batch.job_files`).
        """
        native_id = job.native_id
        assert native_id is not None
        with self._cv:
            self._jobs[job.id] = _Tracked(job, executor, submitted)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name='psij-%s-status' % self.key)
                self._thread.start()
            self._request_poll_locked(executor.config_initial_delay())

    def request_poll(self, delay: float = 0.0) -> None:
        """Asks for a status command within `delay` seconds (e.g. after a cancel)."""
        with self._cv:
            self._request_poll_locked(delay)

    def _request_poll_locked(self, delay: float) -> None:
        if not self._jobs:
            # nothing to poll (e.g. a cancel racing with the job's end): a flag left set now
            # would stop the next submit from waking the thread
            return
        when = time.monotonic() + delay
        if not self._poll_requested or when < self._next_poll:
            self._next_poll = max(when, self._next_poll if self._backoff else 0.0)
            self._poll_requested = True
            # wake the thread only when its schedule changed: a submit loop of N jobs must not
            # wake it N times (each wake-up looks at every tracked job)
            self._cv.notify_all()

    def tracked(self) -> int:
        """The number of jobs followed now."""
        with self._cv:
            return len(self._jobs)

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                self._loop()
            except Exception:
                # a bug in a scheduler's parser must not stop the status of every job: log it,
                # back off, and carry on
                logger.exception('%s status engine failed; restarting it', self.key)
                with self._cv:
                    self._backoff = min(MAX_BACKOFF, max(2.0, self._backoff * 2))
                    self._cv.wait(self._backoff)

    def _loop(self) -> None:
        next_files = 0.0
        while True:
            with self._cv:
                if not self._jobs:
                    self._poll_requested = False  # the next submit schedules the next poll
                    self._backoff = 0.0
                while not self._jobs:
                    self._cv.wait()
                now = time.monotonic()
                file_interval = min(t.executor.config_file_interval()
                                    for t in self._jobs.values())
                if not self._poll_requested and self._next_poll <= now:
                    poll_interval = min(t.executor.config_poll_interval()
                                        for t in self._jobs.values())
                    self._next_poll = now + max(poll_interval, self._backoff)
                    self._poll_requested = True
                # while a status command runs, only the files are looked at
                wake = next_files if self._poll_busy else min(next_files, self._next_poll)
                if wake > now:
                    self._cv.wait(wake - now)
                    continue
                jobs = self._items_locked()
                if not self._poll_busy and self._next_poll <= now:
                    self._poll_requested = False
                    self._poll_busy = True
                    self._poll_batch = jobs
                    if self._poller is None:
                        self._poller = threading.Thread(target=self._run_poller, daemon=True,
                                                        name='psij-%s-poll' % self.key)
                        self._poller.start()
                    self._cv.notify_all()
            if next_files <= now:
                if self._check_files(jobs):
                    self.request_poll(0.0)  # let the scheduler confirm how they ended
                next_files = time.monotonic() + file_interval

    def _run_poller(self) -> None:
        """The poller thread: runs the status commands the engine's thread hands it."""
        while True:
            with self._cv:
                while self._poll_batch is None:
                    self._cv.wait()
                jobs, self._poll_batch = self._poll_batch, None
            try:
                self._poll(jobs)
            except Exception:
                logger.exception('%s status engine failed to poll; retrying later', self.key)
                with self._cv:
                    self._backoff = min(MAX_BACKOFF, max(2.0, self._backoff * 2))
                    self._next_poll = time.monotonic() + self._backoff
                    self._poll_requested = True
            finally:
                with self._cv:
                    self._poll_busy = False
                    self._cv.notify_all()

    def _finish(self, t: _Tracked, code: Optional[int], st: Optional[JobStatus]) -> None:
        """Reports the job's final state, once whichever thread gets there first."""
        with self._cv:
            if t.done:
                return
            t.done = True
        try:
            t.executor._finish(t.job, code, st)
        finally:
            self._forget(t)

    def _items_locked(self) -> List[tuple[str, _Tracked]]:
        return [(t.job.native_id or '', t) for t in self._jobs.values()]

    def _forget(self, t: _Tracked) -> None:
        with self._cv:
            self._jobs.pop(t.job.id, None)

    def _check_files(self, jobs: List[tuple[str, _Tracked]]) -> bool:
        """Reports starts and ends that jobs recorded; True if a job ended."""
        # one directory listing per work directory instead of two stats per job: with
        # hundreds of jobs this is what keeps the thread from competing with submits
        listings: Dict[str, Optional[set[str]]] = {}
        ended = False
        for native_id, t in jobs:
            ex = t.executor
            if t.done or t.job.status.state.final:
                self._forget(t)
                continue
            wd = str(ex.work_directory)
            if wd not in listings:
                listings[wd] = job_files.list_names(ex.work_directory)
            names = listings[wd]
            if names is not None and native_id + job_files.EXIT_CODE_SUFFIX not in names:
                code = None
                if t.active or native_id + job_files.ACTIVE_SUFFIX not in names:
                    continue
            else:
                code = ex._read_exit_code(native_id)
            if code == 0:
                self._finish(t, code, None)
                continue
            if code is not None:
                # a failure: the scheduler may know why (time limit, memory, node failure),
                # so the next status command decides, once
                if not t.ended:
                    t.ended = True
                    t.code = code
                    ended = True
                continue
            if not t.active and ex._is_active(native_id):
                t.active = True
                ex._set_job_status(t.job, JobStatus(JobState.ACTIVE))
        return ended

    def _poll(self, jobs: List[tuple[str, _Tracked]]) -> None:
        if not jobs:
            return
        # executors of one scheduler may use different commands (command directories, e.g. a
        # site's real qstat and a test's stand-in): one status command per set of commands
        groups: Dict[str, List[tuple[str, _Tracked]]] = {}
        for nid, t in jobs:
            groups.setdefault(str(getattr(t.executor, 'command_directory', None)),
                              []).append((nid, t))
        failed = 0
        for group in groups.values():
            if not self._poll_group(group):
                failed += 1
        with self._cv:
            if failed == len(groups):
                self._backoff = min(MAX_BACKOFF, max(2.0, self._backoff * 2))
                self._next_poll = time.monotonic() + self._backoff
                self._poll_requested = True
            else:
                self._backoff = 0.0

    def _poll_group(self, jobs: List[tuple[str, _Tracked]]) -> bool:
        """One status command for `jobs` (which share their executor's commands); False if
        it failed (the jobs keep their last known state)."""
        ex = jobs[0][1].executor
        ids = list(dict.fromkeys(nid for nid, _ in jobs))
        self.polls += 1
        try:
            statuses = ex._query_status(ids)
        except (subprocess.SubprocessError, OSError, RuntimeError) as err:
            logger.warning('%s status command failed (%s); jobs keep their last known state, '
                           'retrying in %.0f s', self.key, err,
                           min(MAX_BACKOFF, max(2.0, self._backoff * 2)))
            return False
        missing = []
        for nid, t in jobs:
            st = statuses.get(nid)
            if t.done or t.job.status.state.final:
                self._forget(t)
            elif st is None:
                t.missing += 1
                if t.exit_code(nid) is not None:
                    self._finish(t, t.exit_code(nid), None)
                elif t.missing >= MISSING_POLLS_BEFORE_LOST:
                    missing.append((nid, t))
            else:
                t.missing = 0
                if st.state.final:
                    self._finish(t, t.exit_code(nid), st)
                elif t.ended:
                    self._finish(t, t.exit_code(nid), None)
                else:
                    if st.state is JobState.ACTIVE:
                        t.active = True
                    t.executor._set_job_status(t.job, st)
        if missing:
            self._resolve_missing(missing)
        return True

    def _resolve_missing(self, missing: List[tuple[str, _Tracked]]) -> None:
        ex = missing[0][1].executor
        try:
            finals = ex.get_final_status(list(dict.fromkeys(nid for nid, _ in missing)))
        except Exception as err:  # a fallback that fails must not lose the jobs
            logger.warning('%s: could not ask for the final status of jobs gone from the queue '
                           '(%s); will retry', self.key, err)
            return
        for nid, t in missing:
            st = finals.get(nid)
            code = t.exit_code(nid)
            if st is None and code is None:
                st = JobStatus(JobState.FAILED, message='The job left the %s queue without '
                               'recording an exit code, and the scheduler has no record of how '
                               'it ended' % self.key)
            self._finish(t, code, st)


after_fork_in_child(StatusEngine._forget_after_fork)
