"""
The ``flux`` executor: jobs submitted to a Flux instance and followed through its job-manager
journal.

Which instance: the executor URL if given (any Flux URI: ``local:///run/flux/local``,
``ssh://host/path``...), else ``$FLUX_URI`` (set inside every Flux job and allocation), else
Flux's default (the system instance). When none answers, `submit`, `attach` and `list` raise a
:class:`~psij.SubmitException` naming the URI and what to do.

How Flux is reached: through its Python bindings when they can be imported (see
:mod:`psij_flux.bindings`): submissions with the job API and one journal stream for all jobs
of the process, pushed by Flux (:mod:`psij_flux.event_stream`). Otherwise through the ``flux``
command, with one bulk ``flux jobs --json`` per cycle (:mod:`psij_flux.cli_backend`). Both use
one thread per instance, whatever the number of jobs.

The jobspec: :mod:`psij_flux.jobspec` (every `JobSpec`, `ResourceSpecV1` and `JobAttributes`
field, launchers, ``flux.*`` custom attributes). Results: :mod:`psij_flux.results`.

Native ids are Flux's f58 form (``ƒW1gwrP``); `attach` accepts every form Flux accepts
(:mod:`psij_flux.job_ids`).

When `submit` returns: the spec was checked and turned into Flux's jobspec (a job Flux cannot
run as given, or naming a queue the instance does not have, is refused right there with
`InvalidJobException`), and the job is queued for the executor's submitter thread, which sends
every queued job to Flux in one pipeline. ``QUEUED`` and the native id follow when Flux
accepts the job (`Job.native_id` waits for that); a job Flux refuses ends ``FAILED`` with
Flux's message; a `cancel` before Flux's answer applies once it comes; a process that exits
right after `submit` waits at exit, up to a minute, until Flux answered its jobs.
``FluxExecutorConfig(async_submit=False)`` makes `submit` wait for Flux's answer (the native id
is known when it returns, and Flux's refusal is raised); so does the ``flux`` command-line
fallback, whose every submission is a command.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Dict, Iterable, List, Optional

from psij import _bulk
from psij.exceptions import InvalidJobException, SubmitException
from psij.job import Job, PendingNativeId
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.job_state import JobState
from psij.job_status import JobStatus

from psij_flux import bindings
from psij_flux.cli_backend import CliBackend
from psij_flux.event_stream import EventStream
from psij_flux.job_ids import parse_job_id, to_f58
from psij_flux.jobspec import FLUX_STARTED, SINGLE, build_submission
from psij_flux.tracking import Backend, TrackedJob

__all__ = ['FluxExecutorConfig', 'FluxJobExecutor']


class _FluxAnswer(PendingNativeId):
    """A job's native id while Flux has not answered its asynchronous submission."""

    __slots__ = ('_done', '_value')

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Optional[str] = None

    def give(self, native_id: Optional[str]) -> None:
        """Flux's answer: the id, or `None` for a refused job."""
        self._value = native_id
        self._done.set()

    def resolve(self) -> Optional[str]:
        """Waits for Flux's answer."""
        self._done.wait()
        return self._value


class FluxExecutorConfig(JobExecutorConfig):
    """Configuration of the `FluxJobExecutor`."""

    def __init__(self, connect_timeout: float = 30.0, use_bindings: Optional[bool] = None,
                 poll_interval: float = 1.0, command_timeout: float = 60.0,
                 async_submit: bool = True,
                 launcher_log_file: Optional[str] = None,
                 work_directory: Optional[str] = None) -> None:
        """
        :param connect_timeout: seconds to wait for the instance to answer the first time.
        :param use_bindings: `True` to require the Python bindings, `False` to use the ``flux``
            command line, `None` (default) for the bindings when they can be imported.
        :param poll_interval: seconds between two status queries of the command-line fallback.
        :param command_timeout: seconds a ``flux`` command may take (command-line fallback).
        :param async_submit: `True` (default): `FluxJobExecutor.submit` returns before Flux
            answers, and the submitter sends all queued jobs at once; `False`: it returns once
            Flux accepted the job (see `FluxJobExecutor.submit`).
        :param launcher_log_file: see `JobExecutorConfig` (not used: the output of pre- and
            post-launch scripts goes to the job's standard output and error).
        :param work_directory: see `JobExecutorConfig` (not used).
        """
        super().__init__(launcher_log_file=launcher_log_file, work_directory=work_directory)
        self.connect_timeout = float(connect_timeout)
        self.use_bindings = use_bindings
        self.poll_interval = float(poll_interval)
        self.command_timeout = float(command_timeout)
        self.async_submit = bool(async_submit)


class FluxJobExecutor(JobExecutor):
    """
    Runs jobs in a Flux instance; see the module documentation.

    Callbacks are delivered from the executor's event thread (one per Flux instance): they must
    return quickly.
    """

    def __init__(self, url: Optional[str] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param url: the Flux URI; ``$FLUX_URI`` if `None`.
        :param config: a `FluxExecutorConfig` (or a plain `JobExecutorConfig`).
        """
        super().__init__(url=url, config=config if config is not None
                         else FluxExecutorConfig())
        self._uri = url or os.environ.get('FLUX_URI', '')
        self._backend_obj: Optional[Backend] = None
        self._pending: Dict[str, TrackedJob] = {}
        """Jobs queued for asynchronous submission that Flux has not accepted yet."""
        self._pending_lock = threading.Lock()

    @property
    def uri(self) -> str:
        """The instance's URI ('' = Flux's default instance)."""
        return self._uri

    def _flux_config(self) -> FluxExecutorConfig:
        cfg = self.config
        return cfg if isinstance(cfg, FluxExecutorConfig) else FluxExecutorConfig()

    def backend(self) -> Backend:
        """The connection to the instance (shared with the other executors of the process).

        :raises SubmitException: if no instance answers, or bindings are required and missing.
        """
        b = self._backend_obj
        if b is not None and b.pid == os.getpid():
            return b
        cfg = self._flux_config()
        mod = bindings.load() if cfg.use_bindings is not False else None
        if cfg.use_bindings is True and mod is None:
            raise SubmitException('FluxExecutorConfig(use_bindings=True) but the Flux Python '
                                  'bindings cannot be imported: %s' % bindings.load_error())
        if mod is not None:
            b = EventStream.get(self._uri, cfg.connect_timeout)
        else:
            b = CliBackend.get(self._uri, bindings.flux_command(), cfg.poll_interval,
                               cfg.command_timeout)
        self._backend_obj = b
        return b

    # -- submit ------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """
        Submits `job` to Flux.

        The spec is checked and turned into Flux's jobspec here, so a job Flux cannot run as
        given is refused at once. Then, by default, `submit` returns as soon as the job is
        queued for the executor's submitter thread, which sends all queued jobs to Flux in one
        pipeline (as the PSI/J specification allows: every later change, failures included,
        comes as a status): ``QUEUED`` follows when Flux accepted the job; `Job.native_id`
        waits for that answer; a job Flux refuses (an unknown queue or bank) ends ``FAILED``
        with Flux's message; `cancel` before the answer applies once it comes; a process that
        exits right after `submit` waits at exit (up to a minute) until Flux answered its
        jobs. With ``FluxExecutorConfig(async_submit=False)`` it returns once Flux accepted the
        job (native id known, ``QUEUED``) and raises Flux's refusal.

        :raises InvalidJobException: for a spec Flux cannot run as given, or (synchronous
            submission) that Flux refused as invalid (e.g. an unknown queue), with Flux's
            message.
        :raises SubmitException: if the instance cannot be reached (``transient``).
        """
        self._submit(job, False)

    def submit_many(self, jobs: Iterable[Job]) -> List[Job]:
        """
        Submits all `jobs` in one pipeline of submissions (see `psij_flux.bulk`); returns when
        Flux has accepted or refused each. A refused job ends ``FAILED`` (see
        :meth:`psij.JobExecutor.submit_many`); the refused jobs are returned.
        """
        from psij_flux import bulk
        return bulk.submit_many(self, jobs)

    def _submit(self, job: Job, bulk: bool) -> None:
        # bulk: queued for the submitter like async_submit, and refusals reported as
        # submit_many reports them
        spec = self._check_job(job)
        try:
            launcher = spec.launcher or Launcher.DEFAULT_LAUNCHER_NAME
            command = None
            if launcher != SINGLE and launcher not in FLUX_STARTED:
                try:
                    command = self._get_launcher_from_job(job).get_launch_command(job)
                except ValueError as ex:
                    raise InvalidJobException(str(ex), ex) from ex
            sub = build_submission(spec, launcher, command, bindings.flux_command(),
                                   job_name=job.id)
            backend = self.backend()
            now = time.time()
            tracked = TrackedJob(job, 0, self._set_job_status, submitted_at=now)

            answer = _FluxAnswer()

            def accepted(jobid: int) -> bool:
                tracked.jobid = jobid
                job._native_id = to_f58(jobid)
                answer.give(job._native_id)
                with self._pending_lock:
                    self._pending.pop(job.id, None)
                self._set_job_status(job, JobStatus(JobState.QUEUED, time=now))
                return tracked.cancel_requested

            if bulk or (self._flux_config().async_submit and backend.asynchronous):
                if spec.attributes.queue_name is not None:
                    backend.check_queue(spec.attributes.queue_name)

                def refused(ex: Exception) -> None:
                    with self._pending_lock:
                        self._pending.pop(job.id, None)
                    job._native_id = None
                    answer.give(None)
                    if bulk:
                        _bulk.refuse(self, job, ex)
                    else:
                        tracked.fail('Flux did not accept the job: %s' % ex)

                with self._pending_lock:
                    self._pending[job.id] = tracked
                if not bulk:
                    job._native_id = answer
                backend.submit_nowait(sub, tracked, accepted, refused)
            else:
                def make(jobid: int) -> TrackedJob:
                    accepted(jobid)
                    return tracked

                backend.submit(sub, make)
        except BaseException:
            if job.status.state is JobState.NEW and \
                    (job._native_id is None or isinstance(job._native_id, _FluxAnswer)):
                job._native_id = None
                job.executor = None  # not submitted: may be fixed and submitted again
            raise

    # -- cancel, list, attach ----------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        """Asks Flux to cancel the job; a job that already ended is left alone."""
        if job.status.state.final:
            return
        with self._pending_lock:
            t = self._pending.get(job.id)
            if t is not None:
                t.cancel_requested = True  # canceled once Flux accepted it
                return
        nid = job.native_id
        if nid is None:
            raise SubmitException('Cannot cancel job %s: it has not been submitted' % job.id)
        self.backend().cancel(parse_job_id(nid))

    def list(self) -> List[str]:
        """The f58 ids of this user's active jobs (pending or running), not Flux's history."""
        return [to_f58(i) for i in self.backend().list_ids()]

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows an existing Flux job, given in any id form Flux accepts.

        A job that already ended gets its true final status (exit code, exception); a job the
        instance does not know is reported ``FAILED`` with a message saying so.

        :raises InvalidJobException: if `native_id` is no Flux job id, or `job` is not new.
        """
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('Job %s must be NEW to be attached, not %s'
                                      % (job.id, job.status.state))
        backend = self.backend()
        try:
            jobid = parse_job_id(native_id, backend.decode_words)
        except ValueError as ex:
            raise InvalidJobException(str(ex), ex) from ex
        job.executor = self
        job._native_id = to_f58(jobid)
        backend.follow(TrackedJob(job, jobid, self._set_job_status))
