"""The submitting process's side of the keeper (`psij.executors.local._keeper`).

`KeeperClient.get` starts the process's keeper on first use (and again after a fork, or after
the keeper died): ``python -S`` with only the few psij modules the keeper needs, so it is
serving within a few tens of milliseconds. A request is one datagram on a private socket pair.
A submit does not wait for the keeper's answer to its start (the native id, or why the process
could not start): the answers come back on the same socket, read by the process's one `Reaper`
thread, or by a thread that needs one now (`wait_started`); job ends come back on a second
socket pair, read by the `Reaper` thread, which calls the handler registered for the job.
"""

from __future__ import annotations

import collections
import itertools
import os
import select
import socket
import subprocess
import sys
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Union

from psij._fork import after_fork_in_child
from psij.executors.local._keeper import BIG_REQUEST, MAX_DATAGRAM, RECEIVE_BUFFER, Outcome
from psij.executors.local._keeper_messages import (
    Cancel,
    Final,
    JobInfo,
    Refused,
    Reply,
    Request,
    Start,
    Started,
    decode_ends,
    decode_replies,
    encode,
)
from psij.executors.local._reaper import Reaper

EndHandler = Callable[[str, Optional[int], Optional[str]], None]
"""Called in the reaper thread with a job's final state name, exit code and message."""

StartReply = Union[Tuple[int, str], 'KeeperError']
"""The keeper's answer to a start: ``(pid, native id)``, or why it could not start the job."""

StartHandler = Callable[[StartReply], None]
"""Called once with the keeper's answer to a start."""

LostHandler = Callable[[str], None]
"""Called in place of the `EndHandler` of a started job whose keeper died before the job's end
came, with why: the job's process may well still run (in its own session)."""

_BOOT = ('import os, sys, types\n'
         # Only the few psij modules the keeper imports are needed, neither the public API in
         # psij/__init__.py nor the executor that psij/executors/local/__init__.py imports:
         # the packages on the way to the keeper are bare modules.
         'path = sys.argv[1]\n'
         'for name in ("psij.executors.local", "psij.executors", "psij"):\n'
         '    pkg = sys.modules[name] = types.ModuleType(name)\n'
         '    pkg.__path__ = [path]\n'
         '    path = os.path.dirname(path)\n'
         'from psij.executors.local._keeper import main\n'
         'main(sys.argv[2:])\n')


class KeeperError(OSError):
    """The keeper could not start a job (`errno`, `strerror`, `filename` say why)."""

    def __init__(self, code: int, strerror: str, filename: Optional[str], during: str) -> None:
        """:param during: ``'start'`` (starting the process), ``'watch'`` (watching it),
            ``'invalid'`` (argv or environment refused, e.g. for a NUL character) or ``'gone'``
            (the keeper died before it answered)."""
        super().__init__(code, strerror, filename)
        self.during = during


class KeeperGone(Exception):
    """The keeper process ended (it was killed): nothing more can be submitted to it."""


def _keeper_command(requests_fd: int, ends_fd: int) -> List[str]:
    fds = [str(requests_fd), str(ends_fd)]
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isfile(os.path.join(here, '_keeper.py')):
        return [sys.executable, '-S', '-c', _BOOT, here] + fds
    # psij in a zip file or the like: the ordinary (slower) way
    return [sys.executable, '-m', 'psij.executors.local._keeper'] + fds


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

    @classmethod
    def running(cls) -> bool:
        """Whether this process has a live keeper already (`get` would not start one)."""
        inst = cls._instance
        return inst is not None and not inst._dead

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
        self._submit_lock = threading.Lock()  # requests go in the order they were encoded
        self._keys = itertools.count(1)
        self._handlers: Dict[int, Tuple[EndHandler, LostHandler]] = {}
        self._starting: Dict[int, StartHandler] = {}  # starts the keeper did not answer yet
        self._inbox: Deque[Reply] = collections.deque()  # answers read, not handled
        self._handling: Set[int] = set()  # starts whose on_started runs now
        self._lock = threading.Condition()  # guards the four above; notified when an
        # on_started returned
        self._dead = False
        self._inherited: Optional[Dict[bytes, bytes]] = None  # the keeper has it
        reaper = Reaper.get()
        reaper.watch(ends.fileno(), self._on_ends, persistent=True)
        reaper.watch(requests.fileno(), self._on_replies, persistent=True)

    # -- requests ---------------------------------------------------------------------------

    def start(self, argv: List[str], executable: str, cwd: str, env: Optional[Dict[str, str]],
              stdio: Tuple[List[int], List[int]], job: JobInfo,
              on_end: EndHandler, on_lost: LostHandler) -> Tuple[int, int, str]:
        """`start_async`, then waits for the keeper's answer: returns the job's key, pid and
        native id.

        :raises KeeperError: if the process could not start.
        :raises KeeperGone: if the keeper is not there to start it.
        """
        answer: List[StartReply] = []
        key = self.new_key()
        self.start_async(key, argv, executable, cwd, env, stdio, job, answer.append, on_end,
                         on_lost)
        self.wait_started(key)
        reply = answer[0]
        if isinstance(reply, KeeperError):
            raise reply
        return key, reply[0], reply[1]

    def new_key(self) -> int:
        """A key for `start_async`, unique in this process."""
        return next(self._keys)

    def start_async(self, key: int, argv: List[str], executable: str, cwd: str,
                    env: Optional[Dict[str, str]], stdio: Tuple[List[int], List[int]],
                    job: JobInfo, on_started: StartHandler, on_end: EndHandler,
                    on_lost: LostHandler) -> None:
        """
        Asks the keeper to start a job (`key` from `new_key`) and returns once the request is
        sent, without waiting for the keeper: the submitter prepares its next job while the
        keeper starts this one.

        `on_started` is called once with the keeper's answer, ``(pid, native id)`` or a
        `KeeperError`, by whichever thread reads it (the reaper thread, or one in
        `wait_started`); `on_end` is called once with the job's final state, never before
        `on_started`. If the keeper dies before it answers, the `KeeperError`'s `during` is
        ``'gone'``; if it dies after it answered and before the job's end came, `on_lost` is
        called instead of `on_end` (the job's process may run on: the caller follows it).

        :param env: the job's environment; `None` for this process's current one, which is
            sent only when it changed since the last time (the keeper keeps a copy).
        :param stdio: the standard streams (0, 1, 2) that are not /dev/null and their
            descriptors, which the keeper gets copies of.
        :param job: what the keeper needs of the job besides how to start it.
        :raises KeeperGone: if the keeper is not there to start it.
        """
        slots, fds = stdio
        with self._lock:
            self._starting[key] = on_started
            self._handlers[key] = (on_end, on_lost)
        try:
            with self._submit_lock:  # the environment decided in the order requests go
                msg = encode(Start(key, argv, executable, cwd, self._environment(env), slots,
                                   job))
                self._send_request(msg, fds)
        except BaseException:
            with self._lock:
                self._starting.pop(key, None)
                self._handlers.pop(key, None)
            raise
        finally:
            self._handle_replies()  # those read while sending

    def wait_started(self, key: int) -> None:
        """Returns once the keeper's answer to the start `key` was handled (its `on_started`
        returned), reading answers itself meanwhile: it never depends on another thread,
        so it may be called from a callback in the reaper thread."""
        while True:
            with self._lock:
                if key not in self._starting and key not in self._handling:
                    return
            self._read_replies()
            self._handle_replies()
            with self._lock:
                if key not in self._starting and key not in self._handling:
                    return
                if key in self._handling:  # another thread runs its on_started: let it end
                    self._lock.wait(0.01)
                    continue
            try:
                select.select([self._requests], [], [], 0.05)
            except (OSError, ValueError):
                pass  # closed: the keeper is gone, which the next turn finds out

    def _environment(self, env: Optional[Dict[str, str]]) -> Any:
        """What a start request says about the environment (see `psij.executors.local._keeper`):
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

    def _send_request(self, msg: bytes, fds: List[int]) -> None:
        """Sends one request. While the socket is full (the keeper has answers for us that
        nobody read yet), reads those answers, so that neither side waits for the other."""
        memfd = -1
        if len(msg) > MAX_DATAGRAM:
            memfd = os.memfd_create('psij-job', os.MFD_CLOEXEC)
            _write_all(memfd, msg)
            msg = BIG_REQUEST
            fds = [memfd] + fds
        try:
            while True:
                try:
                    if fds:
                        socket.send_fds(self._requests, [msg], fds, socket.MSG_DONTWAIT)
                    else:
                        self._requests.send(msg, socket.MSG_DONTWAIT)
                    return
                except BlockingIOError:
                    self._read_replies()
                    select.select([self._requests], [self._requests], [], 0.05)
        except OSError as ex:
            self._forget()
            raise KeeperGone('The psij keeper process %d is gone (%s)' % (self.pid, ex)) from ex
        finally:
            if memfd >= 0:
                os.close(memfd)

    def _send(self, msg: Request) -> None:
        # One datagram: atomic even while another thread sends.
        try:
            self._send_request(encode(msg), [])
        except KeeperGone:
            pass  # the jobs' ends say so
        finally:
            self._handle_replies()

    # -- the keeper's answers to starts -------------------------------------------------------

    def _receive(self, sock: socket.socket) -> Optional[bytes]:
        """The next datagram on `sock`, without waiting; `None` if there is none, or if the
        keeper is gone (which this handles)."""
        try:
            data = sock.recv(RECEIVE_BUFFER, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError:
            data = b''
        if not data:
            self._keeper_died()
            return None
        return data

    def _read_replies(self) -> None:
        """Reads the answers that arrived (without waiting) into the inbox."""
        while True:
            data = self._receive(self._requests)
            if data is None:
                return
            replies = decode_replies(data)
            with self._lock:
                self._inbox.extend(replies)

    def _handle_replies(self) -> None:
        """Calls the `on_started` handlers of the answers in the inbox (never with a lock
        held: they report states, whose callbacks may submit)."""
        while True:
            with self._lock:
                if not self._inbox:
                    return
                reply = self._inbox.popleft()
                key = reply.key
                handler = self._starting.pop(key, None)
                if handler is None:
                    continue
                self._handling.add(key)
            answer: StartReply = (reply.pid, reply.native_id) if isinstance(reply, Started) \
                else KeeperError(reply.errno, reply.strerror, reply.filename, reply.during)
            try:
                handler(answer)
            finally:
                with self._lock:
                    self._handling.discard(key)
                    self._lock.notify_all()

    def _on_replies(self, fd: int) -> None:
        self._read_replies()
        self._handle_replies()

    def cancel(self, key: int, grace: float) -> None:
        """Cancels the job `key`: SIGTERM to its group now, SIGKILL after `grace` seconds."""
        self._send(Cancel(key, grace))

    def final(self, key: int, final: Outcome) -> None:
        """The final state of a job started with "defer end", for the keeper to record."""
        self._send(Final(key, *final))

    # -- job ends -----------------------------------------------------------------------------

    def _on_ends(self, fd: int) -> None:
        while True:
            data = self._receive(self._ends)
            if data is None:
                return
            for key, st, code, message in decode_ends(data):
                with self._lock:
                    handlers = self._handlers.pop(key, None)
                if handlers is not None:
                    handlers[0](st, code, message)

    def _keeper_died(self) -> None:
        """The keeper ended while we live: it was killed. The starts it did not answer
        fail; the jobs it started are handed to their `LostHandler`s (their processes run on
        in their own sessions: only their exit codes are lost)."""
        with self._lock:
            if self._dead:
                return
            self._dead = True
        reaper = Reaper.get()
        reaper.unwatch(self._ends.fileno())
        reaper.unwatch(self._requests.fileno())
        self._on_ends(self._ends.fileno())  # the ends it sent before it died are true ends
        self._forget()
        self._popen.wait()
        code = self._popen.returncode
        why = ('killed by signal %d' % -code) if code < 0 else ('exit code %d' % code)
        with self._lock:
            for key in self._starting:
                self._handlers.pop(key, None)  # the start fails: no end comes
                self._inbox.append(Refused(key, 0, 'the psij keeper process %d ended (%s) '
                                           'before it started the job' % (self.pid, why), None,
                                           'gone'))
            handlers = list(self._handlers.values())
            self._handlers.clear()
        self._handle_replies()
        for _, on_lost in handlers:
            on_lost('the psij keeper process %d that started the job ended (%s)'
                    % (self.pid, why))

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

