"""Running scheduler commands quickly and with a time limit, and what "transient" means."""

from __future__ import annotations

import os
import re
import select
import selectors
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Pattern

from psij._procfs import SESSION, live_members

COMMON_TRANSIENT_ERRORS = re.compile(
    r'try again|temporar|timed? ?out|unable to contact|cannot connect|connection|socket|'
    r'unreachable|not responding|busy|resource temporarily unavailable', re.IGNORECASE)
"""Words of scheduler errors that a later retry may cure, whatever the scheduler."""


def is_transient(message: str, extra: Optional[Pattern[str]] = None) -> bool:
    """
    Whether a failed scheduler command's `message` names a condition a retry may cure (the
    scheduler unreachable, busy, timing out): `COMMON_TRANSIENT_ERRORS`, or `extra`, the
    scheduler's own phrases.
    """
    return bool(COMMON_TRANSIENT_ERRORS.search(message) or
                (extra is not None and extra.search(message)))


def run_command(cmd: List[str], timeout: float, input: Optional[str] = None,
                env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """
    Runs `cmd` and returns its exit code and output, like ``subprocess.run(cmd,
    capture_output=True, text=True, timeout=timeout)`` but without its polling: with a
    time-out, ``subprocess`` waits for the process's exit by sleeping in steps of 0.5 ms and
    more, which costs about 0.6 ms per ``sbatch`` (~10 % of the submission rate). Here the
    process's exit is awaited on a pidfd, together with its output, with one ``select``.

    The command runs in a session of its own, and at the time-out everything in it is killed
    and gone before this returns (within `KILL_WAIT_LIMIT`): a hung status command leaves no
    process behind (a wrapper script's children included, also in other process groups), and
    no child holds the output pipes open. The time-out is measured on the monotonic
    clock: a jump of the machine's clock does not change it.

    :param input: the command's standard input (none if `None`).
    :param env: the command's environment (this process's if `None`).
    :raises subprocess.TimeoutExpired: after `timeout` seconds (the processes are killed).
    """
    end = time.monotonic() + timeout
    stdin: Any = subprocess.DEVNULL
    if input is not None:
        # from a file: no pipe to feed while the output is read
        stdin = tempfile.TemporaryFile()
        stdin.write(input.encode())
        stdin.seek(0)
    try:
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env=env)
    finally:
        if input is not None:
            stdin.close()
    assert p.stdout is not None and p.stderr is not None
    out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
    chunks: Dict[int, List[bytes]] = {out_fd: [], err_fd: []}
    try:
        pidfd = os.pidfd_open(p.pid) if hasattr(os, 'pidfd_open') else None
    except OSError:
        pidfd = None
    if pidfd is None:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_session(p)
            p.communicate()
            raise
        return subprocess.CompletedProcess(cmd, p.returncode, out.decode(errors='replace'),
                                           err.decode(errors='replace'))
    try:
        with selectors.DefaultSelector() as sel:
            for fd in chunks:
                sel.register(fd, selectors.EVENT_READ)
            sel.register(pidfd, selectors.EVENT_READ)
            waiting = set(chunks) | {pidfd}
            while waiting:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    _kill_session(p)
                    raise subprocess.TimeoutExpired(cmd, timeout)
                for key, _ in sel.select(remaining):
                    fd = int(key.fd)
                    data = b'' if fd == pidfd else os.read(fd, 65536)
                    if data:
                        chunks[fd].append(data)
                    else:
                        sel.unregister(fd)
                        waiting.discard(fd)
    finally:
        os.close(pidfd)
        p.stdout.close()
        p.stderr.close()
    # it has exited (no polling); what it left running in its session holds no pipe of ours
    code = p.wait()
    return subprocess.CompletedProcess(cmd, code,
                                       b''.join(chunks[out_fd]).decode(errors='replace'),
                                       b''.join(chunks[err_fd]).decode(errors='replace'))


def _kill_session(p: subprocess.Popen[bytes]) -> None:
    """Kills `p` and every process of its session, reaps `p`, and returns once they are all
    gone: a caller (or a test) that looks right after the time-out finds nothing left, and a
    retry does not run beside the remains of the previous attempt."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        p.kill()  # the group is gone; `p` may still need its signal
    p.wait()
    _kill_and_await(p.pid, time.monotonic() + KILL_WAIT_LIMIT)


KILL_WAIT_LIMIT = 10.0
"""Seconds `run_command` waits, after a time-out, for the killed processes to be gone."""


def _kill_and_await(sid: int, deadline: float) -> None:
    """SIGKILLs the live processes of session `sid` (those in other process groups too) and
    waits on their pidfds until they are gone, looking again for any the scan missed, until
    `deadline`."""
    while True:
        fds = []
        for pid in live_members(SESSION, sid):
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # gone meanwhile
            fds.append(fd)
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
        try:
            poll = select.poll()  # not select(): descriptors may be numbered past 1024
            for fd in fds:
                poll.register(fd, select.POLLIN)
            pending = len(fds)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return  # dying takes them too long (uninterruptible sleep)
                for fd, _ in poll.poll(remaining * 1000):
                    poll.unregister(fd)
                    pending -= 1
        finally:
            for fd in fds:
                os.close(fd)
        if not fds:
            return
