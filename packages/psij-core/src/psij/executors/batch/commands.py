"""Running scheduler commands quickly and with a time limit, and what "transient" means."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from typing import Dict, List, Optional, Pattern

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


def run_command(cmd: List[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """
    Runs `cmd` and returns its exit code and output, like ``subprocess.run(cmd,
    capture_output=True, text=True, timeout=timeout)`` but without its polling: with a
    time-out, ``subprocess`` waits for the process's exit by sleeping in steps of 0.5 ms and
    more, which costs about 0.6 ms per ``sbatch`` (~10 % of the submission rate). Here the
    process's exit is awaited on a pidfd, together with its output, with one ``select``.

    :raises subprocess.TimeoutExpired: after `timeout` seconds (the process is killed).
    """
    if not hasattr(os, 'pidfd_open'):
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    end = time.monotonic() + timeout
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
    chunks: Dict[int, List[bytes]] = {out_fd: [], err_fd: []}
    try:
        pidfd = os.pidfd_open(p.pid)
    except OSError:
        out, err = p.communicate(timeout=timeout)
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
                    p.kill()
                    p.wait()
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
    code = p.wait()  # it has exited: no polling
    return subprocess.CompletedProcess(cmd, code,
                                       b''.join(chunks[out_fd]).decode(errors='replace'),
                                       b''.join(chunks[err_fd]).decode(errors='replace'))
