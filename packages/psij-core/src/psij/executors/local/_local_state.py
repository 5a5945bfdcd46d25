"""Native ids and the per-user state directory of the local executor.

A local job's native id is ``<pid>-<start>``, where ``<start>`` is the process start time in
clock ticks since boot (field 22 of ``/proc/<pid>/stat``), as estimated by the keeper that starts it
(see `start_estimate`): a recycled pid has another start time, so a stale id never designates
an unrelated process.

Each keeper process (`psij.executors.local._keeper`: it starts and reaps the jobs of one submitting
process) appends to its own journal in the state directory (``~/.psij/state/local`` by
default, mode 0700), named after the keeper: a line when a job starts and a line with the
final state and exit code when it ends. Another process that attaches to a job finds the true
exit code there; `list` reads the journals to find live jobs. Journals of ended keepers are
removed after `RECORD_MAX_AGE` seconds; a live keeper removes its own rotated ones as old.

What `attach` and `list` read does not grow with the history: a journal starts with the time
(in start-time ticks) it was opened and, once closed (its keeper ended, or it was rotated),
ends with the time it was closed; a rotated journal's successor first lists the jobs still
running (carried over). So `list` reads only the journals still open, and `attach` only the
journals whose time span holds the job's start time (two short reads of every other one),
and, while it waits for the end, only what was appended since it last looked.
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
from typing import Any, Dict, List, Optional, Set, Tuple

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
    ``B <tick>`` (opened at that start-time tick; the first line), ``L <native id>`` (a job
    still running, carried over from the previous journal), ``S <native id>`` (started),
    ``E <native id> <json>`` (ended) and ``Q <tick>`` (closed then; the last line).
    """

    __slots__ = ('fd', 'size', 'seq', 'dir', 'owner', 'live', 'old_fd')

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.owner = self_id()
        self.seq = 0
        self.fd = -1
        self.size = 0
        self.live: Set[bytes] = set()  # started, not ended: carried over at rotation
        self.old_fd = -1  # the previous journal's, closed at the next rotation
        self._open()

    def _path(self, seq: int) -> str:
        return os.path.join(self.dir, '%s.%d%s' % (self.owner, seq, _SUFFIX))

    def _open(self) -> None:
        self.fd = os.open(self._path(self.seq),
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self.fd).st_size
        head = b'B %d\n' % start_estimate()
        head += b''.join(b'L %s\n' % nid for nid in list(self.live))
        os.write(self.fd, head)
        self.size += len(head)

    def started(self, nids: List[bytes]) -> None:
        self.live.update(nids)
        self.write(b''.join([b'S %s\n' % nid for nid in nids]))

    def ended(self, nid: bytes, line: bytes) -> None:
        self.live.discard(nid)
        self.write(line)

    def write(self, line: bytes) -> None:
        if self.size > JOURNAL_ROTATE_SIZE:
            with _journals_lock:
                if self.size > JOURNAL_ROTATE_SIZE:
                    self._rotate()
        os.write(self.fd, line)
        self.size += len(line)

    def _rotate(self) -> None:
        # Another thread may have read self.fd just before and write once more to the old
        # journal (the reader looks in later journals too): its descriptor stays open, and
        # is closed only at the next rotation, so that the number is not reused meanwhile.
        if self.old_fd >= 0:
            os.close(self.old_fd)
        self.old_fd = self.fd
        os.write(self.fd, _closing())
        self.seq += 1
        self._open()
        # this keeper's rotated journals are trimmed as those of ended keepers are
        limit = time.time() - RECORD_MAX_AGE
        for seq in range(self.seq - 1, -1, -1):
            try:
                if os.stat(self._path(seq)).st_mtime >= limit:
                    continue
                os.unlink(self._path(seq))
            except OSError:
                break  # removed already (and so are the older ones)

    def close(self) -> None:
        os.write(self.fd, _closing())
        os.close(self.fd)
        if self.old_fd >= 0:
            os.close(self.old_fd)


def _closing() -> bytes:
    return b'Q %d\n' % start_estimate()


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
    """Records a job that just started (`record_starts` records a batch)."""
    record_starts([(state_dir, native_id)])


def record_starts(jobs: List[Tuple[Path, str]]) -> None:
    """Records jobs that just started, ``(state directory, native id)`` each: one write per
    state directory."""
    by_dir: Dict[Path, List[bytes]] = {}
    for state_dir, native_id in jobs:
        by_dir.setdefault(state_dir, []).append(native_id.encode())
    for state_dir, nids in by_dir.items():
        _journal(state_dir).started(nids)


def record_end(state_dir: Path, native_id: str, state: str, exit_code: Optional[int],
               message: Optional[str]) -> None:
    """Records the final state of a job (one write: readers see all of it or nothing)."""
    line = json.dumps({'state': state, 'exit_code': exit_code, 'message': message})
    nid = native_id.encode()
    _journal(state_dir).ended(nid, b'E %s %s\n' % (nid, line.encode()))


def close_journals() -> None:
    """Marks this process's journals closed (its last job has ended), so that `list` and
    `attach` need not read them for jobs of other times. Called by the keeper as it exits."""
    with _journals_lock:
        for j in _journals.values():
            try:
                j.close()
            except OSError:
                pass
        _journals.clear()


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

    __slots__ = ('submitter', 'end', 'seen')

    def __init__(self, submitter: Optional[str], end: Optional[Dict[str, Any]],
                 seen: Optional[Dict[str, int]] = None) -> None:
        """:param submitter: native-id form of the process that writes the job's records (the
            keeper that started it).
        :param end: the final state record, if the job ended.
        :param seen: the submitter's journals read (path -> bytes read, whole lines), from
            the one with the job's start on: `read_record` reads only what came after."""
        self.submitter = submitter
        self.end = end
        self.seen = seen if seen is not None else {}


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


def _read(path: str, offset: int = 0) -> bytes:
    """The whole lines of `path` from `offset` on (a line being written is left out)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b''
    try:
        chunks = []
        while True:
            chunk = os.pread(fd, 1 << 20, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
    except OSError:
        return b''
    finally:
        os.close(fd)
    data = b''.join(chunks)
    return data[:data.rfind(b'\n') + 1]


def _span(path: str) -> Tuple[Optional[int], Optional[int]]:
    """The ticks a journal was opened and closed at (`None`: unknown, or still open): its
    first and last lines, read with two short reads."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        head = os.pread(fd, 64, 0)
        size = os.fstat(fd).st_size
        tail = os.pread(fd, 64, max(0, size - 64))
    except OSError:
        return None, None
    finally:
        os.close(fd)
    return _tick(head.split(b'\n', 1)[0], b'B '), _tick(tail[:-1].rsplit(b'\n', 1)[-1]
                                                       if tail.endswith(b'\n') else b'', b'Q ')


def _tick(line: bytes, tag: bytes) -> Optional[int]:
    if not line.startswith(tag):
        return None
    try:
        return int(line[2:])
    except ValueError:
        return None


def _journal_seq(path: str) -> int:
    try:
        return int(os.path.basename(path)[:-len(_SUFFIX)].rsplit('.', 1)[1])
    except (IndexError, ValueError):
        return 0


def _last_end(data: bytes, nid: bytes) -> Optional[Dict[str, Any]]:
    """The last end record of `nid` in a journal's `data` (whole lines)."""
    first = b'E %s ' % nid
    i = data.rfind(b'\n' + first)
    start = i + 1 if i >= 0 else (0 if data.startswith(first) else -1)
    if start < 0:
        return None
    nl = data.find(b'\n', start)
    try:
        end = json.loads(data[start + len(first):nl])
    except ValueError:
        return None
    return end if isinstance(end, dict) else None


def read_record(state_dir: Path, native_id: str,
                since: Optional[Record] = None) -> Optional[Record]:
    """
    The record of `native_id`, or `None` if no journal mentions it. The end record may be in a
    later journal of the same keeper than the start record (journals rotate at
    `JOURNAL_ROTATE_SIZE`).

    :param since: this job's record as an earlier call returned it: only what its keeper
        appended since is read.
    """
    nid = native_id.encode()
    journals = _journals_in(state_dir)
    if since is not None and since.submitter is not None and since.seen:
        return _more_of(journals, nid, since)
    try:
        start: Optional[int] = parse_native_id(native_id)[1]
    except ValueError:
        start = None
    started = b'S %s\n' % nid
    tol = START_TOLERANCE
    maybe, others = [], []
    for path, submitter in journals:
        opened, closed = (None, None) if start is None else _span(path)
        # a job's start is estimated just before its spawn, its line written after: the
        # journal may have been opened (rotation) since; it cannot have been closed
        if start is None or ((opened is None or opened - tol <= start)
                             and (closed is None or start <= closed)):
            maybe.append((path, submitter))
        else:
            others.append((path, submitter))
    # the others only if the spans missed it (journals of an older psij, a changed clock)
    for path, submitter in maybe + others:
        data = _read(path)
        if not (data.startswith(started) or (b'\n' + started) in data):
            continue
        return _more_of(journals, nid, Record(submitter, None, {path: 0}), data)
    return None


def _more_of(journals: List[Tuple[str, str]], nid: bytes, record: Record,
             first: Optional[bytes] = None) -> Record:
    """`record` with what its keeper's journals (from the one with the start on) hold now
    beyond what it has seen; `first`: the whole of the first journal, read already."""
    seen = dict(record.seen)
    from_seq = min(_journal_seq(p) for p in seen)
    own = sorted((p for p, sub in journals if sub == record.submitter and
                  _journal_seq(p) >= from_seq), key=_journal_seq)
    end = record.end
    for path in own:
        offset = seen.get(path, 0)
        data = first if first is not None and offset == 0 and path in record.seen \
            else _read(path, offset)
        seen[path] = offset + len(data)
        found = _last_end(data, nid)
        if found is not None:
            end = found
    return Record(record.submitter, end, seen)


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
    """Native ids of recorded jobs whose process still runs.

    Only open journals are read (those of running keepers, and of killed ones): a closed
    journal holds no running job, as its successor lists the jobs it carried over. Of a
    journal written by an older psij, which has no such lines, the whole series is read."""
    live = set()
    series: Dict[str, List[str]] = {}
    for path, submitter in _journals_in(state_dir):
        series.setdefault(submitter, []).append(path)
    for paths in series.values():
        paths.sort(key=_journal_seq)
        opened, closed = _span(paths[-1])
        if closed is not None:
            continue
        if opened is not None:  # the newest lists what it carried over: enough
            paths = paths[-1:]
        for p in paths:
            for line in _read(p).splitlines():
                if line.startswith((b'S ', b'L ')):
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
