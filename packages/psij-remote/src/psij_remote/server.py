"""
The far end: ``python -m psij_remote.server``, started by the client's ``ssh`` with a fixed
command line, serving the protocol of :mod:`psij_remote.protocol` on its standard input and
output for as long as the connection lives.

It is a thin layer around the real executors of this host (local, slurm, ...), which keep the
jobs durable: when the connection drops, the server ends and the jobs go on; a new connection
attaches to them again. It reads nothing but its channel and runs only as the ssh user. A
malformed or hostile message gets an error reply and the server keeps serving.

Session, open, close and the attach requests are handled in the order they arrive (a
reconnecting client sends its session, executors and jobs first); submits, cancels, lists and
file transfers run on a small fixed pool of threads, so a slow scheduler command does not hold
the others back.
"""

from __future__ import annotations

import base64
import logging
import os
import platform
import queue
import re
import secrets
import shutil
import stat
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from psij import Job, JobExecutor, JobStatus
from psij._files import ensure_private_dir
from psij.job import PendingNativeId
from psij.serialize import JSONSerializer
from psij.version import VERSION as CORE_VERSION

from psij_remote import config_wire
from psij_remote import protocol as p
from psij_remote.errors import to_info
from psij_remote.journal import SubmissionJournal, prune
from psij_remote.version import VERSION

logger = logging.getLogger('psij_remote.server')

WORKERS = 8
_CLIENT_RE = re.compile(r'[A-Za-z0-9_-]{8,64}')
_INLINE = (p.Session, p.Open, p.Close, p.Attach, p.AttachMany, p.Ping, p.Plugins)


def state_root() -> Path:
    """``~/.psij/remote``: journals, stage areas and the log."""
    return Path.home() / '.psij' / 'remote'


class _Failed(Exception):
    """A request refused with a ready-made error."""

    def __init__(self, info: p.ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


def _bad(message: str) -> _Failed:
    return _Failed(p.ErrorInfo('ValueError', message))


class Server:
    """Serves one connection: reads requests from `rfile`, writes replies and events to
    `wfile`."""

    def __init__(self, rfile: IO[bytes], wfile: IO[bytes]) -> None:
        """:param rfile: the channel's input; :param wfile: its output."""
        self._rfile = rfile
        self._wfile = wfile
        self._out: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._executors: Dict[int, JobExecutor] = {}
        self._jobs: Dict[str, Job] = {}
        self._unresolved: Dict[str, Tuple[str, Job]] = {}
        """Submitted jobs whose native id is not known yet: (key, job) by job id."""
        self._journal: Optional[SubmissionJournal] = None
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix='psij-remote')
        self._serializer = JSONSerializer()
        self._stage_root = state_root() / 'stage'
        self._handlers: Dict[type, Callable[[Any], Dict[str, Any]]] = {
            p.Session: self._session, p.Open: self._open, p.Close: self._close,
            p.Submit: self._submit, p.SubmitMany: self._submit_many, p.Cancel: self._cancel,
            p.Attach: self._attach, p.AttachMany: self._attach_many, p.ListJobs: self._list,
            p.Script: self._script, p.Plugins: self._plugins, p.Ping: lambda r: {},
            p.StageArea: self._stage_area, p.StagePut: self._stage_put,
            p.StageGet: self._stage_get, p.StageList: self._stage_list,
            p.StageMkdir: self._stage_mkdir, p.StageRemove: self._stage_remove,
        }

    # -- the loop --------------------------------------------------------------------------------

    def serve(self) -> None:
        """Greets the client, then serves requests until the channel closes; returns when the
        requests in progress have been answered (or could not be)."""
        writer = threading.Thread(target=self._write_loop, name='psij-remote-writer',
                                  daemon=True)
        writer.start()
        self._send(p.Hello(protocol=p.PROTOCOL_VERSION, psij_remote=VERSION,
                           psij_core=CORE_VERSION, python=platform.python_version(),
                           host=platform.node(), user=_user(), pid=os.getpid()).to_wire())
        while True:
            line = self._read_line()
            if line is None:
                break
            if line:
                self._dispatch(line)
        self._pool.shutdown(wait=True)
        self._resolve_all()
        self._out.put(None)
        writer.join(30)

    def _resolve_all(self) -> None:
        """At the end of the channel: waits for the native ids not known yet, so that the
        journal has them for the client's retry on its next connection."""
        with self._lock:
            items = list(self._unresolved.values())
            self._unresolved.clear()
        journal = self._journal
        for key, job in items:
            try:
                nid = job.native_id
            except Exception:
                continue
            if nid is not None and journal is not None:
                journal.submitted(key, nid)

    def _read_line(self) -> Optional[bytes]:
        """The next line; ``b''`` after a line over `MAX_LINE` (skipped, with an error
        reply); `None` at the end of the channel."""
        line = self._rfile.readline(p.MAX_LINE + 1)
        if not line:
            return None
        if line.endswith(b'\n'):
            return line
        if len(line) <= p.MAX_LINE:
            return line  # the last line, without its newline
        while True:  # skip the rest of the oversized line
            more = self._rfile.readline(1 << 20)
            if not more or more.endswith(b'\n'):
                break
        self._send(p.reply(-1, error=p.ErrorInfo(
            'RemoteProtocolError', 'a message of over %d bytes was skipped' % p.MAX_LINE)))
        return b''

    def _dispatch(self, line: bytes) -> None:
        try:
            rid, req = p.parse_request(p.decode(line))
        except p.ProtocolError as ex:
            rid = getattr(ex, 'request_id', -1)
            self._send(p.reply(rid, error=p.ErrorInfo('RemoteProtocolError', str(ex))))
            return
        if isinstance(req, _INLINE):
            self._handle(rid, req)
        else:
            self._pool.submit(self._handle, rid, req)

    def _handle(self, rid: int, req: p.Message) -> None:
        try:
            ok = self._handlers[type(req)](req)
        except _Failed as ex:
            self._send(p.reply(rid, error=ex.info))
        except Exception as ex:
            logger.debug('%s failed', req.OP, exc_info=True)
            self._send(p.reply(rid, error=to_info(ex)))
        else:
            self._send(p.reply(rid, ok))

    def _send(self, data: bytes) -> None:
        self._out.put(data)

    def _write_loop(self) -> None:
        # the only writer of the channel: requests are read on, whatever the client reads
        broken = False
        while True:
            item = self._out.get()
            if item is None:
                return
            chunks = [item]
            while len(chunks) < 256:
                try:
                    nxt = self._out.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._out.put(None)
                    break
                chunks.append(nxt)
            if broken:
                continue
            try:
                self._wfile.write(b''.join(chunks))
                self._wfile.flush()
            except OSError:
                broken = True  # the client is gone; requests in progress still finish

    # -- executors -------------------------------------------------------------------------------

    def _session(self, req: p.Session) -> Dict[str, Any]:
        if not _CLIENT_RE.fullmatch(req.client):
            raise _bad('a client token is 8 to 64 letters, digits, "-" or "_"')
        root = state_root() / 'submissions'
        with self._lock:
            if self._journal is not None:
                self._journal.close()
            self._journal = SubmissionJournal(root, req.client)
        prune(root)
        return {}

    def _open(self, req: p.Open) -> Dict[str, Any]:
        config = config_wire.from_wire(req.config)
        ex = JobExecutor.get_instance(req.executor, version_constraint=req.version_constraint,
                                      config=config)
        with self._lock:
            self._executors[req.eid] = ex
        desc = ex.descriptor
        return {'name': ex.name, 'version': str(ex.version),
                'scripts': callable(getattr(ex, 'script_for', None)),
                'unsupported': dict(desc.unsupported) if desc is not None else {}}

    def _close(self, req: p.Close) -> Dict[str, Any]:
        with self._lock:
            self._executors.pop(req.eid, None)
        return {}

    def _executor(self, eid: int) -> JobExecutor:
        with self._lock:
            ex = self._executors.get(eid)
        if ex is None:
            raise _bad('no executor %d is open' % eid)
        return ex

    # -- jobs ------------------------------------------------------------------------------------

    def _track(self, jid: str, job: Job, key: Optional[str] = None) -> None:
        """Sends `job`'s status changes as job `jid`'s; for a job submitted with `key` whose
        native id is not known yet, the first status that knows it carries it (and the
        journal records it)."""
        unresolved = [key is not None]

        def changed(j: Job, st: JobStatus) -> None:
            nid = None
            if unresolved[0]:
                nid = _known_native_id(j)
                if nid is not None:
                    unresolved[0] = False
                    with self._lock:
                        self._unresolved.pop(jid, None)
                    if self._journal is not None and key is not None:
                        self._journal.submitted(key, nid)
            self._send(_event(jid, st, nid))
            if st.final:
                with self._lock:
                    if self._jobs.get(jid) is j:
                        del self._jobs[jid]
                    self._unresolved.pop(jid, None)
        with self._lock:
            self._jobs[jid] = job
        job.set_job_status_callback(changed)

    def _untrack(self, jid: str, job: Job) -> None:
        with self._lock:
            if self._jobs.get(jid) is job:
                del self._jobs[jid]

    def _journal_or_fail(self) -> SubmissionJournal:
        j = self._journal
        if j is None:
            raise _bad('no session: send a session request first')
        return j

    def _submit_one(self, ex: JobExecutor, jid: str, key: str,
                    spec_d: Dict[str, Any]) -> Dict[str, Any]:
        journal = self._journal_or_fail()
        spec = self._serializer.from_dict(spec_d)
        earlier = journal.lookup(key)
        if earlier is not None:
            # a retry after a dropped connection: the job is the one submitted then
            if earlier.native_id is not None:
                job = Job(spec)
                self._track(jid, job)
                try:
                    ex.attach(job, earlier.native_id)
                except Exception:
                    self._untrack(jid, job)
                    raise
                return {'native_id': earlier.native_id, 'retried': True}
            if earlier.error is not None:
                raise _Failed(p.ErrorInfo.from_dict(earlier.error))
            raise _Failed(p.ErrorInfo(
                'SubmitException', 'the outcome of this submission is unknown: the far end '
                'ended while submitting it (look for the job with "psij list")'))
        job = Job(spec)
        journal.begin(key)
        self._track(jid, job, key)
        try:
            ex.submit(job)
        except Exception as exc:
            self._untrack(jid, job)
            info = to_info(exc)
            journal.refused(key, info.to_dict())
            raise _Failed(info) from None
        return self._accepted(jid, key, job)

    def _accepted(self, jid: str, key: str, job: Job) -> Dict[str, Any]:
        """The reply to a submit the executor accepted: the native id if known (else it comes
        with a status of the job, and is journaled then)."""
        nid = _known_native_id(job)
        if nid is not None:
            self._journal_or_fail().submitted(key, nid)
            return {'native_id': nid}
        with self._lock:
            if not job.status.final:
                self._unresolved[jid] = (key, job)
        return {}

    def _submit(self, req: p.Submit) -> Dict[str, Any]:
        return self._submit_one(self._executor(req.eid), req.job, req.key, req.spec)

    def _submit_many(self, req: p.SubmitMany) -> Dict[str, Any]:
        ex = self._executor(req.eid)
        journal = self._journal_or_fail()
        results: List[Dict[str, Any]] = []
        fresh: List[Tuple[int, str, str, Job]] = []
        for item in req.jobs:
            try:
                jid, key, spec_d = _item(item, ('job', 'key', 'spec'))
                if journal.lookup(key) is not None:
                    results.append(self._submit_one(ex, jid, key, spec_d))
                    continue
                job = Job(self._serializer.from_dict(spec_d))
            except _Failed as e:
                results.append({'error': e.info.to_dict()})
                continue
            except Exception as e:
                results.append({'error': to_info(e).to_dict()})
                continue
            results.append({})
            fresh.append((len(results) - 1, jid, key, job))
        for _, jid, key, job in fresh:
            journal.begin(key)
            self._track(jid, job, key)
        refused = {id(j) for j in ex.submit_many([f[3] for f in fresh])}
        for i, jid, key, job in fresh:
            if id(job) in refused:
                self._untrack(jid, job)
                exc = (job.status.metadata or {}).get('submit_exception')
                info = to_info(exc) if isinstance(exc, BaseException) else \
                    p.ErrorInfo('SubmitException', job.status.message or 'refused')
                journal.refused(key, info.to_dict())
                results[i] = {'error': info.to_dict()}
            else:
                results[i] = self._accepted(jid, key, job)
        return {'results': results}

    def _cancel(self, req: p.Cancel) -> Dict[str, Any]:
        self._executor(req.eid)
        with self._lock:
            job = self._jobs.get(req.job)
        if job is None:
            return {'known': False}  # ended (its final state was sent) or never known
        job.cancel()
        return {'known': True}

    def _attach(self, req: p.Attach) -> Dict[str, Any]:
        ex = self._executor(req.eid)
        job = Job()
        self._track(req.job, job)
        try:
            ex.attach(job, req.native_id)
        except Exception:
            self._untrack(req.job, job)
            raise
        # the status the attach found, so that the client's attach returns with it too
        return {'status': _status_fields(job.status)}

    def _attach_many(self, req: p.AttachMany) -> Dict[str, Any]:
        ex = self._executor(req.eid)
        pairs: List[Tuple[Job, str]] = []
        jids: Dict[int, str] = {}
        refused: List[Dict[str, Any]] = []
        for item in req.jobs:
            try:
                jid, nid = _item(item, ('job', 'native_id'))
            except _Failed as e:
                refused.append({'job': str(item.get('job')) if isinstance(item, dict) else '',
                                'error': e.info.to_dict()})
                continue
            job = Job()
            self._track(jid, job)
            pairs.append((job, nid))
            jids[id(job)] = jid
        bad = set()
        for job, exc in ex.attach_many(pairs):
            bad.add(id(job))
            self._untrack(jids[id(job)], job)
            refused.append({'job': jids[id(job)], 'error': to_info(exc).to_dict()})
        statuses = {jids[id(j)]: _status_fields(j.status) for j, _ in pairs if id(j) not in bad}
        return {'refused': refused, 'statuses': statuses}

    def _list(self, req: p.ListJobs) -> Dict[str, Any]:
        return {'native_ids': list(self._executor(req.eid).list())}

    def _script(self, req: p.Script) -> Dict[str, Any]:
        script_for = getattr(self._executor(req.eid), 'script_for', None)
        if not callable(script_for):
            raise _bad('this executor writes no submit scripts')
        return {'script': str(script_for(Job(self._serializer.from_dict(req.spec))))}

    def _plugins(self, req: p.Plugins) -> Dict[str, Any]:
        from psij.plugins import registry

        registry.discover()
        out: Dict[str, Any] = {'problems': [
            '%s (%s): %s' % (pr.plugin, pr.source, pr.error) for pr in registry.problems()]}
        for kind in ('executor', 'launcher'):
            rows = []
            for name, entries in sorted(registry.entries(kind).items()):
                for e in entries:
                    if e.desc.name.lower() == name:
                        rows.append({'name': e.desc.name, 'version': str(e.desc.version),
                                     'class': e.desc.cls, 'source': e.source})
            out[kind + 's'] = rows
        return out

    # -- stage areas -----------------------------------------------------------------------------

    def _inside(self, path: str) -> Path:
        """`path` if it lies inside a stage area (no way out by '..' or a link)."""
        root = os.path.realpath(self._stage_root)
        real = os.path.realpath(path)
        parts = Path(real).relative_to(root).parts if real.startswith(root + os.sep) else ()
        if not parts:
            raise _bad('%r is not inside a stage area' % path[:300])
        return Path(real)

    def _stage_area(self, req: p.StageArea) -> Dict[str, Any]:
        ensure_private_dir(self._stage_root)
        area = self._stage_root / secrets.token_hex(8)
        area.mkdir(mode=0o700)
        return {'path': str(area)}

    def _stage_put(self, req: p.StagePut) -> Dict[str, Any]:
        path = self._inside(req.path)
        try:
            data = base64.b64decode(req.data, validate=True)
        except ValueError:
            raise _bad('stage_put: data is not base64') from None
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if req.offset == 0 else 0)
        fd = os.open(path, flags, 0o600)
        try:
            os.pwrite(fd, data, req.offset)
            if req.last:
                os.fchmod(fd, req.mode & 0o7777)
        finally:
            os.close(fd)
        return {}

    def _stage_get(self, req: p.StageGet) -> Dict[str, Any]:
        path = self._inside(req.path)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _bad('%s is not a regular file' % path)
            data = os.pread(fd, p.STAGE_CHUNK, req.offset)
        finally:
            os.close(fd)
        return {'data': base64.b64encode(data).decode('ascii'),
                'eof': req.offset + len(data) >= st.st_size,
                'mode': stat.S_IMODE(st.st_mode)}

    def _stage_list(self, req: p.StageList) -> Dict[str, Any]:
        top = self._inside(req.path)
        entries: List[Dict[str, Any]] = []

        def add(path: Path) -> None:
            st = os.lstat(path)
            kind = 'dir' if stat.S_ISDIR(st.st_mode) else 'file' \
                if stat.S_ISREG(st.st_mode) else 'other'
            entries.append({'path': str(path), 'kind': kind, 'mode': stat.S_IMODE(st.st_mode),
                            'size': st.st_size})
            if kind == 'dir':
                for child in sorted(os.listdir(path)):
                    add(path / child)
        try:
            add(top)
        except FileNotFoundError:
            pass
        return {'entries': entries}

    def _stage_mkdir(self, req: p.StageMkdir) -> Dict[str, Any]:
        self._inside(req.path).mkdir(mode=0o700, parents=True, exist_ok=True)
        return {}

    def _stage_remove(self, req: p.StageRemove) -> Dict[str, Any]:
        path = self._inside(req.path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return {}


def _item(item: Any, keys: Tuple[str, ...]) -> Tuple[Any, ...]:
    if not isinstance(item, dict):
        raise _bad('a list item must be an object with %s' % ', '.join(keys))
    out = []
    for k in keys:
        v = item.get(k)
        if k == 'spec':
            if not isinstance(v, dict):
                raise _bad('item field "spec" must be an object')
        elif not isinstance(v, str):
            raise _bad('item field %r must be a string' % k)
        out.append(v)
    return tuple(out)


def _known_native_id(job: Job) -> Optional[str]:
    """The job's native id if the executor knows it already (without waiting for it)."""
    n = job._native_id
    return None if n is None or isinstance(n, PendingNativeId) else str(n)


def _status_fields(st: JobStatus) -> Dict[str, Any]:
    """A status's fields as a `StatusEvent` carries them (without the job)."""
    d = p.decode(_event('', st))
    return {k: v for k, v in d.items() if k not in ('op', 'job')}


def _event(jid: str, st: JobStatus, native_id: Optional[str] = None) -> bytes:
    meta: Optional[Dict[str, Any]] = None
    if st.metadata:
        meta = {}
        for k, v in st.metadata.items():
            if isinstance(v, BaseException):
                meta[k] = {'__error__': to_info(v).to_dict()}
            elif isinstance(v, (str, int, float, bool, type(None))):
                meta[k] = v
            else:
                meta[k] = str(v)
    return p.StatusEvent(job=jid, state=st.state.name, time=st.time, message=st.message,
                         exit_code=st.exit_code, native_id=native_id,
                         metadata=meta).to_wire()


def _user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def _detach_stdio() -> Tuple[IO[bytes], IO[bytes]]:
    """The channel as private files; fds 0-2 become /dev/null and the log, so that the jobs
    and helper processes started here never hold the ssh channel open."""
    rfile = os.fdopen(os.dup(0), 'rb', buffering=1 << 16)
    wfile = os.fdopen(os.dup(1), 'wb', buffering=1 << 16)
    root = state_root()
    ensure_private_dir(root)
    log = root / 'server.log'
    try:
        if log.stat().st_size > 1 << 20:
            log.replace(root / 'server.log.1')
    except OSError:
        pass
    logfd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    os.close(null)
    os.close(logfd)
    sys.stdout = open(1, 'w', closefd=False)
    sys.stderr = open(2, 'w', closefd=False)
    return rfile, wfile


def main() -> int:
    """Serves the channel on standard input and output; returns when it closes."""
    rfile, wfile = _detach_stdio()
    logging.basicConfig(level=logging.WARNING,
                        format='%(asctime)s psij-remote[%(process)d] %(levelname)s %(message)s')
    Server(rfile, wfile).serve()
    sys.stdout.flush()
    sys.stderr.flush()
    # executors' threads (status engines, keeper clients) must not hold the process: the jobs
    # are durable and a new connection attaches to them again
    os._exit(0)


if __name__ == '__main__':
    main()
