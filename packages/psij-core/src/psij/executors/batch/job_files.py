"""
The files a batch job shares with psij through the executor's work directory.

For a job with native id ``ID`` the submit script writes, in the work directory:

- ``ID.active`` when the job starts running (empty);
- ``ID.ec`` with the launch command's exit code when it ends, written to a temporary name and
  renamed so that it is never seen half-written;
- ``ID.nodes``: the ``$PSIJ_NODEFILE`` of executors that write one;
- ``ID.out``: the script's own output (pre/post-launch, errors, and the job's output when the
  specification names no file for it).

The work directory is private (mode 0700). A status file is trusted only if it is a regular
file owned by the current user: another user cannot forge a job's status, unlike
psij-python's unauthenticated UDP port.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

from psij import _files as files
from psij._files import read_tail
from psij.exceptions import SubmitException

ACTIVE_SUFFIX = '.active'
EXIT_CODE_SUFFIX = '.ec'
OUTPUT_SUFFIX = '.out'
SCRIPT_SUFFIX = '.job'
NODEFILE_SUFFIX = '.nodes'


def ensure_private_dir(path: Path) -> None:
    """
    Creates the work directory (mode 0700) or checks an existing one (see
    :func:`psij._files.ensure_private_dir`).

    :raises SubmitException: if it cannot be created, is not a directory (or is a symbolic
        link), or belongs to another user.
    """
    try:
        files.ensure_private_dir(path)
    except OSError as ex:
        raise SubmitException('Cannot use the work directory %s: %s' % (path, ex), ex) from ex


def _trusted_read(path: Path) -> Optional[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        return os.read(fd, 4096).decode('utf-8', 'replace')
    finally:
        os.close(fd)


def list_names(work_dir: Path) -> Optional[set[str]]:
    """The names in the work directory, or `None` if it cannot be listed."""
    try:
        with os.scandir(work_dir) as it:
            return {e.name for e in it}
    except OSError:
        return None


def is_active(work_dir: Path, native_id: str) -> bool:
    """Whether the job has reported that it started."""
    try:
        st = os.lstat(work_dir / (native_id + ACTIVE_SUFFIX))
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def read_exit_code(work_dir: Path, native_id: str) -> Optional[int]:
    """The exit code the job recorded, or `None` if it has not (or the file is not trusted)."""
    text = _trusted_read(work_dir / (native_id + EXIT_CODE_SUFFIX))
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def output_tail(work_dir: Path, native_id: str, extra: Optional[Path] = None,
                limit: int = 1000) -> str:
    """
    The last lines of the script's output (and of `extra`, e.g. the job's stderr file); a path
    that is not a regular file (a FIFO, a device) is skipped, never waited on.
    """
    parts = []
    for p in (work_dir / (native_id + OUTPUT_SUFFIX), extra):
        if p is not None:
            text = read_tail(p, limit)
            if text:
                parts.append(text)
    return '\n'.join(parts)


def remove_stale(work_dir: Path, native_id: str, before: float) -> None:
    """
    Deletes the files of an earlier job that had the same native id, i.e. those last changed
    before `before` (the time the new job was submitted). Native ids restart when a scheduler's
    state is reset, and a process that died leaves its jobs' files behind: without this, the
    new job would be reported finished with the old job's exit code.
    """
    for suffix in (ACTIVE_SUFFIX, EXIT_CODE_SUFFIX, OUTPUT_SUFFIX, NODEFILE_SUFFIX):
        path = work_dir / (native_id + suffix)
        try:
            if os.lstat(path).st_mtime < before:
                os.unlink(path)
        except OSError:
            pass


def remove(work_dir: Path, native_id: Optional[str], job_id: str) -> None:
    """Deletes the job's files."""
    names = [job_id + SCRIPT_SUFFIX]
    if native_id:
        names += [native_id + s for s in (ACTIVE_SUFFIX, EXIT_CODE_SUFFIX, OUTPUT_SUFFIX,
                                          NODEFILE_SUFFIX)]
    for n in names:
        try:
            os.unlink(work_dir / n)
        except OSError:
            pass
