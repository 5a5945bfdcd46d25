"""Reading files named by users from threads shared by many jobs, without ever blocking.

The reaper and the status engines serve every job of the process: a user's path that is a
FIFO, a device or a file on a hung mount must not stop them. Paths are opened non-blocking,
only regular files are read, and reads are bounded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union


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
