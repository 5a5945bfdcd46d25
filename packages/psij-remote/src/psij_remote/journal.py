"""
The far end's memory of submissions, kept across connections: a retried submit (same key)
after a dropped connection gets the job submitted the first time, never a second job.

One file per client session, ``~/.psij/remote/submissions/<client>.jsonl``, private to the
user; a line is written before a submission (its key) and one after (its native id or its
refusal). The far end serving the client holds the file's lock: after a reconnection, the new
far end reads the file only once the old one has finished what it was submitting. A key with
a first line but no second is a submission whose outcome is unknown (the far end died while
submitting it). Files not written for 7 days are removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

from psij._files import ensure_private_dir

KEEP_SECONDS = 7 * 24 * 3600


class Outcome:
    """What a key's earlier submission came to."""

    __slots__ = ('native_id', 'error')

    def __init__(self) -> None:
        self.native_id: Optional[str] = None
        self.error: Optional[Dict[str, Any]] = None

    @property
    def known(self) -> bool:
        """`True` if the submission ended (a native id or a refusal)."""
        return self.native_id is not None or self.error is not None


class SubmissionJournal:
    """The submissions of one client session (thread-safe)."""

    def __init__(self, root: Path, client: str) -> None:
        """:param root: the journals' directory; :param client: the client's session token."""
        ensure_private_dir(root)
        self._path = root / ('%s.jsonl' % client)
        self._lock = threading.Lock()
        self._seen: Dict[str, Outcome] = {}
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _lock_file(fd, self._path)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        # read only once the far end of an earlier connection of this client has finished:
        # what it was submitting when its channel closed is in the file by then
        self._load()

    def _load(self) -> None:
        try:
            with open(self._path, 'rb') as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        key = rec['k']
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash
                    o = self._seen.setdefault(str(key), Outcome())
                    if isinstance(rec.get('n'), str):
                        o.native_id = rec['n']
                    if isinstance(rec.get('e'), dict):
                        o.error = rec['e']
        except FileNotFoundError:
            pass

    def _append(self, rec: Dict[str, Any]) -> None:
        os.write(self._fd, json.dumps(rec, separators=(',', ':')).encode('ascii') + b'\n')

    def lookup(self, key: str) -> Optional[Outcome]:
        """The earlier submission with this key, if any."""
        with self._lock:
            return self._seen.get(key)

    def begin(self, key: str) -> None:
        """Records that the submission of `key` starts."""
        with self._lock:
            self._seen[key] = Outcome()
            self._append({'k': key})

    def submitted(self, key: str, native_id: str) -> None:
        """Records the native id of `key`'s job."""
        with self._lock:
            self._seen.setdefault(key, Outcome()).native_id = native_id
            self._append({'k': key, 'n': native_id})

    def refused(self, key: str, error: Dict[str, Any]) -> None:
        """Records that `key`'s job was refused, and why."""
        with self._lock:
            self._seen.setdefault(key, Outcome()).error = error
            self._append({'k': key, 'e': error})

    def close(self) -> None:
        """Closes the file."""
        os.close(self._fd)


LOCK_WAIT = 120.0
"""How long a new connection's far end waits for the one before (same client) to end."""


def _lock_file(fd: int, path: Path) -> None:
    """Takes the journal's lock, held as long as this process serves the client: the far end
    of the connection before (whose channel closed) first finishes the submissions it had
    started and records them."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OSError('the far end of an earlier connection of this client still '
                              'holds %s after %.0f s' % (path, LOCK_WAIT)) from None
            time.sleep(0.05)


def prune(root: Path, now: Optional[float] = None) -> None:
    """Removes journals not written for `KEEP_SECONDS`."""
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for e in entries:
        try:
            if e.name.endswith('.jsonl') and now - e.stat().st_mtime > KEEP_SECONDS:
                os.unlink(e.path)
        except OSError:
            pass
