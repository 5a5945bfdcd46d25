"""
The launch wrapper (``psij/launchers/scripts/launch.sh``): one place for its path and its text.

Executors that start jobs on this host (``local``) run the file. Batch executors write its text
into the job script and run it with ``sh -c``: the job then needs nothing from the submitting
host's installation (a venv on a node-local disk or in a container is invisible to compute
nodes), only the work directory.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Optional

LAUNCH_SCRIPT_PATH = Path(__file__).resolve().parent / 'scripts' / 'launch.sh'
"""The wrapper's file, ``sh launch.sh PRE POST LOG CLEAN -- COMMAND [ARGS...]``."""


@functools.cache
def launch_script_text() -> str:
    """The wrapper's text without its comment lines, for ``sh -c TEXT launch.sh ARGS...``
    (it has no here-documents, so dropping comments cannot change its meaning)."""
    text = LAUNCH_SCRIPT_PATH.read_text('utf-8')
    return ''.join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith('#'))


_PRE_LAUNCH_FAILED = re.compile(r'^psij: the (pre-launch script .*) failed with exit code (\d+)$',
                                re.MULTILINE)


def pre_launch_failure(output: str) -> Optional[str]:
    """
    What the wrapper said of a failing pre-launch script in `output` (the tail of the job's
    standard error or of its script's output), for the job's status: ``'The pre-launch script
    /x/pre.sh failed with exit code 7'``; `None` if it said nothing of the kind.
    """
    found = _PRE_LAUNCH_FAILED.findall(output)
    if not found:
        return None
    what, code = found[-1]
    return 'The %s failed with exit code %s' % (what, code)
