"""
What Cobalt's commands print, and how the ``cobalt`` executor reads it.

- ``qsub`` prints the new job's id, a number, on a line of its own on stdout (other lines, such
  as a site's filter messages, may come before it).
- ``qstat -l --header=JobID:State ID...`` (the status command, one for all jobs) prints one
  block per job it knows, a ``JobID: N`` line followed by indented ``Key : value`` lines;
  jobs it does not know are left out, and when it knows none of them it prints nothing and
  exits 1 (what psij-python's executor was written against).
- ``qstat`` without ``-l`` prints a table (``JobID User WallTime Nodes State Location``, a
  line of ``=``, one row per job); ``-f`` adds columns and, with ``-l``, keys.
- A job leaves ``qstat`` when it ends; how it ended is in its ``.cobaltlog`` (Cobalt writes
  ``<id>.cobaltlog``, ``<id>.output`` and ``<id>.error`` in the job's ``--cwd``), whose last
  lines say ``... task completed normally with an exit code of N ...``, or that the maximum
  execution time was exceeded, or that the job was deleted.

States (Cobalt's ``qstat`` State column) map as in `COBALT_TO_PSIJ`; unlike psij-python,
``killing`` is not FAILED (the job is being killed, by ``qdel`` or its walltime: how it ends is
read when it has), ``starting`` is not yet ACTIVE (ACTIVE comes from the job itself), and held
states are QUEUED.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional

__all__ = ['COBALT_TO_PSIJ', 'CobaltLogVerdict', 'job_id_from_qsub', 'parse_long',
           'parse_table_ids', 'read_cobaltlog', 'to_psij_state']

COBALT_TO_PSIJ: Dict[str, Optional[str]] = {
    'queued': 'QUEUED',
    'user_hold': 'QUEUED',
    'admin_hold': 'QUEUED',
    'dep_hold': 'QUEUED',
    'maxrun_hold': 'QUEUED',
    'hold': 'QUEUED',
    'preempted': 'QUEUED',
    'starting': 'QUEUED',
    'running': 'ACTIVE',
    'exiting': 'ACTIVE',
    'killing': 'ACTIVE',
    'dep_fail': 'FAILED',
}
"""Cobalt state -> PSI/J state name. ``exiting`` and ``killing`` are not final: the job's end
(its exit code, or its ``.cobaltlog``) decides. ``dep_fail``: a job it depends on failed, and
it will never run."""

_QSUB_ID = re.compile(r'^\s*(\d+)\s*$', re.MULTILINE)
_KEY_VALUE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*?)\s*$')
# only Cobalt's own messages count, not the command line it echoes (whose paths are the user's)
_MESSAGE = re.compile(r'\b(?:Info|Warning|Error|Critical):\s')
_EXIT_CODE = re.compile(r'exit code of (-?\d+)', re.IGNORECASE)
_WALLTIME = re.compile(r'maximum execution time exceeded', re.IGNORECASE)
_DELETED = re.compile(r'\bdeleted by\b|\bkilled by user\b', re.IGNORECASE)
# the first line Cobalt's qsub appends to a job's log; a log whose name a job id already used
# (ids that restart, a reused directory) holds the earlier job's lines before it
_LOG_HEADER = re.compile(r'^Jobid:\s*\d+\s*$')


def job_id_from_qsub(out: str) -> Optional[str]:
    """The job id ``qsub`` printed: the last line that is a number alone."""
    ids = _QSUB_ID.findall(out)
    return ids[-1] if ids else None


def parse_long(out: str) -> Dict[str, Dict[str, str]]:
    """
    The jobs of ``qstat -l`` (or ``-lf``) output: {job id: {key: value}}, keys as printed
    (``State``, ``Queue``...). A block starts at a ``JobID:`` line (any case).
    """
    jobs: Dict[str, Dict[str, str]] = {}
    current: Optional[Dict[str, str]] = None
    for line in out.splitlines():
        m = _KEY_VALUE.match(line)
        if m is None:
            continue
        key, value = m.group(1), m.group(2)
        if key.lower() == 'jobid':
            if not value.isdigit():
                current = None
                continue
            current = jobs.setdefault(value, {})
        elif current is not None:
            current[key] = value
    return jobs


def parse_table_ids(out: str) -> List[str]:
    """The job ids in ``qstat``'s table (rows whose first word is a number)."""
    ids = []
    for line in out.splitlines():
        words = line.split()
        if words and words[0].isdigit():
            ids.append(words[0])
    return ids


def to_psij_state(cobalt_state: str) -> Optional[str]:
    """The PSI/J state name for a Cobalt state; `None` for one this module does not know."""
    return COBALT_TO_PSIJ.get(cobalt_state.strip().lower())


class CobaltLogVerdict(NamedTuple):
    """How a job ended, as its ``.cobaltlog`` tells."""

    state: str
    """``COMPLETED``, ``FAILED`` or ``CANCELED``."""
    reason: str
    """``walltime``, ``deleted`` or ``exit`` (the job's own exit code)."""
    exit_code: Optional[int]
    message: Optional[str]


def read_cobaltlog(text: str) -> Optional[CobaltLogVerdict]:
    """
    The verdict of a ``.cobaltlog`` (its text; only Cobalt's ``Info:``/``Warning:``/``Error:``
    lines are read): walltime exceeded is FAILED with a message, a
    deletion CANCELED, an exit code COMPLETED (0) or FAILED; `None` if the log does not say
    (yet) how the job ended. Cobalt appends to the log: only the lines from its last
    ``Jobid: N`` header on (the last job given that id) are read.
    """
    all_lines = text.splitlines()
    starts = [i for i, line in enumerate(all_lines) if _LOG_HEADER.match(line)]
    if starts:
        all_lines = all_lines[starts[-1]:]
    lines = [line for line in all_lines if _MESSAGE.search(line)]
    if any(_WALLTIME.search(line) for line in lines):
        codes = [int(m.group(1)) for m in map(_EXIT_CODE.search, lines) if m]
        return CobaltLogVerdict('FAILED', 'walltime', codes[-1] if codes else None,
                                'Cobalt ended the job at its time limit')
    if any(_DELETED.search(line) for line in lines):
        return CobaltLogVerdict('CANCELED', 'deleted', None, 'Deleted (qdel)')
    for line in reversed(lines):
        m = _EXIT_CODE.search(line)
        if m is not None:
            code = int(m.group(1))
            if code == 0:
                return CobaltLogVerdict('COMPLETED', 'exit', 0, None)
            return CobaltLogVerdict('FAILED', 'exit', code, 'The job exited with code %d' % code)
    return None
