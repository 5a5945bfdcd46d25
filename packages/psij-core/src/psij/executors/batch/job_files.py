"""
The files a batch job shares with psij through the executor's work directory.

For a job with native id ``ID`` the executor writes ``ID.token``, the job's submission token
(random, one per submission), and the submit script writes, in the work directory:

- ``ID.active`` when the job starts running, holding the token;
- ``ID.ec`` with the launch command's exit code and the token when it ends, written to a
  temporary name and renamed so that it is never seen half-written;
- ``ID.nodes``: the ``$PSIJ_NODEFILE`` of executors that write one;
- ``ID.TOKEN.out`` (`output_name`): the script's own output (pre/post-launch, errors, and the
  job's output when the specification names no file for it).

The work directory is private (mode 0700). A status file is trusted only if it is a regular
file owned by the current user: another user cannot forge a job's status, unlike
psij-python's unauthenticated UDP port. Native ids get reused (a scheduler's state reset, a
process that died leaving its jobs' files): a file holding another submission's token is an
earlier job's and is ignored. Tokens, not modification times, decide: on a shared filesystem
the file server's clock and the submitting host's need not agree.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Dict, Optional, Tuple

from psij import _files as files
from psij._files import read_tail
from psij.exceptions import SubmitException

ACTIVE_SUFFIX = '.active'
EXIT_CODE_SUFFIX = '.ec'
OUTPUT_SUFFIX = '.out'
SCRIPT_SUFFIX = '.job'
NODEFILE_SUFFIX = '.nodes'
TOKEN_SUFFIX = '.token'


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
    # never blocks (a FIFO put in a job file's place opens without waiting for a writer),
    # never follows a link, reads a bounded amount: the engine's threads serve every job
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        return os.read(fd, 4096).decode('utf-8', 'replace')
    finally:
        os.close(fd)


def list_status_names(work_dir: Path) -> Optional[Dict[str, Tuple[bool, bool]]]:
    """
    The native ids that have an exit-code or a start file in the work directory, each with
    whether it has the one and the other (``(exit code, start)``); `None` if the directory
    cannot be listed. Only names are read (one listing), no file is opened.
    """
    try:
        names = os.listdir(work_dir)
    except OSError:
        return None
    found: Dict[str, Tuple[bool, bool]] = {}
    n_ec, n_active = len(EXIT_CODE_SUFFIX), len(ACTIVE_SUFFIX)
    for name in names:
        if name.endswith(EXIT_CODE_SUFFIX):
            nid = name[:-n_ec]
            found[nid] = (True, found.get(nid, (False, False))[1])
        elif name.endswith(ACTIVE_SUFFIX):
            nid = name[:-n_active]
            found[nid] = (found.get(nid, (False, False))[0], True)
    return found


def new_token() -> str:
    """A fresh submission token."""
    return os.urandom(8).hex()


def write_token(work_dir: Path, native_id: str, token: str) -> None:
    """Records the token of the submission that got `native_id` (replacing an older one)."""
    path = work_dir / (native_id + TOKEN_SUFFIX)
    tmp = work_dir / ('%s%s.%d.tmp' % (native_id, TOKEN_SUFFIX, os.getpid()))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(token + '\n')
        os.replace(tmp, path)
    except OSError:
        pass  # without it, attach() from another process checks no token


def read_token(work_dir: Path, native_id: str) -> Optional[str]:
    """The token recorded for `native_id` by its submitter, if any."""
    text = _trusted_read(work_dir / (native_id + TOKEN_SUFFIX))
    return text.strip() or None if text is not None else None


def _token_matches(found: Optional[str], token: Optional[str]) -> bool:
    # with no known token (attach without the submitter's record) any file is taken
    return token is None or found == token


def is_active(work_dir: Path, native_id: str, token: Optional[str] = None) -> bool:
    """Whether the job (of the submission with `token`, if given) has reported that it
    started."""
    text = _trusted_read(work_dir / (native_id + ACTIVE_SUFFIX))
    if text is None:
        return False
    return _token_matches(text.strip() or None, token)


def read_exit_code(work_dir: Path, native_id: str,
                   token: Optional[str] = None) -> Optional[int]:
    """The exit code the job (of the submission with `token`, if given) recorded, or `None` if
    it has not (or the file is not trusted, or is an earlier submission's)."""
    text = _trusted_read(work_dir / (native_id + EXIT_CODE_SUFFIX))
    if text is None:
        return None
    words = text.split()
    if not words or not _token_matches(words[1] if len(words) > 1 else None, token):
        return None
    try:
        return int(words[0])
    except ValueError:
        return None


def output_name(native_id: str, token: Optional[str]) -> str:
    """The name of the script's output file: ``ID.TOKEN.out`` (``ID.out`` without a token), so
    that an earlier job with the same id never lends its output to a later one."""
    return '%s.%s%s' % (native_id, token, OUTPUT_SUFFIX) if token else native_id + OUTPUT_SUFFIX


def output_tail(work_dir: Path, native_id: str, extra: Optional[Path] = None,
                limit: int = 1000, token: Optional[str] = None) -> str:
    """
    The last lines of the script's output (and of `extra`, e.g. the job's stderr file); a path
    that is not a regular file (a FIFO, a device) is skipped, never waited on.
    """
    parts = []
    for p in (work_dir / output_name(native_id, token), extra):
        if p is not None:
            text = read_tail(p, limit)
            if text:
                parts.append(text)
    return '\n'.join(parts)


def remove(work_dir: Path, native_id: Optional[str], job_id: str,
           token: Optional[str] = None) -> None:
    """Deletes the job's files."""
    names = [job_id + SCRIPT_SUFFIX]
    if native_id:
        names += [native_id + s for s in (ACTIVE_SUFFIX, EXIT_CODE_SUFFIX, OUTPUT_SUFFIX,
                                          NODEFILE_SUFFIX, TOKEN_SUFFIX)]
        if token:
            names.append(output_name(native_id, token))
    for n in names:
        try:
            os.unlink(work_dir / n)
        except OSError:
            pass
