"""Files and directories psij keeps for the user, and user paths read from shared threads.

- `ensure_private_dir`: the one check of the private directories where psij keeps job state
  (the local executor's state directory, the batch executors' work directories).
- `read_tail`: the reaper and the status engines serve every job of the process, so a user's
  path that is a FIFO, a device or a file on a hung mount must not stop them. Paths are opened
  non-blocking, only regular files are read, and reads are bounded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union


def ensure_private_dir(path: Union[str, Path]) -> None:
    """
    Creates `path` (mode 0700, parents too) or checks an existing one; an existing directory
    readable or writable by others is made private.

    :raises PermissionError: if it is a symbolic link or belongs to another user (psij then
        trusts nothing in it).
    :raises OSError: if it cannot be created, or is not a directory.
    """
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise PermissionError('%s is a symbolic link; psij keeps job state only in a real '
                              'directory of its own' % path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError('%s is not a directory' % path)
    if st.st_uid != os.getuid():
        raise PermissionError('%s belongs to another user (uid %d); psij will not trust job '
                              'state kept there' % (path, st.st_uid))
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def read_tail(path: Union[str, Path], limit: int) -> str:
    """
    The last `limit` bytes of `path` as text (a partial first line dropped), or ``''`` if it is
    not a regular file or cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return ''
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return ''
        start = max(0, st.st_size - limit)
        data = os.pread(fd, limit, start)
    except OSError:
        return ''
    finally:
        os.close(fd)
    text = data.decode('utf-8', 'replace').rstrip()
    if start > 0 and '\n' in text:
        text = text[text.index('\n') + 1:]
    return text.strip()
