"""The submitting process's side of the keeper (`psij.executors._keeper`).

`KeeperClient.get` starts the process's keeper on first use (and again after a fork, or after
the keeper died): ``python -S`` with only the few psij modules the keeper needs, so it is
serving within a few tens of milliseconds. A request is one datagram on a private socket pair
(a submit waits for its reply: the native id, or why the process could not start); job ends
come back on a second socket pair, read by the process's one `Reaper` thread, which calls the
handler registered for the job.
"""

from __future__ import annotations

import itertools
import marshal
import os
import socket
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import psij
from psij._fork import after_fork_in_child
from psij.executors._keeper import BIG_REQUEST, MAX_DATAGRAM, RECEIVE_BUFFER, Outcome
from psij.executors._reaper import Reaper

EndHandler = Callable[[str, Optional[int], Optional[str]], None]
"""Called in the reaper thread with a job's final state name, exit code and message."""

_BOOT = ('import sys, types\n'
         # Only a few psij modules are needed, not the public API in psij/__init__.py.
         'pkg = types.ModuleType("psij")\n'
         'pkg.__path__ = [sys.argv[1]]\n'
         'sys.modules["psij"] = pkg\n'
         'from psij.executors._keeper import main\n'
         'main(sys.argv[2:])\n')


class KeeperError(OSError):
    """The keeper could not start a job (`errno`, `strerror`, `filename` say why)."""

    def __init__(self, code: int, strerror: str, filename: Optional[str], during: str) -> None:
        """:param during: ``'start'`` (starting the process), ``'watch'`` (watching it) or
            ``'invalid'`` (argv or environment refused, e.g. for a NUL character)."""
        super().__init__(code, strerror, filename)
        self.during = during


class KeeperGone(Exception):
    """The keeper process ended (it was killed): nothing more can be submitted to it."""


def _keeper_command(requests_fd: int, ends_fd: int) -> List[str]:
    fds = [str(requests_fd), str(ends_fd)]
    pkg_dir = os.path.dirname(os.path.abspath(psij.__file__))
    if os.path.isfile(os.path.join(pkg_dir, 'executors', '_keeper.py')):
        return [sys.executable, '-S', '-c', _BOOT, pkg_dir] + fds
    # psij in a zip file or the like: the ordinary (slower) way
    return [sys.executable, '-m', 'psij.executors._keeper'] + fds


class KeeperClient:
    """This process's connection to its keeper."""

    _instance: Optional[KeeperClient] = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> KeeperClient:
        """The process's keeper, started on first use.

        :raises KeeperGone: if it cannot be started.
        """
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = KeeperClient()
            return cls._instance

    def __init__(self) -> None:
        """Starts a keeper process."""
        requests, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ends, their_ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._popen = subprocess.Popen(
                _keeper_command(theirs.fileno(), their_ends.fileno()),
                pass_fds=(theirs.fileno(), their_ends.fileno()), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                close_fds=True)
        except OSError as ex:
            for s in (requests, theirs, ends, their_ends):
                s.close()
            raise KeeperGone('Cannot start the psij keeper process: %s' % ex) from ex
        finally:
            theirs.close()
            their_ends.close()
        self.pid = self._popen.pid
        self._requests = requests
        self._ends = ends
        ends.setblocking(False)
        self._submit_lock = threading.Lock()  # one request waiting for its reply at a time
        self._keys = itertools.count(1)
        self._handlers: Dict[int, EndHandler] = {}
        self._lock = threading.Lock()
        self._inherited: Optional[Dict[bytes, bytes]] = None  # the keeper has it
        Reaper.get().watch(ends.fileno(), self._on_ends, persistent=True)

    # -- requests ---------------------------------------------------------------------------

    def start(self, argv: List[str], executable: str, cwd: str, env: Optional[Dict[str, str]],
              stdio: Tuple[List[int], List[int]], job: Tuple[Any, ...],
              on_end: EndHandler) -> Tuple[int, int, str]:
        """
        Starts a job; returns its key, pid and native id. `on_end` is called once with its
        final state (never before this returns).

        :param env: the job's environment; `None` for this process's current one, which is
            sent only when it changed since the last time (the keeper keeps a copy).
        :param stdio: the standard streams (0, 1, 2) that are not /dev/null and their
            descriptors, which the keeper gets copies of.
        :param job: state directory, standard error path, shell, defer end, node file (see
            `psij.executors._keeper`).
        :raises KeeperError: if the process could not start.
        :raises KeeperGone: if the keeper is not there to start it.
        """
        key = next(self._keys)
        slots, fds = stdio
        with self._lock:
            self._handlers[key] = on_end
        try:
            with self._submit_lock:  # the environment decided in the order requests go
                msg = marshal.dumps(('s', key, argv, executable, cwd, self._environment(env),
                                     slots) + job)
                reply = self._request(msg, fds)
        except BaseException:
            with self._lock:
                self._handlers.pop(key, None)
            raise
        if reply[0] != 'ok':
            with self._lock:
                self._handlers.pop(key, None)
            raise KeeperError(reply[1], reply[2], reply[3], reply[4])
        return key, reply[1], reply[2]

    def _environment(self, env: Optional[Dict[str, str]]) -> Any:
        """What a start request says about the environment (see `psij.executors._keeper`):
        `env` itself, `None` for the inherited environment the keeper has, or ``('=',
        environment)`` for an inherited environment the keeper does not have yet."""
        if env is not None:
            return env
        # Converting os.environ to a dict costs more than the rest of a submit: compare its
        # raw mapping (bytes, no decoding) with the one sent last instead.
        raw = getattr(os.environ, '_data', None)
        if raw is not None and raw == self._inherited:
            return None
        self._inherited = dict(raw) if raw is not None else None
        return ('=', {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()})

    def _request(self, msg: bytes, fds: List[int]) -> Tuple[Any, ...]:
        """Sends a request and waits for its reply (with `_submit_lock` held)."""
        memfd = -1
        if len(msg) > MAX_DATAGRAM:
            memfd = os.memfd_create('psij-job', os.MFD_CLOEXEC)
            _write_all(memfd, msg)
            msg = BIG_REQUEST
            fds = [memfd] + fds
        try:
            if fds:
                socket.send_fds(self._requests, [msg], fds)
            else:
                self._requests.send(msg)
            reply = self._requests.recv(RECEIVE_BUFFER)
        except OSError as ex:
            self._forget()
            raise KeeperGone('The psij keeper process %d is gone (%s)' % (self.pid, ex)) from ex
        finally:
            if memfd >= 0:
                os.close(memfd)
        if not reply:
            self._forget()
            raise KeeperGone('The psij keeper process %d is gone' % self.pid)
        result: Tuple[Any, ...] = marshal.loads(reply)
        return result

    def _send(self, msg: Tuple[Any, ...]) -> None:
        # One datagram: atomic even while another thread waits for a reply.
        try:
            self._requests.send(marshal.dumps(msg))
        except OSError:
            pass  # the keeper is gone: the jobs' ends say so

    def cancel(self, key: int, grace: float) -> None:
        """Cancels the job `key`: SIGTERM to its group now, SIGKILL after `grace` seconds."""
        self._send(('c', key, grace))

    def final(self, key: int, final: Outcome) -> None:
        """The final state of a job started with "defer end", for the keeper to record."""
        self._send(('e', key) + final)

    # -- job ends -----------------------------------------------------------------------------

    def _on_ends(self, fd: int) -> None:
        while True:
            try:
                data = self._ends.recv(RECEIVE_BUFFER)
            except BlockingIOError:
                return
            except OSError:
                data = b''
            if not data:
                self._keeper_died()
                return
            for key, st, code, message in marshal.loads(data):
                with self._lock:
                    handler = self._handlers.pop(key, None)
                if handler is not None:
                    handler(st, code, message)

    def _keeper_died(self) -> None:
        """The keeper ended while we live: it was killed. Its jobs' ends are lost."""
        Reaper.get().unwatch(self._ends.fileno())
        self._forget()
        self._popen.wait()
        code = self._popen.returncode
        with self._lock:
            handlers = list(self._handlers.values())
            self._handlers.clear()
        self._requests.close()
        self._ends.close()
        why = ('killed by signal %d' % -code) if code < 0 else ('exit code %d' % code)
        for handler in handlers:
            handler('FAILED', None, 'The psij keeper process %d that started the job ended '
                    '(%s): the exit code of the job is unknown' % (self.pid, why))

    def _forget(self) -> None:
        with KeeperClient._instance_lock:
            if KeeperClient._instance is self:
                KeeperClient._instance = None  # the next submit starts a new keeper

    def _forget_in_child(self) -> None:
        # A forked child must not hold our sockets: the keeper would not see us go.
        self._requests.close()
        self._ends.close()
        self._popen.returncode = 0  # not the child's to reap


@after_fork_in_child
def _new_keeper_after_fork() -> None:
    # the child gets a keeper of its own on its first submit (see psij._fork)
    c = KeeperClient._instance
    KeeperClient._instance = None
    KeeperClient._instance_lock = threading.Lock()
    if c is not None:
        c._forget_in_child()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]

