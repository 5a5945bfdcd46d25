"""
The launch wrapper (``psij/launchers/scripts/launch.sh``): one place for its path and its text.

Executors that start jobs on this host (``local``) run the file. Batch executors write its text
into the job script and run it with ``sh -c``: the job then needs nothing from the submitting
host's installation (a venv on a node-local disk or in a container is invisible to compute
nodes), only the work directory.
"""

from __future__ import annotations

import functools
from pathlib import Path

LAUNCH_SCRIPT_PATH = Path(__file__).resolve().parent / 'scripts' / 'launch.sh'
"""The wrapper's file, ``sh launch.sh PRE POST LOG CLEAN -- COMMAND [ARGS...]``."""


@functools.cache
def launch_script_text() -> str:
    """The wrapper's text without its comment lines, for ``sh -c TEXT launch.sh ARGS...``
    (it has no here-documents, so dropping comments cannot change its meaning)."""
    text = LAUNCH_SCRIPT_PATH.read_text('utf-8')
    return ''.join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith('#'))
