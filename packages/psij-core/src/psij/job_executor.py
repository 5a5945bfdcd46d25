"""The `JobExecutor` base class: submits jobs to a backend and reports their status."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from psij._log import get_logger
from psij.descriptor import Descriptor
from psij.exceptions import InvalidJobException
from psij.job import Job, JobStatusCallback, _as_callback
from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.job_spec import JobSpec, _check_env
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

    from packaging.version import Version

    from psij.job import CallbackLike

logger = get_logger(__name__)


class JobExecutor(ABC):
    """
    The base class of all executors.

    Get an instance with :meth:`get_instance`. A subclass implements :meth:`submit`,
    :meth:`cancel`, :meth:`list` and :meth:`attach`, and reports status changes with
    :meth:`_set_job_status`, which keeps the order, completeness and callback guarantees of
    :class:`~psij.Job`.
    """

    def __init__(self, url: Optional[str] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param url: the backend's location, if it needs one.
        :param config: the configuration; :attr:`JobExecutorConfig.DEFAULT` if `None`.
        """
        self.url = url
        self.config = config if config is not None else JobExecutorConfig.DEFAULT
        self._cb: Optional[JobStatusCallback] = None
        self._launchers_lock = threading.RLock()
        self._launchers: Dict[str, Launcher] = {}

    @property
    def name(self) -> str:
        """The name this executor was registered under."""
        name: str = getattr(type(self), '_NAME_', type(self).__name__)
        return name

    @property
    def version(self) -> Version:
        """The version this executor was registered with."""
        from packaging.version import Version
        version: Version = getattr(type(self), '_VERSION_', Version('0'))
        return version

    @property
    def descriptor(self) -> Optional[Descriptor]:
        """The descriptor this executor was registered with, if it came from the registry."""
        desc: Optional[Descriptor] = getattr(type(self), '_DESCRIPTOR_', None)
        return desc

    # -- the backend-specific part ---------------------------------------------------------------

    @abstractmethod
    def submit(self, job: Job) -> None:
        """
        Submits a job.

        When this returns, the job has been handed to the backend and has a `native_id`; its
        further states, failures included, arrive as status changes. If it raises, the job was
        not submitted and its status is unchanged.

        :raises InvalidJobException: if the job's specification is wrong; submitting it again
            would fail the same way.
        :raises SubmitException: if the backend could not be reached or refused the job for a
            reason unrelated to the job; ``transient`` says whether a retry may help.
        """

    @abstractmethod
    def cancel(self, job: Job) -> None:
        """
        Asks the backend to cancel a job.

        A successful return means the request was made; the job reports ``CANCELED`` when it is
        gone, unless it reached another final state first. Cancelling a finished job does
        nothing.
        """

    @abstractmethod
    def list(self) -> List[str]:
        """
        The native ids of this user's jobs that have not ended (queued, held, running,
        suspended), however submitted; a job that ended is not listed, whatever history the
        backend keeps (the same on every executor; the conformance kit checks it).
        """

    @abstractmethod
    def attach(self, job: Job, native_id: str) -> None:
        """
        Binds a new `Job` (in state ``NEW``) to an existing backend job, whose status it then
        follows.
        """

    def submit_many(self, jobs: Iterable[Job]) -> List[Job]:
        """
        Submits many jobs at once, in as few backend calls as the backend allows (batch
        schedulers: native job arrays); returns when every job is accepted or refused.

        Each job stays a job of its own: its own `native_id`, states, exit code, `cancel` and
        `attach`. A job the backend refuses (a bad specification or a refusal of the
        scheduler, e.g. for the third of several arrays) does not stop the others: it ends
        ``FAILED`` with the refusal as its status message and the exception in its status
        metadata under ``'submit_exception'``; the jobs accepted run. Nothing is
        half-submitted: when this returns, every job has a native id or has ``FAILED``.

        The base class submits the jobs one by one with `submit`; executors with a native
        bulk feature override it.

        :param jobs: jobs in the ``NEW`` state.
        :return: the refused jobs (empty if all were accepted).
        :raises TypeError: for an item that is not a `Job`.
        :raises ValueError: for a job given twice.
        """
        from psij import _bulk
        return _bulk.submit_each(self, _bulk.check_list(jobs))

    def attach_many(self, pairs: Iterable[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """
        Attaches many jobs at once: `attach` for each ``(job, native id)`` pair, in as few
        backend calls as the backend allows (batch schedulers: one status command for all
        of them, where `attach` runs one per job); returns when each job's status is known.

        A pair that `attach` would refuse (a job not ``NEW``, an id the backend cannot
        follow) does not stop the others: it is returned with the exception `attach` would
        have raised, and its job stays ``NEW``.

        The base class attaches the jobs one by one with `attach`; executors with a bulk
        status query override it.

        :param pairs: ``(job, native id)`` pairs, each job ``NEW``.
        :return: the refused pairs' jobs, each with its exception (empty if all attached).
        :raises TypeError: for an item that is not a ``(Job, str)`` pair.
        :raises ValueError: for a job given twice.
        """
        from psij import _bulk
        return _bulk.attach_each(self, _bulk.check_pairs(pairs))

    async def submit_async(self, job: Job) -> None:
        """
        `submit` for asyncio: the backend's commands run on a small fixed pool of threads
        (never one per job), so the event loop is not blocked. Raises what `submit` raises.
        """
        from psij._async import submit_async
        await submit_async(self, job)

    # -- callbacks -------------------------------------------------------------------------------

    def set_job_status_callback(self, cb: CallbackLike) -> None:
        """
        Sets a callback called for status changes of every job of this executor, in addition
        to each job's own callback.

        :param cb: a `JobStatusCallback`, a function ``fn(job, status)``, or `None` to remove.
        """
        self._cb = _as_callback(cb)

    def _notify_callback(self, job: Job, status: JobStatus) -> None:
        cb = self._cb
        if cb is not None:
            try:
                cb.job_status_changed(job, status)
            except Exception:
                logger.exception('Executor status callback raised an exception for job %s',
                                 job.id)

    def _set_job_status(self, job: Job, status: JobStatus) -> None:
        """Reports a status change of `job` (ignored if it does not move the job forward)."""
        try:
            job._set_status(status)
        except Exception:
            logger.exception('Failed to set the status of job %s to %s', job.id, status)

    # -- checks for subclasses -------------------------------------------------------------------

    def _check_job(self, job: Job) -> JobSpec:
        """
        Checks what every executor needs of a job before submitting it, binds the job to this
        executor and returns its specification.

        :raises InvalidJobException: for a job that is not ``NEW``, has no specification or
            executable, already belongs to an executor, or has inconsistent resources; a
            `JobSpecTypeError` (also a `TypeError`) for an environment value that is neither
            a string nor an integer.
        """
        if not isinstance(job, Job):
            raise TypeError('Expected a psij.Job, got %r' % (job,))
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('Job %s must be in the NEW state to be submitted, not %s'
                                      % (job.id, job.status.state))
        spec = job.spec
        if spec is None:
            raise InvalidJobException('Job %s has no specification (job.spec is None)' % job.id)
        if not isinstance(spec, JobSpec):
            raise InvalidJobException('job.spec must be a psij.JobSpec, not %r' % (spec,))
        if not spec.executable:
            raise InvalidJobException('JobSpec.executable is not set: nothing to run')
        env = spec.environment
        if env:
            # the dict is the spec's own: a value put in it after it was assigned
            # (spec.environment['x'] = [2]) is checked now (a TypeError, as psij-python)
            env.update(_check_env(env) or {})
        if spec.resources is None:
            spec.resources = ResourceSpecV1()
        elif isinstance(spec.resources, ResourceSpecV1):
            spec.resources._infer()
        if job.executor is not None:
            raise InvalidJobException('Job %s is already bound to executor %s'
                                      % (job.id, job.executor))
        job.executor = self
        return spec

    def _get_launcher(self, name: str, version_constraint: Optional[str] = None) -> Launcher:
        """Returns this executor's instance of the named launcher, creating it on first use."""
        with self._launchers_lock:
            launcher = self._launchers.get(name)
            if launcher is None:
                launcher = Launcher.get_instance(name, version_constraint=version_constraint,
                                                 config=self.config)
                self._launchers[name] = launcher
            return launcher

    def _get_launcher_from_job(self, job: Job) -> Launcher:
        """The launcher a job asks for (``single`` by default)."""
        spec = job.spec
        name = spec.launcher if spec is not None and spec.launcher else \
            Launcher.DEFAULT_LAUNCHER_NAME
        try:
            return self._get_launcher(name)
        except ValueError as ex:
            raise InvalidJobException('JobSpec.launcher=%r: %s' % (name, ex), ex) from ex

    # -- registry --------------------------------------------------------------------------------

    @staticmethod
    def get_instance(name: str, version_constraint: Optional[str] = None,
                     url: Optional[str] = None,
                     config: Optional[JobExecutorConfig] = None) -> JobExecutor:
        """
        Returns a new instance of a registered executor.

        :param name: a name or alias from :meth:`get_executor_names`.
        :param version_constraint: a version specifier such as ``">=0.2, <1"``; the highest
            matching version is used.
        :param url: passed to the executor; a URL whose scheme names an installed transport
            (``ssh://[user@]host[:port][/venv]`` with psij-remote) instead returns an executor
            that runs the executor `name` on that host.
        :param config: passed to the executor.
        :raises ValueError: if no such executor is available, listing the available ones and
            plugins that failed to load; or if the executor failed to load, with the cause; or
            for an ``ssh://`` URL without psij-remote installed.
        """
        from psij.plugins import registry

        if url is not None and '://' in url:
            scheme = url.partition('://')[0].lower()
            if scheme in REMOTE_SCHEMES or scheme in registry.names('transport'):
                return _remote_instance(scheme, name, version_constraint, url, config)
        entry = registry.select('executor', name, version_constraint)
        cls = registry.load_class(entry, JobExecutor)
        _stamp(cls, entry.desc)
        instance: Any = cls(url=url, config=config)
        result: JobExecutor = instance
        return result

    @staticmethod
    def get_executor_names() -> Set[str]:
        """The names (and aliases) of all registered executors."""
        from psij.plugins import registry

        return registry.names('executor')

    @staticmethod
    def register_executor(desc: Descriptor, root: Optional[str] = None) -> None:
        """
        Registers an executor by descriptor, as psij-python allows.

        :param desc: the executor's descriptor.
        :param root: accepted for compatibility with psij-python; the class is imported by
            its module name.
        :raises ValueError: if another executor is registered with the same name and version.
        """
        from psij.plugins import registry

        registry.discover()
        registry.register('executor', desc, 'JobExecutor.register_executor(%s)'
                          % (root or ''), strict=True)

    def __str__(self) -> str:
        """Name, version and URL."""
        if self.url is not None:
            return 'JobExecutor[%s, %s, url=%s]' % (self.name, self.version, self.url)
        return 'JobExecutor[%s, %s]' % (self.name, self.version)


REMOTE_SCHEMES = ('ssh',)
"""URL schemes that always mean another host: refused when no transport serves them, never
passed to a local executor (which would run the job here)."""


def _remote_instance(scheme: str, name: str, version_constraint: Optional[str], url: str,
                     config: Optional[JobExecutorConfig]) -> JobExecutor:
    from psij.plugins import registry

    if scheme not in registry.names('transport'):
        raise ValueError('%s:// URLs name executors of another host, which needs psij-remote '
                         '(pip install psij-remote, here and on that host)' % scheme)
    entry = registry.select('transport', scheme)
    cls = registry.load_class(entry, JobExecutor)
    instance: Any = cls(url=url, config=config, executor=name,
                        version_constraint=version_constraint)
    result: JobExecutor = instance
    return result


def _stamp(cls: type, desc: Descriptor) -> None:
    """Records the registration on the class, where psij-python keeps it."""
    setattr(cls, '_NAME_', desc.name)
    setattr(cls, '_VERSION_', desc.version)
    setattr(cls, '_DESCRIPTOR_', desc)
