"""
One status engine per scheduler per process, shared by all executor instances of it.

What it does, for all the jobs it follows:

- every `file_check_interval` seconds it looks at the files running jobs write in the work
  directory (start, exit code): cheap local checks that report ACTIVE and final states within
  about a second, without asking the scheduler (a look costs one ``stat`` of each work
  directory while nothing was created there, and one listing when something was, whatever
  the number of jobs followed: see `DIRECTORY_SETTLE`);
- every `queue_polling_interval` seconds (sooner after a submit, a cancel or a job's end) it
  runs **one** bulk status command for all jobs; the scheduler is the authority on QUEUED,
  cancellations and scheduler-side failures (time limit, memory, node failure).

Scheduling is one heap of deadlines (`Deadlines`), all in monotonic time (a jump of the
machine's clock changes nothing): the next look at the files, the next status command, and the
retry of a failed one. A status command that does not answer is given up at its own deadline
(the executor's ``command_timeout``: :func:`psij.executors.batch.commands.run_command` kills
it and everything it started); a failed or abandoned one is retried with exponential backoff
(2 s, 4 s, ... `MAX_BACKOFF`) and logged, and jobs keep their last known state meanwhile. A job
is declared lost only after the scheduler stopped listing it on `MISSING_POLLS_BEFORE_LOST`
successful polls in a row, it recorded no exit code, and the executor's final-status fallback
(accounting) knows nothing about it.

Threads: the engine's own (``psij-<scheduler>-status``) waits for the earliest deadline and
looks at the files; a second one (``psij-<scheduler>-poll``) runs the status commands, so that
a slow scheduler (a ``qstat`` of a few hundred jobs takes seconds on a busy server) never
delays what the files tell. Both start with the first job and live as long as the process (they
are daemons); with no job to follow they wait on a condition and do not wake up.

The interface between the engine and the executors is `StatusClient` (what an executor
provides, and from which thread the engine calls it) and the three public methods of
`StatusEngine` an executor calls: `register`, `request_poll` and `tracked`.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Protocol, Tuple

from psij._fork import after_fork_in_child
from psij._log import get_logger
from psij.executors.batch import job_files
from psij.job_state import JobState
from psij.job_status import JobStatus

if TYPE_CHECKING:
    from psij.job import Job

logger = get_logger(__name__)

MAX_BACKOFF = 300.0
"""The longest wait, in seconds, before a failed status command is retried."""
MIN_BACKOFF = 2.0
"""The first wait before a failed status command is retried; it doubles on each failure."""
MISSING_POLLS_BEFORE_LOST = 2
"""Successful status commands in a row that must leave a job out before it may be lost."""
DIRECTORY_SETTLE = 3.0
"""Seconds during which a work directory is listed at every look although its modification
time did not change since it was first seen: on a filesystem with coarse timestamps (Lustre's
are whole seconds) a file created within the same tick as the last listing leaves the time
as it was; after that, an unchanged time means no file was created or renamed there."""
SIGNAL_SETTLE_POLLS = 3
"""Status commands that may still show a job as running after it recorded a death by signal
(an exit code above 128: a cancel from outside, a kill) before the recorded code alone decides:
the scheduler is given the time to show why (LSF's ``bkill``: EXIT, TERM_OWNER)."""


class StatusClient(Protocol):
    """
    What the status engine needs from an executor (:class:`BatchSchedulerExecutor` provides
    it; a batch executor normally has nothing to add). Threads that call each method:

    ``user``: the thread calling `submit`, `cancel` or `attach`; ``files``: the engine's
    thread (``psij-<scheduler>-status``); ``poll``: the engine's status-command thread
    (``psij-<scheduler>-poll``). The engine never calls a method while holding its own lock,
    and never calls `report_final` twice for one job (it may call it from either thread,
    whichever learns the end first).
    """

    work_directory: Path
    """The directory of the job files (read by the engine in the ``files`` thread)."""

    def status_group(self) -> str:
        """Jobs of executors with the same group share one status command (``poll``): the
        executors use the same scheduler commands (command directory)."""
        ...

    def config_poll_interval(self) -> float:
        """Seconds between two status commands (``files``)."""
        ...

    def config_initial_delay(self) -> float:
        """Seconds from a submit to the first status command (``user``)."""
        ...

    def config_file_interval(self) -> float:
        """Seconds between two looks at the job files (``files``)."""
        ...

    def recorded_exit_code(self, native_id: str) -> Optional[int]:
        """The exit code the job wrote in its file, if any (``files``, ``poll``)."""
        ...

    def recorded_start(self, native_id: str) -> bool:
        """Whether the job wrote that it started (``files``, ``poll``)."""
        ...

    def absence_is_end(self, native_id: str) -> bool:
        """Whether the job's absence from a successful status command is its end (``poll``),
        e.g. it was canceled before it started and the scheduler deletes such jobs without
        a trace (Slurm's pending array elements); `report_final` then gets no exit code and
        no status."""
        ...

    def query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        """
        The scheduler's statuses of `native_ids`, from one status command (``poll``); a job
        the scheduler does not list is absent.

        :raises Exception: if the command failed, timed out, or printed something that is not
            a status document: the engine retries later and the jobs keep their state.
        """
        ...

    def get_final_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        """How jobs no longer listed ended (e.g. accounting); empty if unknown (``poll``).
        Only final states count; an exception keeps the jobs followed."""
        ...

    def report_status(self, job: Job, status: JobStatus) -> None:
        """A new non-final status of `job` (``files``, ``poll``)."""
        ...

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """
        The end of `job`, once: `exit_code` as the job recorded it (or `None`) and/or the
        scheduler's final `status` (or `None`); the executor makes the final `JobStatus` of
        them (``files``, ``poll``).
        """
        ...


class Deadlines:
    """
    A heap of deadlines (monotonic times), at most one pending per kind of task: asking for a
    task that is already due sooner changes nothing, asking for it sooner moves it (the later
    entry stays in the heap and is skipped when it comes up).

    Not thread-safe: the engine uses it under its lock.
    """

    def __init__(self) -> None:
        """An empty schedule."""
        self._heap: List[tuple[float, int, str]] = []
        self._due: Dict[str, float] = {}
        self._seq = 0

    def at(self, task: str, when: float) -> bool:
        """Schedules `task` at `when` unless it is due sooner; True if that changed anything."""
        due = self._due.get(task)
        if due is not None and due <= when:
            return False
        self.move(task, when)
        return True

    def move(self, task: str, when: float) -> None:
        """Schedules `task` at `when`, sooner or later than it was."""
        self._due[task] = when
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, task))

    def due(self, task: str) -> Optional[float]:
        """When `task` is due, or `None` if it is not scheduled."""
        return self._due.get(task)

    def take(self, task: str, now: float) -> bool:
        """If `task` is due at `now`, unschedules it and returns True."""
        due = self._due.get(task)
        if due is None or due > now:
            return False
        del self._due[task]
        return True

    def earliest(self, skip: tuple[str, ...] = ()) -> Optional[float]:
        """The earliest deadline of a task not in `skip`, or `None`."""
        heap = self._heap
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)  # moved or taken since
        if heap and heap[0][2] not in skip:
            return heap[0][0]
        return min((when for when, _, task in heap
                    if task not in skip and self._due.get(task) == when), default=None)

    def clear(self) -> None:
        """Unschedules everything."""
        self._heap.clear()
        self._due.clear()


FILES = 'files'
"""The task of looking at the job files."""
POLL = 'poll'
"""The task of running the status command (a poll, or the retry of a failed one)."""


class _Tracked:
    """A followed job and what the engine knows of it (changed under the engine's lock or by
    the one thread handling the job at that moment)."""

    __slots__ = ('job', 'client', 'native_id', 'active', 'missing', 'ended', 'code', 'done',
                 'settle')

    def __init__(self, job: Job, client: StatusClient) -> None:
        self.job = job
        self.client = client
        self.native_id = job.native_id or ''
        self.active = False
        self.missing = 0
        """Successful polls in a row that did not list the job."""
        self.ended = False
        """The job recorded a non-zero exit code; the next poll gives the scheduler's verdict."""
        self.code: Optional[int] = None
        """That exit code (the file may be gone by then if another `Job` followed the job)."""
        self.done = False
        """Its final state is being reported (by one of the engine's two threads, once)."""
        self.settle = 0
        """Polls that showed it not ended after it recorded a death by signal."""

    def exit_code(self) -> Optional[int]:
        """The exit code the job recorded, if any."""
        code = self.client.recorded_exit_code(self.native_id)
        return self.code if code is None else code

    def gone(self) -> bool:
        return self.done or self.job.status.state.final


class _WorkDir:
    """The followed jobs whose files are in one work directory, by native id, and what the
    files thread saw of the directory when it last listed it."""

    __slots__ = ('jobs', 'stamp', 'since', 'relist')

    def __init__(self) -> None:
        self.jobs: Dict[str, List[_Tracked]] = {}
        self.stamp: Optional[Tuple[int, int]] = None
        """(inode, modification time in ns) of the directory at the last listing."""
        self.since = 0.0
        """When (monotonic) `stamp` was first seen."""
        self.relist = True
        """List it at the next look whatever its time (a job was registered)."""

    def changed(self, path: Path, now: float) -> bool:
        """Whether files may have appeared since the last listing (files thread only)."""
        # open + fstat, not stat: opening is what makes an NFS client ask the server again
        # (close-to-open consistency), as the listing did, where stat may answer from a
        # cache kept up to a minute (acdirmax)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                st = os.fstat(fd)
            finally:
                os.close(fd)
        except OSError:
            return True  # listing it says what is wrong
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self.stamp:
            self.stamp, self.since = stamp, now
            return True
        return now - self.since < DIRECTORY_SETTLE


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
        """:param key: the scheduler's name, used for the thread names and logs."""
        self.key = key
        self._cv = threading.Condition()
        self._jobs: Dict[str, _Tracked] = {}
        """Keyed by `Job.id`: two `Job` objects may follow one native job (attach)."""
        self._dirs: Dict[Path, _WorkDir] = {}
        """The same jobs by work directory and native id: a look at the files costs one
        ``stat`` per directory, and a listing only for the jobs whose files it shows, not a
        pass over every job (tens of thousands of held jobs cost nothing there)."""
        self._recheck: Dict[_Tracked, Tuple[bool, bool]] = {}
        """Jobs whose files were listed but not conclusive (a start file being written, an
        earlier submission's file), with which (exit code, start): read again at each look
        until they are."""
        self._clients: Dict[int, Tuple[StatusClient, int]] = {}
        """id(client) -> the client and how many of the followed jobs are its."""
        self._deadlines = Deadlines()
        self._backoff = 0.0
        """The wait before retrying the status command; 0 while it succeeds."""
        self._retry_at = 0.0
        """No status command before this (monotonic) time: the scheduler failed until then."""
        self._failing_groups: set[str] = set()
        """The status groups whose command failed in the last poll."""
        self._threads: List[threading.Thread] = []
        self._polling = False
        """A status command runs now (in the poll thread)."""
        self._poll_batch: Optional[List[_Tracked]] = None
        """The jobs the poll thread is to ask about next."""
        self.polls = 0
        """Status commands run so far (for benchmarks and tests)."""

    # -- what executors call (any thread) --------------------------------------------------------

    def register(self, job: Job, client: StatusClient,
                 submitted: Optional[float] = None) -> None:
        """
        Starts following a submitted (or attached) job; its first status command comes
        within the client's initial delay.

        :param submitted: not used (files of an earlier job with the same native id are told
            apart by their token, see :mod:`psij.executors.batch.job_files`).
        """
        assert job.native_id is not None
        with self._cv:
            if not self._jobs:
                # a fresh start: what was scheduled for jobs that are gone does not apply
                self._deadlines.clear()
                self._backoff = self._retry_at = 0.0
            elif self._retry_at and client.status_group() not in self._failing_groups:
                # only other executors' status commands failed (a broken command directory):
                # their backoff must not hold back this job's first status
                self._retry_at = 0.0
            tracked = self._jobs[job.id] = _Tracked(job, client)
            w = self._dirs.get(client.work_directory)
            if w is None:
                w = self._dirs[client.work_directory] = _WorkDir()
            w.jobs.setdefault(tracked.native_id, []).append(tracked)
            w.relist = True  # its files may be there already (attach)
            _, count = self._clients.get(id(client), (client, 0))
            self._clients[id(client)] = (client, count + 1)
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run_files, daemon=True,
                                     name='psij-%s-status' % self.key),
                    threading.Thread(target=self._run_poller, daemon=True,
                                     name='psij-%s-poll' % self.key)]
                for t in self._threads:
                    t.start()
            self._request_poll_locked(client.config_initial_delay())

    def request_poll(self, delay: float = 0.0) -> None:
        """Asks for a status command within `delay` seconds (e.g. after a cancel); while the
        scheduler fails, not before the retry."""
        with self._cv:
            self._request_poll_locked(delay)

    def tracked(self) -> int:
        """The number of jobs followed now."""
        with self._cv:
            return len(self._jobs)

    def _request_poll_locked(self, delay: float) -> None:
        if not self._jobs:
            return  # nothing to poll (e.g. a cancel racing with the job's end)
        when = max(time.monotonic() + delay, self._retry_at)
        # wake the thread only when its schedule changed: a submit loop of N jobs must not
        # wake it N times (each wake-up looks at every followed job)
        if self._deadlines.at(POLL, when):
            self._cv.notify_all()

    # -- the engine's thread: deadlines and files ------------------------------------------------

    def _run_files(self) -> None:
        while True:
            try:
                self._files_loop()
            except Exception:
                # a bug must not stop the status of every job: log it, wait, carry on
                logger.exception('%s status engine failed; restarting it', self.key)
                time.sleep(MIN_BACKOFF)

    def _files_loop(self) -> None:
        while True:
            with self._cv:
                self._next_files_turn_locked()
            ended = self._check_files()
            with self._cv:
                if ended:
                    self._request_poll_locked(0.0)  # let the scheduler confirm how they ended
                interval = min((c.config_file_interval() for c, _ in self._clients.values()),
                               default=0.0)
                self._deadlines.at(FILES, time.monotonic() + interval)

    def _next_files_turn_locked(self) -> None:
        """Waits (with the lock) for the next look at the files, handing the status command
        to the poll thread on the way when it is due."""
        while True:
            while not self._jobs:
                self._deadlines.clear()
                self._backoff = self._retry_at = 0.0
                self._cv.wait()
            now = time.monotonic()
            d = self._deadlines
            if d.due(FILES) is None:
                d.at(FILES, now)
            if d.due(POLL) is None and not self._polling:
                interval = min(c.config_poll_interval() for c, _ in self._clients.values())
                d.at(POLL, max(now + interval, self._retry_at))
            if not self._polling and d.take(POLL, now):
                self._polling = True
                self._poll_batch = list(self._jobs.values())
                self._cv.notify_all()
            if d.take(FILES, now):
                return
            # while a status command runs, only the files are waited for
            wake = d.earliest(skip=(POLL,) if self._polling else ())
            self._cv.wait(None if wake is None else max(0.0, wake - now))

    def _check_files(self) -> bool:
        """Reports starts and ends that jobs recorded; True if a job ended with a non-zero
        code (the scheduler may know why)."""
        ended = False
        for t, ec, active in self._files_to_read():
            if t.gone():
                self._forget(t)
                continue
            nid = t.native_id
            if t.ended:
                continue  # the next status command decides
            code = t.client.recorded_exit_code(nid) if ec else None
            unsure_start = False
            if code is None:
                if not t.active and active:
                    if t.client.recorded_start(nid):
                        t.active = True
                        t.client.report_status(t.job, JobStatus(JobState.ACTIVE))
                    else:
                        unsure_start = True
            elif code == 0:
                self._finish(t, code, None)
            else:
                # a failure: the next status command decides, once
                t.ended = True
                t.code = code
                ended = True
            unsure = (ec and code is None, unsure_start)
            with self._cv:
                if any(unsure) and not t.done and self._jobs.get(t.job.id) is t:
                    self._recheck[t] = unsure
                else:
                    self._recheck.pop(t, None)
        return ended

    def _files_to_read(self) -> Iterable[Tuple[_Tracked, bool, bool]]:
        """The jobs whose exit-code or start file (or both) is to be read: those the listing of
        a work directory that changed shows, and those to check again; every job of a
        directory that cannot be listed."""
        now = time.monotonic()
        with self._cv:
            dirs = []
            for path, w in self._dirs.items():
                dirs.append((path, w, w.relist))
                w.relist = False
            out: Dict[int, Tuple[_Tracked, bool, bool]] = {
                id(t): (t, ec, active) for t, (ec, active) in self._recheck.items()}
        for path, w, relist in dirs:
            if not w.changed(path, now) and not relist:
                continue
            names = job_files.list_status_names(path)
            with self._cv:
                if names is None:
                    for followers in w.jobs.values():
                        out.update((id(t), (t, True, True)) for t in followers)
                    continue
                for nid, (ec, active) in names.items():
                    for t in w.jobs.get(nid, ()):
                        _, ec0, active0 = out.get(id(t), (t, False, False))
                        out[id(t)] = (t, ec or ec0, active or active0)
        return out.values()

    # -- the poll thread -------------------------------------------------------------------------

    def _run_poller(self) -> None:
        while True:
            with self._cv:
                while self._poll_batch is None:
                    self._cv.wait()
                jobs, self._poll_batch = self._poll_batch, None
            ok = False
            try:
                ok = self._poll(jobs)
            except Exception:
                logger.exception('%s status engine failed to poll; retrying later', self.key)
            with self._cv:
                self._polling = False
                now = time.monotonic()
                if ok:
                    self._backoff = self._retry_at = 0.0
                else:
                    self._backoff = min(MAX_BACKOFF, max(MIN_BACKOFF, self._backoff * 2))
                    self._retry_at = now + self._backoff
                    # a retry replaces any sooner request: the scheduler is failing
                    self._deadlines.move(POLL, max(self._retry_at,
                                                   self._deadlines.due(POLL) or 0.0))
                self._cv.notify_all()

    def _poll(self, jobs: List[_Tracked]) -> bool:
        """One status command per group of jobs; False if all of them failed."""
        # executors of one scheduler may use different commands (command directories, e.g. a
        # site's real qstat and a test's stand-in): one status command per set of commands
        groups: Dict[str, List[_Tracked]] = {}
        client: Optional[StatusClient] = None
        group: List[_Tracked] = []
        for t in jobs:  # tens of thousands: one client's jobs in a row cost one lookup
            if t.gone():
                continue
            if t.client is not client:
                client = t.client
                group = groups.setdefault(client.status_group(), [])
            group.append(t)
        if not groups:
            return True
        results = {key: self._poll_group(group) for key, group in groups.items()}
        with self._cv:
            self._failing_groups = {key for key, ok in results.items() if not ok}
        return any(results.values())

    def _poll_group(self, jobs: List[_Tracked]) -> bool:
        """One status command for `jobs` (which share their executor's commands); False if
        it failed (the jobs keep their last known state)."""
        client = jobs[0].client
        ids = list(dict.fromkeys([t.native_id for t in jobs]))
        self.polls += 1
        try:
            statuses = client.query_status(ids)
        except Exception as err:
            logger.warning('%s status command failed (%s); jobs keep their last known state, '
                           'retrying in %.0f s', self.key, err,
                           min(MAX_BACKOFF, max(MIN_BACKOFF, self._backoff * 2)))
            return False
        missing = []
        for t in jobs:
            st = statuses.get(t.native_id)
            cur = t.job.status
            if t.done or cur.state.final:  # gone()
                self._forget(t)
            elif st is None:
                t.missing += 1
                code = t.exit_code()
                if code is not None or t.client.absence_is_end(t.native_id):
                    self._finish(t, code, None)
                elif t.missing >= MISSING_POLLS_BEFORE_LOST:
                    missing.append(t)
            else:
                t.missing = 0
                if t.ended and not st.state.final and t.code is not None and t.code > 128 \
                        and t.settle < SIGNAL_SETTLE_POLLS:
                    t.settle += 1  # killed: the scheduler may show why at its next poll
                    continue
                if st.state.final or t.ended:
                    self._finish(t, t.exit_code(), st if st.state.final else None)
                else:
                    if st.state is JobState.ACTIVE:
                        t.active = True
                    if st.state is cur.state and (not st.message or st.message == cur.message):
                        continue  # nothing new (the usual case: a long queue of waiting jobs)
                    t.client.report_status(t.job, st)
        if missing:
            self._resolve_missing(missing)
        return True

    def _resolve_missing(self, missing: List[_Tracked]) -> None:
        client = missing[0].client
        try:
            finals = client.get_final_status(list(dict.fromkeys(t.native_id
                                                                for t in missing)))
        except Exception as err:  # a fallback that fails must not lose the jobs
            logger.warning('%s: could not ask for the final status of jobs gone from the queue '
                           '(%s); will retry', self.key, err)
            return
        for t in missing:
            st = finals.get(t.native_id)
            if st is not None and not st.state.final:
                t.missing = 0  # accounting still sees it alive: not lost
                continue
            code = t.exit_code()
            if st is None and code is None:
                st = JobStatus(JobState.FAILED, message='The job left the %s queue without '
                               'recording an exit code, and the scheduler has no record of how '
                               'it ended' % self.key)
            self._finish(t, code, st)

    # -- either thread ---------------------------------------------------------------------------

    def _finish(self, t: _Tracked, code: Optional[int], st: Optional[JobStatus]) -> None:
        """Reports the job's final state, once, whichever thread gets there first."""
        with self._cv:
            if t.done:
                return
            t.done = True
        try:
            t.client.report_final(t.job, code, st)
        finally:
            self._forget(t)

    def _forget(self, t: _Tracked) -> None:
        with self._cv:
            if self._jobs.get(t.job.id) is not t:
                return
            del self._jobs[t.job.id]
            self._recheck.pop(t, None)
            path = t.client.work_directory
            w = self._dirs.get(path)
            followers = w.jobs.get(t.native_id) if w is not None else None
            if w is not None and followers is not None and t in followers:
                followers.remove(t)
                if not followers:
                    del w.jobs[t.native_id]
                if not w.jobs:
                    del self._dirs[path]
            client, count = self._clients[id(t.client)]
            if count > 1:
                self._clients[id(t.client)] = (client, count - 1)
            else:
                del self._clients[id(t.client)]


after_fork_in_child(StatusEngine._forget_after_fork)
