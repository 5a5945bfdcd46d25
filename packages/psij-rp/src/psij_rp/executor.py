"""
The ``rp`` executor: jobs run as tasks of a RADICAL-Pilot pilot.

The pilot is the executor's configuration (`RPExecutorConfig`, or the URL ``rp://RESOURCE``
for a resource label): it starts on the first submit, is shared by every executor of the
process with the same configuration, and is closed with the last of them (`close`) or when
the process exits. A pilot that fails or reaches the end of its runtime fails its unfinished
jobs with the pilot's reason.

States come from RADICAL-Pilot's task callbacks: a task waiting for the pilot, for input
staging or for cores is ``QUEUED``, ``AGENT_EXECUTING`` is ``ACTIVE``, output staging is
``STAGE_OUT``, then ``DONE`` is ``COMPLETED`` and ``FAILED`` is ``FAILED`` with the task's exit
code. A job's native id is its task's uid. How a `JobSpec` becomes a task description:
:mod:`psij_rp.task_description`.

A job's duration (``JobAttributes.duration``) is enforced here, not by RADICAL-Pilot (whose
task timeouts keep its agent busy): once the job has been ``ACTIVE`` that long, its task is
canceled and the job ends ``FAILED`` with a message starting "walltime exceeded" and no exit
code (one thread and one deadline heap for all executors of the process).
"""

from __future__ import annotations

import heapq
import itertools
import os
import pathlib
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from psij._files import read_tail
from psij.exceptions import InvalidJobException, SubmitException
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import pre_launch_failure

from psij_rp.pilot import PilotKey, SharedPilot, TaskEvent
from psij_rp.task_description import task_description

__all__ = ['RPExecutorConfig', 'RPJobExecutor']

_QUEUED_STATES = frozenset({
    'NEW', 'TMGR_SCHEDULING_PENDING', 'TMGR_SCHEDULING', 'TMGR_STAGING_INPUT_PENDING',
    'TMGR_STAGING_INPUT', 'AGENT_STAGING_INPUT_PENDING', 'AGENT_STAGING_INPUT',
    'AGENT_SCHEDULING_PENDING', 'AGENT_SCHEDULING', 'AGENT_EXECUTING_PENDING'})
_STAGE_OUT_STATES = frozenset({
    'AGENT_STAGING_OUTPUT_PENDING', 'AGENT_STAGING_OUTPUT', 'TMGR_STAGING_OUTPUT_PENDING',
    'TMGR_STAGING_OUTPUT'})


class RPExecutorConfig(JobExecutorConfig):
    """The pilot of an `RPJobExecutor`."""

    def __init__(self, resource: str = 'local.localhost', cores: Optional[int] = None,
                 gpus: int = 0, runtime: int = 60, queue: Optional[str] = None,
                 project: Optional[str] = None, access_schema: Optional[str] = None,
                 sandbox: Optional[str] = None,
                 launcher_log_file: Optional[str] = None,
                 work_directory: Optional[str] = None) -> None:
        """
        :param resource: RADICAL-Pilot's resource label (``local.localhost``,
            ``ornl.frontier``...).
        :param cores: cores of the pilot; the machine's CPUs for ``local.localhost``,
            else 1 (set it for a cluster).
        :param gpus: GPUs of the pilot.
        :param runtime: minutes the pilot runs; its unfinished jobs then fail.
        :param queue: the batch queue of the pilot's job.
        :param project: the project (allocation) charged for the pilot's job.
        :param access_schema: how RADICAL-Pilot reaches the resource (``local``, ``ssh``,
            ``batch``...; the resource's default if `None`).
        :param sandbox: the pilot's sandbox directory (RP's ``radical.pilot.sandbox`` goes
            in it); ``<work_directory>/rp/sandbox`` if `None`.
        :param launcher_log_file: see `JobExecutorConfig` (not used).
        :param work_directory: see `JobExecutorConfig`; RP's client-side session files go to
            ``<work_directory>/rp/sessions``.
        """
        super().__init__(launcher_log_file=launcher_log_file, work_directory=work_directory)
        if not resource or not isinstance(resource, str):
            raise ValueError('resource must be a resource label such as local.localhost')
        if cores is None:
            cores = (os.cpu_count() or 1) if resource == 'local.localhost' else 1
        for name, value, minimum in (('cores', cores, 1), ('gpus', gpus, 0),
                                     ('runtime', runtime, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError('%s must be an integer >= %d, not %r' % (name, minimum, value))
        self.resource = resource
        self.cores = cores
        self.gpus = gpus
        self.runtime = runtime
        self.queue = queue
        self.project = project
        self.access_schema = access_schema
        self.sandbox = sandbox

    def pilot_key(self) -> PilotKey:
        """The identity of the pilot this configuration asks for."""
        base = pathlib.Path(self.work_directory).expanduser() / 'rp'
        sandbox = pathlib.Path(self.sandbox).expanduser() if self.sandbox else base / 'sandbox'
        return PilotKey(self.resource, self.cores, self.gpus, self.runtime, self.queue,
                        self.project, self.access_schema, str(sandbox.absolute()),
                        str((base / 'sessions').absolute()))


class _Tracked:
    """One job on the pilot: its job, whether we asked to cancel it, and whether its
    duration passed (we canceled it for that)."""

    __slots__ = ('job', 'cancel_requested', 'walltime_exceeded', 'timed')

    def __init__(self, job: Job) -> None:
        self.job = job
        self.cancel_requested = False
        self.walltime_exceeded = False
        self.timed = False


class RPJobExecutor(JobExecutor):
    """
    Runs jobs as RADICAL-Pilot tasks on one pilot; see the module documentation.

    Callbacks are delivered from RADICAL-Pilot's callback thread: they must return quickly.
    """

    _uids = itertools.count()
    _uid_prefix = 'task.%d.%x' % (os.getpid(), id(object()))

    def __init__(self, url: Optional[str] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param url: ``rp://RESOURCE`` (or just ``RESOURCE``): the pilot's resource label,
            overriding the configuration's.
        :param config: an `RPExecutorConfig` (a plain `JobExecutorConfig` gives the default
            pilot on ``local.localhost``, in its work directory).
        """
        if config is None:
            config = RPExecutorConfig()
        elif not isinstance(config, RPExecutorConfig):
            config = RPExecutorConfig(work_directory=str(config.work_directory))
        if url:
            resource = url[len('rp://'):] if url.startswith('rp://') else url
            if not resource or '/' in resource:
                raise ValueError('url must be rp://RESOURCE, not %r' % url)
            if resource != config.resource:
                config = RPExecutorConfig(resource, None, config.gpus, config.runtime,
                                          config.queue, config.project, config.access_schema,
                                          config.sandbox, None, str(config.work_directory))
        super().__init__(url=url, config=config)
        self._rp_config = config
        self._lock = threading.Lock()
        self._pilot: Optional[SharedPilot] = None
        self._jobs: Dict[str, List[_Tracked]] = {}
        self._closed = False

    @property
    def rp_config(self) -> RPExecutorConfig:
        """The pilot's configuration."""
        return self._rp_config

    def pilot(self) -> SharedPilot:
        """This executor's pilot, started on first use.

        :raises SubmitException: if the executor is closed or RADICAL-Pilot cannot start the
            session or pilot.
        """
        with self._lock:
            if self._closed:
                raise SubmitException('the rp executor is closed')
            p = self._pilot
            if p is not None and p.end_reason is None and p.pid == os.getpid():
                return p
            try:
                p = SharedPilot.get(self._rp_config.pilot_key())
            except Exception as ex:
                raise SubmitException('cannot start a RADICAL-Pilot pilot on %s: %s'
                                      % (self._rp_config.resource, ex), ex) from ex
            self._pilot = p
        p.on_end(self._pilot_ended)
        return p

    def _payload_dir(self) -> pathlib.Path:
        """Where jobs too big for one task argument are written (private; made when
        needed)."""
        return pathlib.Path(self._rp_config.pilot_key().session_directory).parent / 'payloads'

    def close(self) -> None:
        """Releases the pilot (closed when no other executor of the process uses it); jobs
        still running fail with the reason. Idempotent."""
        with self._lock:
            self._closed = True
            p, self._pilot = self._pilot, None
        if p is not None:
            p.release()

    # -- submit --------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """
        Submits `job` as a task on the pilot (starting the pilot on the first submit); returns
        once the task is queued for the pilot's submitter thread, which hands every queued
        task to RADICAL-Pilot in one call: the job is ``QUEUED`` and its native id is the
        task's uid (chosen here) when this returns; a task RADICAL-Pilot does not take ends
        ``FAILED`` with its reason.

        :raises InvalidJobException: naming a field the executor cannot honour.
        :raises SubmitException: if the pilot cannot be started or has ended.
        """
        spec = self._check_job(job)
        try:
            if spec.directory is not None and self._rp_config.resource.startswith('local.') \
                    and not os.path.isdir(spec.directory):
                # a pilot of this machine: the directory is known missing here, at submit
                raise InvalidJobException('JobSpec.directory %s does not exist or is not a '
                                          'directory' % spec.directory)
            uid = '%s.%06d' % (self._uid_prefix, next(self._uids))
            td = task_description(spec, spec.launcher, job.id,
                                  payload_file=self._payload_dir() / uid)
            td['uid'] = uid
            pilot = self.pilot()
            tracked = _Tracked(job)
            with self._lock:
                self._jobs[uid] = [tracked]
            job._native_id = uid

            def refused(ex: Exception) -> None:
                with self._lock:
                    self._jobs.pop(uid, None)
                self._set_job_status(job, JobStatus(
                    JobState.FAILED, message='RADICAL-Pilot did not take the task: %s' % ex))

            try:
                pilot.submit_nowait(td, self._on_task, refused)
            except Exception as ex:
                with self._lock:
                    self._jobs.pop(uid, None)
                job._native_id = None
                raise SubmitException('RADICAL-Pilot did not take the task: %s' % ex, ex) \
                    from ex
            self._set_job_status(job, JobStatus(JobState.QUEUED))
        except BaseException:
            if job.status.state is JobState.NEW and job.native_id is None:
                job.executor = None  # not submitted: may be fixed and submitted again
            raise

    # -- state changes -------------------------------------------------------------------------

    def _on_task(self, ev: TaskEvent) -> None:
        with self._lock:
            tracked = list(self._jobs.get(ev.uid, ()))
            if ev.state in ('DONE', 'FAILED', 'CANCELED'):
                self._jobs.pop(ev.uid, None)
        for t in tracked:
            if ev.state == 'CANCELED' and t.walltime_exceeded and not t.cancel_requested:
                self._set_job_status(t.job, _walltime_status(t.job, ev))
                continue
            status = _status(ev, t.cancel_requested)
            if status is None:
                continue
            if status.state is JobState.FAILED:
                status = _pre_launch_status(t.job, ev, status)
            if status.state is JobState.ACTIVE and not t.timed:
                t.timed = True
                p = self._pilot
                if p is not None:
                    _Walltimes.instance().add(t, p, ev.uid)
            self._set_job_status(t.job, status)

    def _pilot_ended(self, reason: str) -> None:
        with self._lock:
            tracked = [t for ts in self._jobs.values() for t in ts]
            self._jobs.clear()
        for t in tracked:
            if not t.job.status.state.final:
                state = JobState.CANCELED if t.cancel_requested else JobState.FAILED
                self._set_job_status(t.job, JobStatus(state, message=reason))

    # -- cancel, list, attach ------------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        """Asks RADICAL-Pilot to cancel the job's task; a finished job is left alone."""
        if job.status.state.final:
            return
        uid = job.native_id
        if uid is None:
            raise SubmitException('Cannot cancel job %s: it has not been submitted' % job.id)
        with self._lock:
            for t in self._jobs.get(uid, ()):
                if t.job is job:
                    t.cancel_requested = True
            p = self._pilot
        if p is None:
            return
        try:
            p.cancel(uid)
        except Exception as ex:
            raise SubmitException('RADICAL-Pilot could not cancel %s: %s' % (uid, ex), ex) \
                from ex
        _CancelRetries.instance().add(job, p, uid)

    def list(self) -> List[str]:
        """The uids of the tasks of this executor's pilot session."""
        with self._lock:
            p = self._pilot
        return p.uids() if p is not None else []

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows a task of this process's pilot for this configuration (e.g. submitted through
        another `RPJobExecutor` instance). A task the session does not know is ``FAILED``.

        :raises InvalidJobException: if `job` is not new or `native_id` is no task uid.
        """
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('Job %s must be NEW to be attached, not %s'
                                      % (job.id, job.status.state))
        if not native_id or not native_id.startswith('task.') or any(
                c.isspace() for c in native_id):
            raise InvalidJobException('%r is not a RADICAL-Pilot task uid' % native_id)
        pilot = self.pilot()
        job.executor = self
        job._native_id = native_id
        tracked = _Tracked(job)
        with self._lock:
            self._jobs.setdefault(native_id, []).append(tracked)
        current = pilot.follow(native_id, self._on_task)
        if current is None:
            with self._lock:
                self._jobs.pop(native_id, None)
            self._set_job_status(job, JobStatus(
                JobState.FAILED, message='RADICAL-Pilot session of this process has no task '
                                         '%s' % native_id))
            return
        self._on_task(current)


class _Deadlines:
    """
    One thread and one deadline heap for all executors of the process: `_due` is called
    (off the heap's lock) with the task of each entry whose time came, unless its job ended or
    its pilot did. Each subclass has its own thread.
    """

    _lock = threading.Lock()
    _instances: Dict[type, _Deadlines] = {}
    _name = 'psij-rp-deadlines'

    @classmethod
    def instance(cls) -> Any:
        with _Deadlines._lock:
            inst = _Deadlines._instances.get(cls)
            if inst is None or inst._pid != os.getpid():
                inst = _Deadlines._instances[cls] = cls()
            return inst

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._cv = threading.Condition()
        self._heap: List[Tuple[float, int, Job, SharedPilot, str, Any]] = []
        self._seq = itertools.count()
        threading.Thread(target=self._run, name=self._name, daemon=True).start()

    def _push(self, delay: float, job: Job, pilot: SharedPilot, uid: str, data: Any) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job, pilot,
                                        uid, data))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cv.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, job, pilot, uid, data = heapq.heappop(self._heap)
            if job.status.state.final or pilot.end_reason is not None:
                continue
            self._due(job, pilot, uid, data)

    def _due(self, job: Job, pilot: SharedPilot, uid: str, data: Any) -> None:
        raise NotImplementedError


class _CancelRetries(_Deadlines):
    """
    Cancels again a task whose cancel RADICAL-Pilot lost. RP 1.103 loses a cancel that
    arrives while it launches the task (its agent fails to publish the CANCELED state: it
    tries to serialize the task's Popen object) and the task runs on; a second cancel finds it
    running and kills it.
    """

    DELAYS = (3.0, 10.0, 30.0)
    _name = 'psij-rp-cancel'

    def add(self, job: Job, pilot: SharedPilot, uid: str, attempt: int = 0) -> None:
        if attempt < len(self.DELAYS):
            self._push(self.DELAYS[attempt], job, pilot, uid, attempt)

    def _due(self, job: Job, pilot: SharedPilot, uid: str, data: Any) -> None:
        try:
            pilot.cancel(uid)
        except Exception:
            pass  # the pilot is ending: its end fails the job
        self.add(job, pilot, uid, int(data) + 1)


class _Walltimes(_Deadlines):
    """Cancels the tasks of jobs that have been ``ACTIVE`` for their duration."""

    _name = 'psij-rp-walltime'

    def add(self, t: _Tracked, pilot: SharedPilot, uid: str) -> None:
        spec = t.job.spec
        duration = spec.attributes.duration if spec is not None else None
        if duration is not None:
            self._push(duration.total_seconds(), t.job, pilot, uid, t)

    def _due(self, job: Job, pilot: SharedPilot, uid: str, data: Any) -> None:
        data.walltime_exceeded = True
        try:
            pilot.cancel(uid)
        except Exception:
            pass  # the pilot is ending: its end fails the job
        _CancelRetries.instance().add(job, pilot, uid)


def _pre_launch_status(job: Job, ev: TaskEvent, status: JobStatus) -> JobStatus:
    """`status`, with the message naming the job's failing pre-launch script if its task
    program said so (on the job's stderr, or the task's)."""
    spec = job.spec
    if spec is None or spec.pre_launch is None:
        return status
    text = ev.stderr or ''
    if spec.stderr_path is not None:
        text = read_tail(pathlib.Path(spec.stderr_path), 4096) + '\n' + text
    message = pre_launch_failure(text)
    if message is None:
        return status
    return JobStatus(JobState.FAILED, exit_code=status.exit_code, message=message,
                     metadata=status.metadata)


def _walltime_status(job: Job, ev: TaskEvent) -> JobStatus:
    duration = job.spec.attributes.duration if job.spec is not None else None
    return JobStatus(JobState.FAILED, metadata={'rp_state': ev.state},
                     message='walltime exceeded: the job ran longer than its duration (%s)'
                             % duration)


def _status(ev: TaskEvent, cancel_requested: bool) -> Optional[JobStatus]:
    meta: Dict[str, Any] = {'rp_state': ev.state}
    if ev.state in _QUEUED_STATES:
        return JobStatus(JobState.QUEUED, metadata=meta)
    if ev.state == 'AGENT_EXECUTING':
        return JobStatus(JobState.ACTIVE, metadata=meta)
    if ev.state in _STAGE_OUT_STATES:
        return JobStatus(JobState.STAGE_OUT, metadata=meta)
    if ev.state == 'DONE':
        code = ev.exit_code if ev.exit_code is not None else 0
        if code == 0:
            return JobStatus(JobState.COMPLETED, exit_code=0, metadata=meta)
        return JobStatus(JobState.FAILED, exit_code=code, metadata=meta)
    if ev.state == 'FAILED':
        message = (ev.exception or ev.stderr).strip()[-500:] or None
        return JobStatus(JobState.FAILED, exit_code=ev.exit_code, message=message,
                         metadata=meta)
    if ev.state == 'CANCELED':
        if cancel_requested:
            return JobStatus(JobState.CANCELED, metadata=meta)
        return JobStatus(JobState.FAILED, exit_code=ev.exit_code, metadata=meta,
                         message='RADICAL-Pilot canceled the task (its pilot ended, or an '
                                 'rp.timeout custom attribute passed)')
    return None
