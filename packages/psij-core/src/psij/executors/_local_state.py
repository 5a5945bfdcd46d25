"""Native ids and the per-user state directory of the local executor.

A local job's native id is ``<pid>-<start>``, where ``<start>`` is the process start time in
clock ticks since boot (field 22 of ``/proc/<pid>/stat``), as estimated by the keeper that starts it
(see `start_estimate`): a recycled pid has another start time, so a stale id never designates
an unrelated process.

Each keeper process (`psij.executors._keeper`: it starts and reaps the jobs of one submitting
process) appends to its own journal in the state directory (``~/.psij/state/local`` by
default, mode 0700), named after the keeper: a line when a job starts and a line with the
final state and exit code when it ends. Another process that attaches to a job finds the true
exit code there; `list` reads the journals to find live jobs. Journals of ended keepers are
removed after `RECORD_MAX_AGE` seconds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from psij._fork import after_fork_in_child
from psij._procfs import PGRP, START_TIME, live_members
from psij._procfs import proc_stat as _proc_stat

logger = logging.getLogger(__name__)

STATE_DIR_ENV = 'PSIJ_LOCAL_STATE_DIR'
"""Environment variable that overrides the default state directory."""

RECORD_MAX_AGE = 7 * 24 * 3600.0
"""Records of ended jobs older than this many seconds are deleted."""



def default_state_directory() -> Path:
    """``$PSIJ_LOCAL_STATE_DIR`` if set, else ``~/.psij/state/local``."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / '.psij' / 'state' / 'local'


def proc_start_time(pid: int) -> Optional[int]:
    """The start time of process `pid` in clock ticks since boot, or `None` if it is gone."""
    fields = _proc_stat(pid)
    return None if fields is None else int(fields[START_TIME])


_TICKS = os.sysconf('SC_CLK_TCK')

START_TOLERANCE = 2 * _TICKS
"""How many clock ticks a process may have started after the keeper's estimate."""


def group_has_live_members(pgid: int) -> bool:
    """Whether a process of group `pgid` is alive (not a zombie); scans ``/proc``."""
    return bool(live_members(PGRP, pgid))


def start_estimate() -> int:
    """
    A lower bound of the start time (in ``/proc/<pid>/stat`` units) of a process forked now.

    Reading ``/proc/<pid>/stat`` right after a spawn costs 0.1-0.3 ms (it contends with the
    child's exec), a large share of a submit; the boot-time clock costs nothing. The kernel
    stamps a child with the same clock at fork, so the true start is within
    `START_TOLERANCE` after this estimate, taken before the spawn. Recycling a pid within that
    window would take a whole cycle of the pid space in two seconds.
    """
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) * _TICKS // 1_000_000_000


def start_matches(actual: int, recorded: int) -> bool:
    """Whether a process that started at `actual` is the one recorded as `recorded`."""
    return recorded <= actual <= recorded + START_TOLERANCE


def proc_is_zombie_or_gone(pid: int, start: int) -> bool:
    """`True` if the process `pid` recorded as started at `start` has ended (gone or a
    zombie)."""
    fields = _proc_stat(pid)
    return fields is None or not start_matches(int(fields[START_TIME]), start) \
        or fields[0] in (b'Z', b'X')


def this_host() -> str:
    """This machine's short host name, as local native ids and journal names carry it."""
    global _host
    if _host is None:
        name = socket.gethostname().split('.')[0]
        _host = re.sub(r'[^A-Za-z0-9_-]', '_', name) or 'localhost'
    return _host


_host: Optional[str] = None


class ForeignHostError(ValueError):
    """A local job id of another machine: a local job is followed from its own machine."""


def make_native_id(pid: int, start: int) -> str:
    """The native id of the process `pid` started at `start` on this machine:
    ``<pid>-<start>@<host>``. The host matters where several login nodes share a home
    directory (and so a state directory): a pid means something only on its own machine."""
    return '%d-%d@%s' % (pid, start, this_host())


def parse_native_id(native_id: str) -> Tuple[int, int]:
    """
    Returns ``(pid, start)`` of a local job id of this machine (``<pid>-<start>@<host>``, or
    ``<pid>-<start>``).

    :raises ForeignHostError: for an id of another machine.
    :raises ValueError: for anything else that is not a local job id.
    """
    text, at, host = str(native_id).partition('@')
    pid_s, sep, start_s = text.partition('-')
    if not sep or not pid_s.isdigit() or not start_s.isdigit() or (at and not host):
        raise ValueError('%r is not a local job id (expected <pid>-<start time>@<host>, as '
                         'given by job.native_id or LocalJobExecutor.list())' % (native_id,))
    if at and host != this_host():
        raise ForeignHostError('Local job %s runs on host %s, not on this one (%s): attach to '
                               'it from %s' % (native_id, host, this_host(), host))
    return int(pid_s), int(start_s)


_self_id: Optional[str] = None


def self_id() -> str:
    """The native-id form of the current process, as journal names carry it."""
    global _self_id
    pid = os.getpid()
    if _self_id is None or not _self_id.startswith('%d-' % pid):  # unset, or forked
        _self_id = make_native_id(pid, proc_start_time(pid) or 0)
    return _self_id


class _Journal:
    """The append-only journal of the jobs one process submitted to one state directory.

    One ``write`` on an ``O_APPEND`` descriptor per event: a few microseconds, where creating
    a file per job costs tens to hundreds on a journaling filesystem. Lines are
    ``S <native id>`` (started) and ``E <native id> <json>`` (ended).
    """

    __slots__ = ('fd', 'size', 'seq', 'dir', 'owner')

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.owner = self_id()
        self.seq = 0
        self.fd = -1
        self.size = 0
        self._open()

    def _open(self) -> None:
        path = os.path.join(self.dir, '%s.%d%s' % (self.owner, self.seq, _SUFFIX))
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self.fd).st_size

    def write(self, line: bytes) -> None:
        if self.size > JOURNAL_ROTATE_SIZE:
            with _journals_lock:
                if self.size > JOURNAL_ROTATE_SIZE:
                    old = self.fd
                    self.seq += 1
                    self._open()
                    os.close(old)
        os.write(self.fd, line)
        self.size += len(line)


_SUFFIX = '.journal'
JOURNAL_ROTATE_SIZE = 32 << 20
"""A journal larger than this (bytes) is continued in a new file."""

_journals: Dict[str, _Journal] = {}
_journals_lock = threading.Lock()


def _journal(state_dir: Path) -> _Journal:
    key = str(state_dir)
    j = _journals.get(key)
    if j is None:
        with _journals_lock:
            j = _journals.get(key)
            if j is None:
                j = _journals[key] = _Journal(state_dir)
    return j


@after_fork_in_child
def _forget_journals() -> None:
    # a child records its jobs in journals of its own (named after it; see psij._fork)
    global _self_id, _journals_lock
    _self_id = None
    _journals.clear()
    _journals_lock = threading.Lock()


def record_start(state_dir: Path, native_id: str) -> None:
    """Records a job that just started."""
    _journal(state_dir).write(b'S %s\n' % native_id.encode())


def record_end(state_dir: Path, native_id: str, state: str, exit_code: Optional[int],
               message: Optional[str]) -> None:
    """Records the final state of a job (one write: readers see all of it or nothing)."""
    line = json.dumps({'state': state, 'exit_code': exit_code, 'message': message})
    _journal(state_dir).write(b'E %s %s\n' % (native_id.encode(), line.encode()))


def record_cancel_request(state_dir: Path, native_id: str) -> None:
    """Notes that another process cancels the job, so that its keeper records CANCELED."""
    fd = os.open(os.path.join(state_dir, 'cancel-' + native_id),
                 os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)


def take_cancel_request(state_dir: Path, native_id: str) -> bool:
    """`True` (once) if another process asked to cancel the job."""
    try:
        os.unlink(os.path.join(state_dir, 'cancel-' + native_id))
        return True
    except OSError:
        return False


class Record:
    """What the state directory knows about a job."""

    __slots__ = ('submitter', 'end')

    def __init__(self, submitter: Optional[str], end: Optional[Dict[str, Any]]) -> None:
        """:param submitter: native-id form of the process that writes the job's records (the
            keeper that started it).
        :param end: the final state record, if the job ended."""
        self.submitter = submitter
        self.end = end


def _journals_in(state_dir: Path) -> List[Tuple[str, str]]:
    """(path, writer id) of every journal in the directory."""
    try:
        names = os.listdir(state_dir)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        if name.endswith(_SUFFIX):
            out.append((os.path.join(state_dir, name), name.split('.', 1)[0]))
    return out


def _read(path: str) -> bytes:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return b''


def _journal_seq(path: str) -> int:
    try:
        return int(os.path.basename(path)[:-len(_SUFFIX)].rsplit('.', 1)[1])
    except (IndexError, ValueError):
        return 0


def _last_end(data: bytes, nid: bytes) -> Optional[Dict[str, Any]]:
    """The last end record of `nid` in a journal's `data` (a torn one counts as none)."""
    first = b'E %s ' % nid
    i = data.rfind(b'\n' + first)
    start = i + 1 if i >= 0 else (0 if data.startswith(first) else -1)
    if start < 0:
        return None
    nl = data.find(b'\n', start)
    if nl < 0:
        return None  # torn: not yet written whole
    try:
        end = json.loads(data[start + len(first):nl])
    except ValueError:
        return None
    return end if isinstance(end, dict) else None


def read_record(state_dir: Path, native_id: str) -> Optional[Record]:
    """
    The record of `native_id`, or `None` if no journal mentions it. The end record may be in a
    later journal of the same keeper than the start record (journals rotate at
    `JOURNAL_ROTATE_SIZE`).
    """
    nid = native_id.encode()
    started = b'S %s\n' % nid
    journals = _journals_in(state_dir)
    for path, submitter in journals:
        data = _read(path)
        if not (data.startswith(started) or (b'\n' + started) in data):
            continue
        own = sorted((p for p, sub in journals if sub == submitter and
                      _journal_seq(p) >= _journal_seq(path)), key=_journal_seq)
        end = None
        for later in own:
            found = _last_end(data if later == path else _read(later), nid)
            if found is not None:
                end = found
        return Record(submitter, end)
    return None


def submitter_alive(record: Record) -> bool:
    """`True` if the process that records the job's end (its keeper) still runs."""
    if not record.submitter:
        return False
    try:
        pid, start = parse_native_id(record.submitter)
    except ValueError:
        return False
    return not proc_is_zombie_or_gone(pid, start)


def list_live(state_dir: Path) -> List[str]:
    """Native ids of recorded jobs whose process still runs."""
    live = set()
    for path, _ in _journals_in(state_dir):
        for line in _read(path).splitlines():
            if line.startswith(b'S '):
                live.add(line[2:].decode())
            elif line.startswith(b'E '):
                live.discard(line[2:].split(b' ', 1)[0].decode())
    out = []
    for nid in live:
        try:
            pid, start = parse_native_id(nid)
        except ValueError:
            continue
        if not proc_is_zombie_or_gone(pid, start):
            out.append(nid)
    return sorted(out)


def remove_old_records(state_dir: Path, max_age: float = RECORD_MAX_AGE) -> None:
    """Deletes journals of ended submitters, and stray files, older than `max_age` seconds."""
    limit = time.time() - max_age
    try:
        entries = list(os.scandir(state_dir))
    except FileNotFoundError:
        return
    for e in entries:
        try:
            if e.stat().st_mtime >= limit:
                continue
            owner = e.name.split('.', 1)[0].removeprefix('cancel-')
            pid, start = parse_native_id(owner)
            if proc_is_zombie_or_gone(pid, start):
                os.unlink(e.path)
        except (ValueError, OSError):
            continue
