"""
`RemoteJobExecutor`: an executor of another host, driven over ssh.

``JobExecutor.get_instance('slurm', url='ssh://alice@login1')`` returns one; every call is
carried out by the far end's own ``slurm`` executor, and every status change of its jobs comes
back here, in order, to the jobs' and the executor's callbacks, `wait`, `wait_async` and
`status_updates`. Native ids are the far end's own: a job submitted from here can be attached
later from another client, or on the cluster itself, and the reverse.
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from packaging.version import Version
from psij import Job, JobExecutor, JobExecutorConfig, JobState, JobStatus
from psij._bulk import check_list, check_pairs, refuse
from psij.capabilities import SUBMITTER_ENVIRONMENT
from psij.descriptor import Descriptor
from psij.exceptions import InvalidJobException
from psij.serialize import JSONSerializer

from psij_remote import client_staging, config_wire
from psij_remote import protocol as p
from psij_remote.connection import Connection, Tracked, get_connection
from psij_remote.url import RemoteTarget, parse


class RemoteJobExecutor(JobExecutor):
    """
    The proxy of an executor of another host (see the module's description).

    Its `name`, `version` and `descriptor` are those of the far end's executor; `url` is the
    ``ssh://`` URL; `target` says where it runs. All executors of one process that name the
    same user, host, port and virtual environment share one ssh connection.
    """

    def __init__(self, url: Optional[str] = None, config: Optional[JobExecutorConfig] = None,
                 *, executor: str = 'local', version_constraint: Optional[str] = None) -> None:
        """
        Connects (or reuses the connection) and makes the far end's executor.

        :param url: ``ssh://[user@]host[:port][/venv]``.
        :param config: the far end executor's configuration (its class must be installed
            there; paths are paths there).
        :param executor: the name of the far end's executor.
        :param version_constraint: a version specifier for the far end's executor.
        :raises ValueError: for a bad URL, or an executor the far end does not have.
        :raises RemoteError: if ssh cannot connect or log in, or the far end has no psij-remote
            or another version of it.
        """
        if url is None:
            raise ValueError('a remote executor needs an ssh:// URL')
        self.target: RemoteTarget = parse(url)
        super().__init__(url=url, config=config)
        self._conn: Connection = get_connection(self.target)
        self._conn.connect()
        try:
            self._eid, info = self._conn.open_executor(executor, version_constraint,
                                                       config_wire.to_wire(config))
        except ValueError as ex:  # no such executor there: say where
            raise ValueError('%s: %s' % (self.target.label, ex)) from None
        self._remote_name = str(info.get('name', executor))
        self._remote_version = Version(str(info.get('version', '0')))
        unsupported = {str(k): str(v) for k, v in dict(info.get('unsupported') or {}).items()}
        unsupported.setdefault(SUBMITTER_ENVIRONMENT, 'a job of another host inherits the '
                               "environment of the far end's ssh login, not this process's")
        self._descriptor = Descriptor(name=self._remote_name, version=self._remote_version,
                                      cls='psij_remote.executor.RemoteJobExecutor',
                                      unsupported=unsupported)
        self._serializer = JSONSerializer(indent=None)
        self._scripts = bool(info.get('scripts'))
        self._stager: Optional[ThreadPoolExecutor] = None
        self._stager_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The far end executor's name."""
        return self._remote_name

    @property
    def version(self) -> Version:
        """The far end executor's version."""
        return self._remote_version

    @property
    def descriptor(self) -> Optional[Descriptor]:
        """The far end executor's registration (its unsupported capabilities included)."""
        return self._descriptor

    @property
    def connection(self) -> Connection:
        """The shared connection this executor uses."""
        return self._conn

    # -- jobs ------------------------------------------------------------------------------------

    def _prepare(self, job: Job) -> Dict[str, Any]:
        """Checks `job` as every executor does and returns its spec's JSON form; the job is
        bound to this executor (unbound again if this raises)."""
        spec = self._check_job(job)
        try:
            return self._serializer.to_dict(spec)
        except BaseException:
            job.executor = None
            raise

    def _deliver(self, job: Job, status: JobStatus) -> None:
        self._set_job_status(job, status)

    def _follow(self, job: Job, plan: Optional[client_staging.Plan] = None) -> Tracked:
        if plan is None:
            return self._conn.track(job, self._eid, self._deliver)
        return self._conn.track(job, self._eid, partial(self._deliver_staged, plan))

    def _with_client_files(self, job: Job, spec_d: Dict[str, Any]) \
            -> Optional[client_staging.Plan]:
        """Uploads the job's ``client:`` stage-in files (see :mod:`client_staging`); the job
        is unbound again if this raises."""
        try:
            return client_staging.prepare(self._conn, spec_d)
        except BaseException:
            job.executor = None
            raise

    def _deliver_staged(self, plan: client_staging.Plan, job: Job, status: JobStatus) -> None:
        # a job with client: stage-outs: its end there is held back until the files are here
        if status.state is JobState.CLEANUP:
            plan.held.append(status)
        elif status.state.final:
            with self._stager_lock:
                if self._stager is None:
                    self._stager = ThreadPoolExecutor(2, thread_name_prefix='psij-remote-stage')
                stager = self._stager
            stager.submit(self._finish_staged, plan, job, status)
        else:
            self._set_job_status(job, status)

    def _finish_staged(self, plan: client_staging.Plan, job: Job, status: JobStatus) -> None:
        problem = None
        try:
            if plan.downloads:
                self._set_job_status(job, JobStatus(JobState.STAGE_OUT))
                problem = client_staging.download(self._conn, plan)
            client_staging.remove(self._conn, plan)
        except Exception as ex:
            problem = str(ex)
        finally:
            for st in plan.held:
                self._set_job_status(job, st)
            if problem is not None and status.state is not JobState.CANCELED:
                status = JobStatus(JobState.FAILED, exit_code=status.exit_code,
                                   message='copying staged-out files here failed: %s' % problem)
            self._set_job_status(job, status)

    def _accepted(self, t: Tracked, native_id: Optional[str]) -> None:
        self._conn.set_native_id(t, native_id)
        self._set_job_status(t.job, JobStatus(JobState.QUEUED))

    def submit(self, job: Job) -> None:
        """
        Submits the job to the far end's executor; returns once it accepted it (the job then
        has its native id) or raises what that executor raised (`InvalidJobException`, ...).
        A submit cut off by a dropped connection is sent again when the link is back, and the
        far end gives back the job it submitted the first time: never a second job.

        :raises RemoteError: if no connection could be made (the job was not sent).
        """
        spec_d = self._prepare(job)
        plan = self._with_client_files(job, spec_d)
        t = self._follow(job, plan)
        t.submit = msg = p.Submit(eid=self._eid, job=job.id, key=secrets.token_hex(12),
                                  spec=spec_d)
        try:
            ok = self._conn.request(msg)
        except BaseException:
            self._conn.untrack(job)
            if plan is not None:
                client_staging.remove(self._conn, plan)
            if job.status.state is JobState.NEW:
                job.executor = None  # not submitted: it may be fixed and submitted again
            raise
        nid = ok.get('native_id')
        self._accepted(t, nid if isinstance(nid, str) else None)

    def submit_many(self, jobs: Iterable[Job]) -> List[Job]:
        """`JobExecutor.submit_many` in one message: the far end's executor submits the jobs
        its way (native arrays on batch schedulers)."""
        todo = check_list(jobs)
        refused: List[Job] = []
        items: List[Dict[str, Any]] = []
        sent: List[Tuple[Job, Tracked]] = []
        for job in todo:
            try:
                spec_d = self._prepare(job)
                plan = self._with_client_files(job, spec_d)
            except Exception as ex:
                refuse(self, job, ex)
                refused.append(job)
                continue
            t = self._follow(job, plan)
            key = secrets.token_hex(12)
            t.submit = p.Submit(eid=self._eid, job=job.id, key=key, spec=spec_d)
            item: Dict[str, Any] = {'job': job.id, 'key': key, 'spec': spec_d}
            sent.append((job, t))
            items.append(item)
        if not items:
            return refused
        try:
            ok = self._conn.request(p.SubmitMany(eid=self._eid, jobs=items))
        except BaseException:
            for job, _ in sent:
                self._conn.untrack(job)
                if job.status.state is JobState.NEW:
                    job.executor = None
            raise
        results = ok.get('results') or []
        for (job, t), res in zip(sent, results, strict=False):
            if isinstance(res, dict) and 'error' not in res:
                nid = res.get('native_id')
                self._accepted(t, nid if isinstance(nid, str) else None)
                continue
            self._conn.untrack(job)
            from psij_remote.errors import from_info
            err = res.get('error') if isinstance(res, dict) else None
            refuse(self, job, from_info(p.ErrorInfo.from_dict(err), self.target.label))
            refused.append(job)
        return refused

    def cancel(self, job: Job) -> None:
        """Asks the far end to cancel the job (a job already final is left alone)."""
        if job.status.state.final:
            return
        if job.executor is not self:
            raise InvalidJobException('Job %s does not belong to %s' % (job.id, self))
        self._conn.request(p.Cancel(eid=self._eid, job=job.id))

    def attach(self, job: Job, native_id: str) -> None:
        """Follows the far end's job `native_id` with `job` (which must be ``NEW``)."""
        if not isinstance(job, Job):
            raise TypeError('Expected a psij.Job, got %r' % (job,))
        if job.status.state is not JobState.NEW or job.executor is not None:
            raise InvalidJobException('Job %s must be NEW and unbound to be attached'
                                      % job.id)
        if not isinstance(native_id, str) or not native_id:
            raise InvalidJobException('a native id is a non-empty string, not %r'
                                      % (native_id,))
        job.executor = self
        t = self._follow(job)
        self._conn.set_native_id(t, native_id)
        job._native_id = native_id
        try:
            ok = self._conn.request(p.Attach(eid=self._eid, job=job.id, native_id=native_id))
        except BaseException:
            self._conn.untrack(job)
            job.executor = None
            job._native_id = None
            raise
        self._found(job, ok.get('status'))

    def _found(self, job: Job, fields: Any) -> None:
        # an attached job returns with the status the far end found (as on the host); its
        # status events may have brought it already
        st = self._conn.status_of(job.id, fields)
        if st is not None:
            self._set_job_status(job, st)

    def attach_many(self, pairs: Iterable[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """`JobExecutor.attach_many` in one message (one status query there)."""
        todo = check_pairs(pairs)
        refused: List[Tuple[Job, Exception]] = []
        items: List[Dict[str, Any]] = []
        by_id: Dict[str, Job] = {}
        for job, nid in todo:
            if job.status.state is not JobState.NEW or job.executor is not None:
                refused.append((job, InvalidJobException(
                    'Job %s must be NEW and unbound to be attached' % job.id)))
                continue
            job.executor = self
            t = self._follow(job)
            self._conn.set_native_id(t, nid)
            job._native_id = nid
            items.append({'job': job.id, 'native_id': nid})
            by_id[job.id] = job
        if not items:
            return refused
        try:
            ok = self._conn.request(p.AttachMany(eid=self._eid, jobs=items))
        except BaseException:
            for job in by_id.values():
                self._conn.untrack(job)
                job.executor = None
                job._native_id = None
            raise
        from psij_remote.errors import from_info
        for r in ok.get('refused') or []:
            found = by_id.get(str(r.get('job')))
            if found is None:
                continue
            self._conn.untrack(found)
            found.executor = None
            found._native_id = None
            refused.append((found, from_info(p.ErrorInfo.from_dict(r.get('error')),
                                           self.target.label)))
        statuses = ok.get('statuses') or {}
        for jid, job in by_id.items():
            if job.executor is self:
                self._found(job, statuses.get(jid))
        return refused

    def list(self) -> List[str]:
        """The native ids the far end's executor lists."""
        ids = self._conn.request(p.ListJobs(eid=self._eid)).get('native_ids') or []
        return [str(i) for i in ids]

    @property
    def script_for(self) -> Optional[Callable[[Job], str]]:
        """For a batch executor there, the function giving the submit script it would write
        for a job, without submitting it (as ``BatchSchedulerExecutor.script_for``); `None` for
        an executor that writes none."""
        return self._script_for if self._scripts else None

    def _script_for(self, job: Job) -> str:
        spec_d = self._prepare(job)
        job.executor = None  # not submitted
        return str(self._conn.request(p.Script(eid=self._eid, spec=spec_d)).get('script', ''))

    def remote_plugins(self) -> Dict[str, Any]:
        """What ``psij plugins`` lists there: ``executors`` and ``launchers`` (name, version,
        class, source) and ``problems`` (plugins that failed to load)."""
        return self._conn.request(p.Plugins())

    def close(self) -> None:
        """Forgets the far end's executor (its jobs go on; the shared connection stays)."""
        self._conn.close_executor(self._eid)

    def __str__(self) -> str:
        """Name, version and URL."""
        return 'RemoteJobExecutor[%s %s, %s]' % (self._remote_name, self._remote_version,
                                                 self.target)


__all__ = ["RemoteJobExecutor"]
