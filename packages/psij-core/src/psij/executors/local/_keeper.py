"""The keeper: the process that starts a submitter's local jobs and records how they end.

Only a process's parent can learn its exit status. So that a local job's final state and exit
code are recorded even when the program that submitted it has exited or was killed, the jobs
are not the submitter's children but the keeper's: a small process that each submitting
process starts on its first submit (`psij.executors.local._keeper_client`), in a session of its own.
The keeper

- starts jobs on request (argv, executable, directory, environment and the standard streams'
  descriptors, passed with ``SCM_RIGHTS``), each in its own session and process group;
- watches them through pidfds in an `EventLoop` in a second thread (so that ends are handled
  while a start waits for its exec), reaps them, and writes their start and end records to
  its journal in the state directory (`psij.executors.local._local_state`), where `attach` and
  `list` of any process find them;
- sends each job's end to the submitter, batched per loop turn;
- cancels on request: SIGTERM to the job's process group, SIGKILL after the grace period (a
  deadline in the loop's heap); a job cancelled by another process is recognised by its cancel
  request file;
- outlives the submitter until its last job has ended, then exits.

The jobs are the keeper's own children, so it needs no ``PR_SET_CHILD_SUBREAPER``: as a
subreaper it would inherit every process a job leaves behind, and have to reap those too,
while init reaps them now. Its own session keeps a terminal's signals (Ctrl-C, hang-up) away
from it, as from the jobs.

It talks to the submitter over two private socket pairs (``SOCK_SEQPACKET``: one message per
datagram) that nothing else holds: requests and their replies on one, job ends on the other.
The submitter does not wait for a reply before it sends its next request: requests are served
in the order they come, and the replies name the request they answer. The keeper serves the
requests that are waiting in batches (`_BATCH` at most): the jobs' start records are written
in one write and the replies go in one datagram (`encode_replies`), then the jobs are watched,
so that a job's end always follows its reply.
A request too large for one datagram travels in a memfd. The messages are typed records
defined once, in `psij.executors.local._keeper_messages` (both ends import them): requests `Start`
(with descriptors), `Cancel` and `Final` (the final state of a job started with
`JobInfo.defer`: stage-out or cleanup, which apply if it completes, may change it; if the
submitter ends before it sends this, the record says what was missed: `unstaged`), replies
`Started` or `Refused`, and batches of `JobEnd`.

The environment of a `Start` is the job's, or ``('=', environment)``: the submitter's own
(as bytes), which the keeper keeps, or `None`: that same kept environment (the submitter sends
its environment again only when it changed).
"""

from __future__ import annotations

import array
import errno
import os
import signal
import socket
import sys
import threading
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from psij._files import read_tail
from psij.executors.local import _local_state as state
from psij.executors.local._keeper_messages import (
    Cancel,
    Final,
    JobEnd,
    JobInfo,
    Refused,
    Reply,
    Start,
    Started,
    decode,
    encode_ends,
    encode_replies,
)
from psij.executors.local._local_spawn import devnull, start_process
from psij.executors.local._reaper import EventLoop, Timer

MAX_DATAGRAM = 1 << 15
"""The largest datagram either side sends (well below any socket buffer); a larger request
goes in a memfd."""

RECEIVE_BUFFER = 1 << 16
"""The receive buffer of either side: larger than any datagram."""

BIG_REQUEST = b'M'
"""A request whose encoding is in the first descriptor passed with it (a memfd)."""

MAX_FDS = 4
"""Descriptors per request: a memfd and the three standard streams."""

_STDERR_TAIL = 2048
_GROUP_WAIT_LIMIT = 2.0
_FDS_SPACE = socket.CMSG_SPACE(MAX_FDS * array.array('i').itemsize)
_BATCH = 64
"""Requests served at most before the replies (and start records) of those served go out."""

Outcome = Tuple[str, Optional[int], Optional[str]]
"""A job's final state name, exit code and message."""


def signame(sig: int) -> str:
    """``SIGTERM (15)`` for 15."""
    try:
        return '%s (%d)' % (signal.Signals(sig).name, sig)
    except ValueError:
        return str(sig)


def outcome(code: Optional[int], canceled: bool, shell: bool, stderr_path: str) -> Outcome:
    """
    The final state of a job whose process ended with `code` (negative: killed by that
    signal; `None`: unknown).

    :param shell: whether a shell wrapper ran the job (it reports a death by signal N as
        128 + N).
    :param stderr_path: the job's standard error file, whose end the message of a failure
        quotes; ``''`` for none.
    """
    if code is None:
        return ('FAILED', None, 'The exit status of the job process was lost (was SIGCHLD '
                'ignored, or did other code reap it?)')
    if canceled:
        # a death by signal is the cancel's own SIGTERM or SIGKILL, not an exit of the job's
        return ('CANCELED', None if code < 0 else code, 'Canceled')
    if code == 0:
        return ('COMPLETED', 0, None)
    if code < 0:
        msg = 'Killed by signal %s' % signame(-code)
    elif shell and code > 128:
        msg = 'Exit code %d (the shell reports a death by signal %s this way)' % (
            code, signame(code - 128))
    else:
        msg = 'Exit code %d' % code
    tail = read_tail(stderr_path, _STDERR_TAIL) if stderr_path else ''
    if tail:
        msg += '; end of standard error:\n' + tail
    return ('FAILED', code, msg)


def unstaged(end: Outcome) -> Outcome:
    """The final state of a job whose stage-out or cleanup (which the submitter performs, and
    which applies to a job that completes) did not happen because the submitter is gone: a
    job that completed FAILED, naming what was missed (as a failed stage-out would)."""
    state_name, code, message = end
    missed = ('the process that submitted it ended before the stage-out and cleanup it '
              'performs, so they did not happen')
    if state_name == 'COMPLETED':
        return ('FAILED', code, 'The job completed, but ' + missed)
    return (state_name, code, '%s; %s' % (message or state_name.capitalize(), missed))


class _Child:
    """A job process of the keeper, from its start until its end is recorded."""

    __slots__ = ('key', 'pid', 'pidfd', 'native_id', 'state_dir', 'stderr_path',
                 'shell', 'defer', 'nodefile', 'canceled', 'kill_timer', 'outcome',
                 'group_waited', 'group_delay', 'awaiting_end')

    def __init__(self, key: int, pid: int, pidfd: int, native_id: str, job: JobInfo) -> None:
        self.key = key
        self.pid = pid
        self.pidfd = pidfd  # -1 once the process is reaped
        self.native_id = native_id
        state_dir, self.stderr_path, self.shell, self.defer, self.nodefile = job
        self.state_dir = _path(state_dir)
        self.canceled = False
        self.kill_timer: Optional[Timer] = None
        self.outcome: Optional[Outcome] = None
        self.group_waited = 0.0
        self.group_delay = 0.0002
        self.awaiting_end = False  # its end was sent; the submitter's final state is due


class Keeper:
    """The keeper's state and its two threads: `run` serves requests in the calling thread
    while a second thread reaps; both return once the submitter is gone and every job's end
    is recorded.

    Starting a job blocks its thread until the job's exec (vfork), so the ends are handled
    meanwhile by the other thread, as they are in a submitting process. `lock` guards
    `children`, `orphaned` and the fields of each child that both threads touch.
    """

    def __init__(self, requests: socket.socket, ends: socket.socket) -> None:
        """:param requests: the request socket; :param ends: the socket job ends go to."""
        self.loop = EventLoop()
        self.requests = requests
        self.ends = ends
        ends.setblocking(False)
        self.lock = threading.Lock()
        self.children: Dict[int, _Child] = {}  # by key, until their end is recorded
        self.outbox: List[JobEnd] = []  # the reaper thread's
        self.orphaned = False  # the submitter is gone
        self.done = threading.Event()  # orphaned, and no job left
        self.inherited_env: Dict[bytes, bytes] = {}  # the submitter's, as last sent
        self.ended: List[_Child] = []  # to record at the end of the loop turn (with lock)
        self.reaped: List[int] = []  # pidfds to close then (reaper thread)
        # the batch being served (the calling thread): replies, and jobs started, to send
        # and to watch once the start records are written
        self.replies: List[Reply] = []
        self.started: List[_Child] = []

    def run(self) -> None:
        """Serves until the submitter is gone and the last job's end is recorded."""
        threading.Thread(target=self._reap, name='psij-keeper-reaper', daemon=True).start()
        self._serve()
        self.done.wait()

    # -- requests (the calling thread) ------------------------------------------------------

    def _serve(self) -> None:
        while True:
            served = 0
            while True:
                # wait for the first request of a batch; take the others that are there
                request = self._receive(block=served == 0)
                if request is None:
                    break  # none waiting: the batch ends
                data, fds = request
                if not data:
                    self._end_batch()
                    _close_all(fds)
                    self._submitter_gone()
                    return
                self._serve_one(data, fds)
                served += 1
                if served >= _BATCH:
                    break
            self._end_batch()

    def _receive(self, block: bool) -> Optional[Tuple[bytes, List[int]]]:
        """The next request and its descriptors; ``b''`` once the submitter is gone; `None`
        if none is waiting and `block` is false."""
        # (socket.recv_fds ignores its flags before Python 3.12.) The descriptors are
        # close-on-exec: jobs inherit only their standard streams.
        flags = socket.MSG_CMSG_CLOEXEC | (0 if block else socket.MSG_DONTWAIT)
        try:
            data, ancillary, _, _ = self.requests.recvmsg(RECEIVE_BUFFER, _FDS_SPACE, flags)
        except BlockingIOError:
            return None
        except OSError:
            return b'', []
        fds = array.array('i')
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
        return data, list(fds)

    def _serve_one(self, data: bytes, fds: List[int]) -> None:
        if data == BIG_REQUEST and fds:
            data = _read_all(fds[0])
            os.close(fds[0])
            fds = fds[1:]
        msg = decode(data)
        if isinstance(msg, Start):
            self._spawn(msg, fds)
            return
        _close_all(fds)
        if isinstance(msg, Cancel):
            self._cancel(msg.key, msg.grace)
        elif isinstance(msg, Final):
            self._final_from_submitter(msg.key, (msg.state, msg.exit_code, msg.message))

    def _end_batch(self) -> None:
        """Records the starts of the batch, sends its replies, then watches its jobs (their
        ends are sent after their replies, as the submitter expects)."""
        started, self.started = self.started, []
        replies, self.replies = self.replies, []
        if started:
            try:
                state.record_starts([(c.state_dir, c.native_id) for c in started])
            except OSError:
                pass  # `attach` will not find these jobs; the submitter still follows them
        os.chdir('/')  # hold no job's directory (`start_process` entered them)
        while replies:
            n = len(replies)
            data = encode_replies(replies)
            while len(data) > MAX_DATAGRAM and n > 1:
                n //= 2
                data = encode_replies(replies[:n])
            try:
                self.requests.send(data)
            except OSError:
                break  # the submitter is gone; its EOF is next
            del replies[:n]
        for child in started:
            self.loop.watch(child.pidfd, partial(self._on_exit, child))

    def _spawn(self, msg: Start, fds: List[int]) -> None:
        key, argv, exe, cwd, env, slots, job = msg
        try:
            if env is None:
                env = self.inherited_env
            elif isinstance(env, tuple):
                env = self.inherited_env = env[1]
            stdio = [devnull()] * 3
            for slot, fd in zip(slots, fds, strict=False):  # fewer fds: a bad request
                stdio[slot] = fd
            start = state.start_estimate()
            pid = start_process(argv, exe, cwd, env, stdio)
        except OSError as ex:
            self.replies.append(Refused(key, ex.errno or 0, ex.strerror or str(ex),
                                        ex.filename, 'start'))
            return
        except Exception as ex:  # e.g. a NUL character: the submitter must get a reply
            self.replies.append(Refused(key, errno.EINVAL, str(ex), None, 'invalid'))
            return
        finally:
            _close_all(fds)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as ex:
            # Typically EMFILE: one descriptor per running job. Undo the start rather than
            # keep a job nobody watches.
            killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.replies.append(Refused(key, ex.errno or 0, ex.strerror or str(ex), None,
                                        'watch'))
            return
        native_id = state.make_native_id(pid, start)
        child = _Child(key, pid, pidfd, native_id, job)
        with self.lock:
            self.children[key] = child
        # The reply goes with the batch's, after its start record (attach can be asked once
        # the submitter knows the native id); the end cannot be missed meanwhile (the pidfd
        # reports it whenever it came).
        self.replies.append(Started(key, pid, native_id))
        self.started.append(child)

    def _cancel(self, key: int, grace: float) -> None:
        with self.lock:
            child = self.children.get(key)
            if child is None or child.pidfd < 0 or child.canceled:
                return  # ended already, or cancelled twice: nothing to do
            child.canceled = True
            # under the lock: the job is not reaped meanwhile, so its pid is its own
            killpg(child.pid, signal.SIGTERM)
            if grace <= 0:
                killpg(child.pid, signal.SIGKILL)
            else:
                child.kill_timer = self.loop.call_later(grace, partial(self._kill, child))

    def _final_from_submitter(self, key: int, final: Outcome) -> None:
        with self.lock:
            child = self.children.get(key)
            if child is not None and child.awaiting_end:
                self._record(child, final)

    def _submitter_gone(self) -> None:
        with self.lock:
            self.orphaned = True
            for child in list(self.children.values()):
                if child.awaiting_end and child.outcome is not None:
                    self._record(child, unstaged(child.outcome))
            if not self.children:
                self.done.set()

    # -- the end of a job (the reaper thread) -----------------------------------------------

    def _reap(self) -> None:
        while True:
            self.loop.run_once()
            # The submitter first (its callbacks wait for this), the bookkeeping after.
            self._flush()
            with self.lock:
                for child in self.ended:
                    self._record(child, child.outcome)
                self.ended.clear()
                if self.orphaned and not self.children:
                    self.done.set()
                    return
            for fd in self.reaped:
                os.close(fd)
            self.reaped.clear()

    def _kill(self, child: _Child) -> None:
        with self.lock:
            child.kill_timer = None
            if child.pidfd >= 0:  # not reaped yet, so its pid is still its own
                killpg(child.pid, signal.SIGKILL)

    def _on_exit(self, child: _Child, fd: int) -> None:
        """The job's process ended (it is a zombie until we reap it)."""
        with self.lock:
            timer = child.kill_timer
            child.kill_timer = None
            if not child.canceled and _failed(child.pidfd):
                # Cancelled by another process that attached to it: whether the job died of
                # the signal or trapped it and exited (143...), it is CANCELED, once,
                # everywhere. (A job that exits 0 all the same is COMPLETED everywhere: the
                # canceller reports this record too. Looking for the request file only after
                # a failure spares a path lookup per job.)
                child.canceled = state.take_cancel_request(child.state_dir, child.native_id)
            if child.canceled:
                # While the zombie leader keeps its pid, the group id cannot be reused: take
                # down whatever the job left in its group, so that CANCELED means "all gone".
                killpg(child.pid, signal.SIGKILL)
            try:
                res: Optional[Any] = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
            except ChildProcessError:
                res = None
            self.reaped.append(child.pidfd)  # closed after this turn's ends are sent
            child.pidfd = -1
        if timer is not None:
            self.loop.cancel_timer(timer)
        code = None
        if res is not None:
            code = res.si_status if res.si_code == os.CLD_EXITED else -res.si_status
        if child.nodefile:
            unlink(child.nodefile)
        child.outcome = outcome(code, child.canceled, child.shell, child.stderr_path)
        if child.canceled:
            self._await_group(child)
        else:
            self._ended(child)

    def _await_group(self, child: _Child) -> None:
        """Ends a cancelled job once the other processes of its group are gone too.

        They got SIGKILL, but dying takes them a moment: check again later, with backoff,
        for at most `_GROUP_WAIT_LIMIT` seconds.
        """
        try:
            os.killpg(child.pid, signal.SIGKILL)
            # The group still exists, but maybe only as zombies waiting for their new parent
            # (init, which may reap only now and then): those are gone for our purpose.
            alive = state.group_has_live_members(child.pid)
        except (ProcessLookupError, PermissionError):
            alive = False
        if alive and child.group_waited < _GROUP_WAIT_LIMIT:
            child.group_waited += child.group_delay
            self.loop.call_later(child.group_delay, partial(self._await_group, child))
            child.group_delay = min(child.group_delay * 2, 0.05)
            return
        self._ended(child)

    def _ended(self, child: _Child) -> None:
        assert child.outcome is not None
        with self.lock:
            if child.defer and not self.orphaned:
                child.awaiting_end = True  # the submitter stages out, then sends the final
            else:
                if child.defer:
                    child.outcome = unstaged(child.outcome)
                self.ended.append(child)  # recorded after this turn's ends are sent
            if self.orphaned:
                return
        self.outbox.append(JobEnd(child.key, *child.outcome))

    def _record(self, child: _Child, final: Optional[Outcome]) -> None:
        """Writes the end record (with `lock` held)."""
        try:
            assert final is not None
            state.record_end(child.state_dir, child.native_id, *final)
        except OSError:
            pass  # nowhere to write it: attach will report the exit code as unknown
        del self.children[child.key]

    def _flush(self) -> None:
        """Sends the ends gathered in this loop turn, in datagrams of bounded size."""
        if self.orphaned:
            self.outbox.clear()
        while self.outbox:
            n = len(self.outbox)
            data = encode_ends(self.outbox)
            while len(data) > MAX_DATAGRAM and n > 1:
                n //= 2
                data = encode_ends(self.outbox[:n])
            try:
                self.ends.send(data)
            except BlockingIOError:
                # The submitter is busy: try again shortly (a timer wakes the loop).
                self.loop.call_later(0.005, _nothing)
                return
            except OSError:
                self.outbox.clear()  # the submitter is gone
                return
            del self.outbox[:n]


@lru_cache(maxsize=64)
def _path(state_dir: str) -> Path:
    # one Path per state directory: making one costs more than the rest of a record
    return Path(state_dir)


def _failed(pidfd: int) -> bool:
    """Whether the ended (not yet reaped) process behind `pidfd` failed: a non-zero exit
    code, or a signal."""
    try:
        res = os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except ChildProcessError:
        return True
    return res is None or res.si_code != os.CLD_EXITED or res.si_status != 0


def _nothing() -> None:
    pass


def _read_all(fd: int) -> bytes:
    chunks: List[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _close_all(fds: List[int]) -> None:
    for fd in fds:
        os.close(fd)


def killpg(pgid: int, sig: int) -> None:
    """Signals the process group `pgid`, if it still exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def unlink(path: str) -> None:
    """Removes `path`, if it can."""
    try:
        os.unlink(path)
    except OSError:
        pass


def main(argv: List[str]) -> None:
    """Runs a keeper on the two socket descriptors named in `argv`."""
    requests_fd, ends_fd = int(argv[0]), int(argv[1])
    os.set_inheritable(requests_fd, False)
    os.set_inheritable(ends_fd, False)
    # Dispositions and masks survive exec: the submitter's must not stop us from reaping our
    # children, nor reach the jobs.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.chdir('/')  # hold no directory of the submitter's
    Keeper(socket.socket(fileno=requests_fd), socket.socket(fileno=ends_fd)).run()
    state.close_journals()  # every job's end is recorded: list and attach can skip them


if __name__ == '__main__':  # ``python -m`` (see `_keeper_client` for the faster start)
    main(sys.argv[1:])
