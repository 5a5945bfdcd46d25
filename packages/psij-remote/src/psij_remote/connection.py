"""
One ``ssh`` connection per far end, shared by every remote executor and job of the process.

A `Connection` owns the ssh process and two threads whatever the number of executors and jobs:
the *link* thread, which starts ssh, reads the far end's replies and events, and reconnects
with backoff when the channel drops; and the *delivery* thread, which hands status changes to
the jobs (so a callback that submits more jobs never blocks the reading of replies).

It remembers what the far end must know: the executors opened (their ids are chosen here, so
they survive a reconnection), the jobs not yet final with their native ids, and the requests not
yet answered. After a reconnection it sends, in this order, the session (whose journal makes a
retried submit harmless), the executors, one ``attach_many`` per executor for the jobs, then the
requests not answered; the far end handles the first three in order before anything else.
"""

from __future__ import annotations

import atexit
import io
import itertools
import logging
import os
import queue
import secrets
import subprocess
import tempfile
import threading
import time
from functools import partial
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from psij import Job, JobState, JobStatus
from psij._fork import after_fork_in_child
from psij.job import PendingNativeId

from psij_remote import protocol as p
from psij_remote.errors import RemoteError, from_info
from psij_remote.ssh_command import explain, ssh_argv
from psij_remote.url import RemoteTarget

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_ENV = 'PSIJ_REMOTE_CONNECT_TIMEOUT'
"""Seconds to wait for the far end to start (default 60); also how long a request waits for a
connection before it fails without having been sent."""
MAX_BACKOFF = 30.0


def _connect_timeout() -> float:
    try:
        return float(os.environ.get(CONNECT_TIMEOUT_ENV, '60'))
    except ValueError:
        return 60.0


class _Request:
    __slots__ = ('rid', 'msg', 'sent_gen', 'done', 'ok', 'error', 'on_reply', 'created')

    def __init__(self, rid: int, msg: p.Message,
                 on_reply: Optional[Callable[[Optional[Dict[str, Any]],
                                              Optional[Exception]], None]] = None) -> None:
        self.rid = rid
        self.msg = msg
        self.sent_gen = 0
        self.done = threading.Event()
        self.ok: Optional[Dict[str, Any]] = None
        self.error: Optional[Exception] = None
        self.on_reply = on_reply
        self.created = time.monotonic()


class Tracked:
    """A job followed through the connection.

    Until its native id is known, a submitted job keeps its submit request (`submit`): after
    a reconnection it is sent again, and the far end's journal gives back the job submitted the
    first time."""

    __slots__ = ('job', 'eid', 'native_id', 'deliver', 'submit', 'resolved')

    def __init__(self, job: Job, eid: int,
                 deliver: Callable[[Job, JobStatus], None]) -> None:
        self.job = job
        self.eid = eid
        self.native_id: Optional[str] = None
        self.deliver = deliver
        self.submit: Optional[p.Submit] = None
        self.resolved = threading.Event()
        """Set once the native id is known, or the job ended without one."""


class AwaitedNativeId(PendingNativeId):
    """The native id of a job the far end accepted before knowing its native id (the local
    executor's keeper answers later): `Job.native_id` waits for the status that carries it."""

    __slots__ = ('tracked',)

    def __init__(self, tracked: Tracked) -> None:
        self.tracked = tracked

    def resolve(self) -> Optional[str]:
        """Waits for the native id (`None` if the job ended without one)."""
        self.tracked.resolved.wait()
        return self.tracked.native_id


class Connection:
    """The link to one far end (see the module's description)."""

    def __init__(self, target: RemoteTarget) -> None:
        """:param target: where to connect."""
        self.target = target
        self.hello: Optional[p.Hello] = None
        self.client = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._rids = itertools.count(1)
        self._eids = itertools.count(1)
        self._pending: Dict[int, _Request] = {}
        self._opens: Dict[int, p.Open] = {}
        self._jobs: Dict[str, Tracked] = {}
        self._gen = 0
        self._up = False
        self._ever_up = False
        self._closed = False
        self._link: Optional[threading.Thread] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._wfile: Optional[IO[bytes]] = None
        self._last_error: Optional[RemoteError] = None
        self._deliveries: queue.SimpleQueue[Optional[Callable[[], None]]] = queue.SimpleQueue()
        self._delivery: Optional[threading.Thread] = None
        self.reconnects = 0
        """How many times the link was made again after a drop (for tests and benchmarks)."""

    # -- requests --------------------------------------------------------------------------------

    def request(self, msg: p.Message, timeout: Optional[float] = None) -> Dict[str, Any]:
        """
        Sends `msg` and returns the far end's answer; a request cut off by a dropped
        connection is sent again once the link is back.

        :raises RemoteError: if no link to the far end could be made (then the request was not
            sent), or with the far end's own error turned into the exception its executor
            raised (`InvalidJobException`, ...).
        """
        req = self._enqueue(msg)
        wait = _connect_timeout() if timeout is None else timeout
        while not req.done.wait(min(wait, 1.0)):
            with self._lock:
                if req.done.is_set():
                    break
                if req.sent_gen == 0 and time.monotonic() - req.created > wait:
                    del self._pending[req.rid]
                    err = self._last_error
                    raise RemoteError(self.target.label, 'no connection (%s)' % (
                        err.message if err is not None else 'timed out connecting'),
                        transient=True)
        if req.error is not None:
            raise req.error
        return req.ok or {}

    def _enqueue(self, msg: p.Message,
                 on_reply: Optional[Callable[[Optional[Dict[str, Any]],
                                              Optional[Exception]], None]] = None) -> _Request:
        with self._lock:
            if self._closed:
                raise RemoteError(self.target.label, 'the connection is closed')
            req = _Request(next(self._rids), msg, on_reply)
            self._pending[req.rid] = req
            if self._up:
                self._write_locked(req)
            else:
                self._start_link_locked()
            return req

    def _write_locked(self, req: _Request) -> None:
        w = self._wfile
        if w is None:
            return
        try:
            w.write(req.msg.to_wire(id=req.rid))
            w.flush()
        except (OSError, ValueError):
            return  # the link thread sees the end of the channel and sends it again
        req.sent_gen = self._gen

    # -- executors and jobs ----------------------------------------------------------------------

    def open_executor(self, name: str, version_constraint: Optional[str],
                      config: Optional[Dict[str, Any]]) -> Tuple[int, Dict[str, Any]]:
        """Makes an executor there; returns its id and the far end's description of it."""
        eid = next(self._eids)
        msg = p.Open(eid=eid, executor=name, version_constraint=version_constraint,
                     config=config)
        with self._lock:
            self._opens[eid] = msg
        try:
            return eid, self.request(msg)
        except BaseException:
            with self._lock:
                self._opens.pop(eid, None)
            raise

    def close_executor(self, eid: int) -> None:
        """Forgets an executor there (its jobs go on)."""
        with self._lock:
            if self._opens.pop(eid, None) is None or not self._up:
                return
        try:
            self.request(p.Close(eid=eid), timeout=5)
        except Exception:
            pass

    def track(self, job: Job, eid: int, deliver: Callable[[Job, JobStatus], None]) -> Tracked:
        """Starts following `job`: its status events go to ``deliver(job, status)`` on the
        delivery thread."""
        t = Tracked(job, eid, deliver)
        with self._lock:
            self._jobs[job.id] = t
        return t

    def set_native_id(self, t: Tracked, native_id: Optional[str]) -> None:
        """Records the native id of a tracked job (a reconnection attaches by it); `None`: the
        far end will send it with a status."""
        with self._lock:
            if native_id is not None:
                t.native_id = native_id
                t.submit = None
                t.resolved.set()
                t.job._native_id = native_id
            elif t.native_id is None:
                t.job._native_id = AwaitedNativeId(t)
            else:
                t.job._native_id = t.native_id  # its status came first

    def untrack(self, job: Job) -> None:
        """Stops following `job`."""
        with self._lock:
            self._jobs.pop(job.id, None)

    def tracked_count(self) -> int:
        """How many jobs are followed."""
        with self._lock:
            return len(self._jobs)

    def post(self, fn: Callable[[], None]) -> None:
        """Runs `fn` on the delivery thread, after the deliveries queued before it."""
        self._deliveries.put(fn)

    # -- the link --------------------------------------------------------------------------------

    def connect(self) -> p.Hello:
        """Makes the link now if it is down; raises `RemoteError` if it cannot be made."""
        self.request(p.Ping())
        assert self.hello is not None
        return self.hello

    def _start_link_locked(self) -> None:
        if self._link is not None or self._closed:
            return
        self._link = threading.Thread(target=self._run_link, name='psij-remote-link',
                                      daemon=True)
        self._link.start()
        if self._delivery is None:
            self._delivery = threading.Thread(target=self._run_deliveries,
                                              name='psij-remote-delivery', daemon=True)
            self._delivery.start()

    def _needed_locked(self) -> bool:
        return not self._closed and bool(self._pending or self._jobs)

    def _run_link(self) -> None:
        delay = 0.5
        while True:
            with self._lock:
                if not self._needed_locked():
                    self._link = None
                    return
            try:
                proc, rfile = self._start()
            except RemoteError as ex:
                with self._lock:
                    self._last_error = ex
                    if not self._ever_up:
                        # the first link failed: nothing was ever sent, fail what waits
                        for req in list(self._pending.values()):
                            self._finish_locked(req, None, ex)
                        self._link = None
                        return
                logger.warning('psij-remote: %s; trying again in %.1f s', ex, delay)
                with self._cv:
                    self._cv.wait_for(lambda: self._closed, delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            delay = 0.5
            self._serve(proc, rfile)

    def _start(self) -> Tuple[subprocess.Popen[bytes], IO[bytes]]:
        """Starts ssh and reads the far end's hello."""
        label = self.target.label
        err = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(ssh_argv(self.target), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, bufsize=0,
                                    start_new_session=True, close_fds=True)
        except OSError as ex:
            err.close()
            raise RemoteError(label, 'cannot run ssh: %s' % ex) from None
        assert proc.stdin is not None and proc.stdout is not None
        rfile: IO[bytes] = io.BufferedReader(proc.stdout, 1 << 16)  # type: ignore[type-var]
        timer = threading.Timer(_connect_timeout(), proc.kill)
        timer.daemon = True
        timer.start()
        try:
            try:
                proc.stdin.write((self.target.venv or '').encode() + b'\n')
            except OSError:
                pass
            line = rfile.readline(p.MAX_LINE)
        finally:
            timer.cancel()
        try:
            if not line:
                code = proc.wait()
                err.seek(0)
                text = err.read(1 << 16).decode('utf-8', 'replace')
                raise RemoteError(label, explain(self.target, code, text))
            try:
                hello = p.parse_hello(p.decode(line))
            except p.VersionMismatch as ex:
                _stop(proc)
                raise RemoteError(label, 'psij-remote versions differ: %s; install the same '
                                  'psij-remote on both ends' % ex) from None
            except p.ProtocolError as ex:
                _stop(proc)
                raise RemoteError(label, 'the far end does not speak psij-remote (%s): %r'
                                  % (ex, line[:200])) from None
        finally:
            err.close()
        self.hello = hello
        return proc, rfile

    def _restore_locked(self) -> None:
        """Writes what the far end must know after a (re)connection, then the requests not
        answered, in order."""
        assert self._wfile is not None
        msgs: List[Tuple[p.Message, Callable[..., None]]] = [
            (p.Session(client=self.client), self._restored)]
        for opened in self._opens.values():
            msgs.append((opened, self._restored))
        by_eid: Dict[int, List[Dict[str, Any]]] = {}
        resubmit: List[Tracked] = []
        for t in self._jobs.values():
            if t.native_id is not None:
                by_eid.setdefault(t.eid, []).append({'job': t.job.id, 'native_id': t.native_id})
            elif t.submit is not None and not any(
                    r.msg is t.submit for r in self._pending.values()):
                resubmit.append(t)  # accepted, native id not yet known
        for eid, items in by_eid.items():
            msgs.append((p.AttachMany(eid=eid, jobs=items), self._reattached))
        for t in resubmit:
            assert t.submit is not None
            msgs.append((t.submit, partial(self._resubmitted, t)))
        for msg, cb in msgs:
            req = _Request(next(self._rids), msg, cb)
            self._pending[req.rid] = req
            self._write_locked(req)
        for req in sorted(self._pending.values(), key=lambda r: r.rid):
            if req.sent_gen != self._gen:
                self._write_locked(req)

    def _restored(self, ok: Optional[Dict[str, Any]], error: Optional[Exception]) -> None:
        if error is not None:
            logger.warning('psij-remote: %s: could not restore the session: %s',
                           self.target.label, error)

    def _reattached(self, ok: Optional[Dict[str, Any]], error: Optional[Exception]) -> None:
        refused = (ok or {}).get('refused', [])
        if error is not None:
            logger.warning('psij-remote: %s: attaching jobs again failed: %s',
                           self.target.label, error)
            return
        for r in refused:
            with self._lock:
                t = self._jobs.pop(str(r.get('job')), None)
            if t is not None:
                info = p.ErrorInfo.from_dict(r.get('error'))
                st = JobStatus(JobState.FAILED, message='%s: job %s could not be followed again '
                               'after the connection was restored: %s'
                               % (self.target.label, t.native_id, info.message))
                self.post(lambda t=t, st=st: t.deliver(t.job, st))  # type: ignore[misc]

    def _resubmitted(self, t: Tracked, ok: Optional[Dict[str, Any]],
                     error: Optional[Exception]) -> None:
        if error is not None:
            # never left waiting for ever: the job ends, saying what is known
            with self._lock:
                self._jobs.pop(t.job.id, None)
                t.resolved.set()
            st = JobStatus(JobState.FAILED, message='%s: the job was accepted before the '
                           'connection dropped, but could not be found again (%s); it may '
                           'still run there' % (self.target.label, error))
            t.deliver(t.job, st)
            return
        nid = (ok or {}).get('native_id')
        if isinstance(nid, str):
            self.set_native_id(t, nid)

    def _serve(self, proc: subprocess.Popen[bytes], rfile: IO[bytes]) -> None:
        with self._lock:
            self._gen += 1
            if self._ever_up:
                self.reconnects += 1
            self._proc = proc
            self._wfile = proc.stdin
            self._restore_locked()
            self._up = True
            self._ever_up = True
            self._cv.notify_all()
        try:
            while True:
                line = rfile.readline(p.MAX_LINE + 1)
                if not line:
                    break
                self._received(line)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._up = False
                self._wfile = None
                self._proc = None
            _stop(proc)
            if not self._closed:
                logger.warning('psij-remote: the connection to %s dropped; reconnecting',
                               self.target.label)

    def _received(self, line: bytes) -> None:
        try:
            d = p.decode(line)
        except p.ProtocolError as ex:
            logger.warning('psij-remote: %s sent a bad message: %s', self.target.label, ex)
            return
        op = d['op']
        if op == 'reply':
            rid = d.get('id')
            with self._lock:
                req = self._pending.get(rid) if isinstance(rid, int) else None
            if req is None:
                if 'error' in d:
                    logger.warning('psij-remote: %s: %s', self.target.label,
                                   p.ErrorInfo.from_dict(d['error']).message)
                return
            if 'error' in d:
                err = from_info(p.ErrorInfo.from_dict(d['error']), self.target.label)
                ok = None
            else:
                err, ok = None, d.get('ok') if isinstance(d.get('ok'), dict) else {}
            with self._lock:
                self._finish_locked(req, ok, err)
            return
        if op == 'status':
            try:
                ev = p.parse_event(d)
            except p.ProtocolError as ex:
                logger.warning('psij-remote: %s: bad status event: %s', self.target.label, ex)
                return
            self._status(ev)

    def _finish_locked(self, req: _Request, ok: Optional[Dict[str, Any]],
                       err: Optional[Exception]) -> None:
        if self._pending.pop(req.rid, None) is None:
            return
        req.ok, req.error = ok, err
        req.done.set()
        if req.on_reply is not None:
            cb = req.on_reply
            self.post(lambda: cb(ok, err))

    def status_of(self, job_id: str, fields: Any) -> Optional[JobStatus]:
        """The `JobStatus` an attach reply reports for a job (its fields as a status event
        has them), or `None` for a malformed one."""
        if not isinstance(fields, dict):
            return None
        try:
            ev = p.parse_event(dict(fields, op='status', job=job_id))
            return self._job_status(ev)
        except (p.ProtocolError, KeyError):
            return None

    def _job_status(self, ev: p.StatusEvent) -> JobStatus:
        meta: Optional[Dict[str, Any]] = None
        if ev.metadata:
            meta = {}
            for k, v in ev.metadata.items():
                if isinstance(v, dict) and '__error__' in v:
                    meta[k] = from_info(p.ErrorInfo.from_dict(v['__error__']),
                                        self.target.label)
                else:
                    meta[k] = v
        return JobStatus(JobState[ev.state], time=ev.time, message=ev.message,
                         exit_code=ev.exit_code, metadata=meta)

    def _status(self, ev: p.StatusEvent) -> None:
        try:
            state = JobState[ev.state]
        except KeyError:
            return
        with self._lock:
            t = self._jobs.get(ev.job)
            if t is None:
                return
            if ev.native_id is not None and t.native_id is None:
                t.native_id = ev.native_id
                t.submit = None
                if isinstance(t.job._native_id, AwaitedNativeId):
                    t.job._native_id = ev.native_id
                t.resolved.set()
            if state.final:
                del self._jobs[ev.job]
                t.resolved.set()
        st = self._job_status(ev)
        self._deliveries.put(lambda: t.deliver(t.job, st))

    def _run_deliveries(self) -> None:
        while True:
            fn = self._deliveries.get()
            if fn is None:
                return
            try:
                fn()
            except Exception:
                logger.exception('psij-remote: delivering a status failed')

    # -- closing ---------------------------------------------------------------------------------

    def kill_transport(self) -> None:
        """Kills the ssh process (as a dropped network would); the link reconnects if jobs or
        requests need it. For fault tests."""
        with self._lock:
            proc = self._proc
        if proc is not None:
            proc.kill()

    @property
    def ssh_pid(self) -> Optional[int]:
        """The pid of the current ssh process, if the link is up."""
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        """Ends the link (the far end's jobs go on) and the threads."""
        with self._lock:
            self._closed = True
            proc = self._proc
            self._cv.notify_all()
            for req in list(self._pending.values()):
                self._finish_locked(req, None, RemoteError(self.target.label,
                                                           'the connection was closed'))
        if proc is not None:
            _stop(proc)
        self._deliveries.put(None)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Closes ssh's input (the far end then ends) and waits for it, killing it if it lingers."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_connections: Dict[Tuple[str, ...], Connection] = {}
_connections_lock = threading.Lock()


def get_connection(target: RemoteTarget) -> Connection:
    """The process's connection to `target` (made on first use): one per far end and ssh
    command line (``PSIJ_SSH_CONFIG`` and friends may name another key or host key)."""
    key = tuple(ssh_argv(target)) + (target.venv or '',)
    with _connections_lock:
        c = _connections.get(key)
        if c is None or c._closed:
            c = _connections[key] = Connection(target)
        return c


def connections() -> List[Connection]:
    """The connections of this process."""
    with _connections_lock:
        return list(_connections.values())


@atexit.register
def _close_all() -> None:
    for c in connections():
        try:
            c.close()
        except Exception:
            pass


@after_fork_in_child
def _forget_after_fork() -> None:
    # a child must not write into its parent's ssh channel: it makes its own connections
    global _connections, _connections_lock
    _connections = {}
    _connections_lock = threading.Lock()
