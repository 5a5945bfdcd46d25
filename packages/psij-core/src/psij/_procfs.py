"""What ``/proc`` says about processes: the fields of ``/proc/<pid>/stat``, and the live
members of a process group or session. Linux only; plain ``os`` calls (the keeper process
imports this with few modules loaded)."""

from __future__ import annotations

import os
from typing import List, Optional

STATE, PPID, PGRP, SESSION, START_TIME = 0, 1, 2, 3, 19
"""Indexes, in what `proc_stat` returns, of the fields this package reads."""


def proc_stat(pid: int) -> Optional[List[bytes]]:
    """The fields of ``/proc/<pid>/stat`` after the command name, or `None` if it is gone."""
    # os.open/os.read: a third of the cost of open(), and this runs once per submitted job.
    try:
        fd = os.open('/proc/%d/stat' % pid, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return data[data.rindex(b')') + 2:].split()


def live_members(field: int, value: int) -> List[int]:
    """The processes whose `field` (`PGRP` or `SESSION`) is `value` and that are alive (not
    zombies, which are gone for any purpose but their parent's); scans ``/proc``."""
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        fields = proc_stat(int(name))
        if fields is not None and int(fields[field]) == value \
                and fields[STATE] not in (b'Z', b'X'):
            out.append(int(name))
    return out
