"""
What PBS says about jobs: the parsers of ``qstat`` output and the mapping to PSI/J states.

Two forms are read:

- PBS Pro / OpenPBS ``qstat -x -f -F json ID...``: one ``Jobs`` object keyed by the full job id
  (the key is missing altogether when no job is printed). Numbers are JSON numbers, but some
  sites return ``Exit_status`` as a string: both are read.
- ``qstat -f ID...`` text (Torque, and PBS Pro without ``-F json``): ``Job Id: ID`` then one
  ``    name = value`` line per attribute; long values continue on lines starting with a TAB
  (or, for multi-line values, with a blank).

``Exit_status`` (PBS Pro) / ``exit_status`` (Torque) encodes how a job ended: 0-255 is the job
script's exit code; 256 + N means the script was killed by signal N; negative values are PBS's
own reasons (-29 walltime exceeded, -27 memory, ...). A job deleted with ``qdel`` ends in state
F with substate 91 (and, if it never ran, no exit status at all).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Mapping, NamedTuple, Optional

from psij.executors.batch.exit_codes import signal_name

__all__ = ['PbsJob', 'parse_qstat_json', 'parse_qstat_text', 'describe_pbs_failure',
           'QUEUED_STATES', 'ACTIVE_STATES', 'FINAL_STATES', 'SUBSTATE_DELETED',
           'UNKNOWN_JOB_EXIT', 'HISTORY_EXIT', 'is_pbs_json', 'duration_seconds']

QUEUED_STATES = frozenset('QHWTM')
"""Queued, held, waiting for its start time, in transit, moved: nothing runs yet."""
ACTIVE_STATES = frozenset('RESUB')
"""Running, exiting, suspended (S, U) and array parents with running subjobs (B)."""
FINAL_STATES = frozenset('FXC')
"""Finished (PBS Pro history), finished subjob, completed (Torque)."""

SUBSTATE_DELETED = 91
"""The substate of a job that ended because it was deleted (``qdel``)."""
UNKNOWN_JOB_EXIT = 153
"""qstat/qdel exit code for an id the server does not know (PBSE_UNKJOBID & 0xff)."""
HISTORY_EXIT = 35
"""qstat/qdel exit code for a finished job asked about without ``-x`` (PBSE_HISTJOBID)."""

#: PBS's own (negative) exit statuses: JOB_EXEC_* of OpenPBS's job.h.
PBS_EXIT_REASONS: Mapping[int, str] = {
    -1: 'the job could not be started (PBS failure before its files were set up)',
    -2: 'the job could not be started (PBS failure after its files were set up)',
    -3: 'the job could not be started and will be retried',
    -4: 'the job was aborted during start-up',
    -5: 'the job was aborted during start-up and will be rerun',
    -6: 'the job was aborted during start-up (resource manager)',
    -7: 'the job could not be restarted from a checkpoint',
    -10: 'the job failed: bad user or group on the execution host',
    -11: 'the job was rerun',
    -12: 'the job was checkpointed and aborted',
    -13: 'the job failed: bad password',
    -14: 'the job was rerun after a sister node failed',
    -15: 'the job was requeued',
    -16: 'a hook failed and the job is rerun',
    -17: 'a hook failed and the job was deleted',
    -18: 'a hook asked for the job to be rerun',
    -19: 'a hook deleted the job',
    -20: 'the job was rerun: its mother superior node was lost',
    -21: 'the job failed a security check',
    -22: 'a hook raised an error',
    -23: 'the job failed: Kerberos credentials',
    -24: 'the job exceeded its ncpus (burst) limit',
    -25: 'the job exceeded its ncpus (sum) limit',
    -26: 'the job exceeded its virtual memory limit',
    -27: 'the job exceeded its memory limit',
    -28: 'the job exceeded its CPU time limit',
    -29: 'the job exceeded its walltime',
    -30: 'the job failed to join its sister nodes',
    -31: 'the job exceeded its high-priority memory limit',
    -32: 'the job was rerun as a zombie job',
}


PBS_CPU_TIME_EXCEEDED = -28
"""The ``Exit_status`` of a job PBS ended at its CPU-time limit (``cput``)."""

PBS_WALLTIME_EXCEEDED = -29
"""The ``Exit_status`` of a job PBS ended at its walltime."""


class PbsJob(NamedTuple):
    """What qstat says about one job."""

    state: str
    """The ``job_state`` letter (``Q``, ``R``, ``F``, ``C``, ...)."""
    substate: Optional[int]
    """The ``substate`` number, if printed."""
    exit_status: Optional[int]
    """``Exit_status`` / ``exit_status`` as PBS encodes it, if present."""
    comment: Optional[str]
    """The scheduler's or server's ``comment``, if any."""
    walltime_used: Optional[int] = None
    """``resources_used.walltime`` in seconds, if printed."""
    walltime_limit: Optional[int] = None
    """``Resource_List.walltime`` in seconds, if printed."""
    cput_limit: Optional[int] = None
    """``Resource_List.cput`` in seconds, if printed."""

    @property
    def final(self) -> bool:
        """Whether the job has ended."""
        return self.state in FINAL_STATES

    @property
    def deleted(self) -> bool:
        """Whether the job ended because it was deleted (``qdel``)."""
        if self.substate == SUBSTATE_DELETED:
            return True
        return bool(self.comment and re.search(r'\bterminated\b', self.comment) and
                    self.exit_status is None)


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def duration_seconds(value: Any) -> Optional[int]:
    """``'01:02:03'`` (or ``'3723'``) -> 3723."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return None
    total = 0
    try:
        for part in value.strip().split(':'):
            total = total * 60 + int(part)
    except ValueError:
        return None
    return total


def _resource(attrs: Mapping[str, Any], group: str, name: str) -> Any:
    nested = attrs.get(group)
    if isinstance(nested, dict):
        return nested.get(name)
    return attrs.get('%s.%s' % (group, name))


def _job(attrs: Mapping[str, Any]) -> Optional[PbsJob]:
    state = str(attrs.get('job_state', '')).strip()[:1].upper()
    if not state:
        return None
    exit_status = attrs.get('Exit_status', attrs.get('exit_status'))
    comment = attrs.get('comment')
    return PbsJob(state, _int(attrs.get('substate')), _int(exit_status),
                  None if comment is None else str(comment),
                  duration_seconds(_resource(attrs, 'resources_used', 'walltime')),
                  duration_seconds(_resource(attrs, 'Resource_List', 'walltime')),
                  duration_seconds(_resource(attrs, 'Resource_List', 'cput')))


def is_pbs_json(text: str) -> bool:
    """Whether `text` is a ``qstat -F json`` document (PBS's header keys present)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and ('pbs_version' in doc or 'Jobs' in doc)


def parse_qstat_json(text: str) -> Dict[str, PbsJob]:
    """
    ``qstat [-x] -f -F json ...`` -> {full job id: job}. A document without ``Jobs`` (no job
    printed) gives ``{}``.

    :raises ValueError: if `text` is not PBS's JSON (e.g. a truncated document, or the output
        of another scheduler's ``qstat``).
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError('qstat printed nothing')
    try:
        doc = json.loads(stripped)
    except ValueError as ex:
        raise ValueError('qstat did not print JSON (%s): %r' % (ex, stripped[:200])) from ex
    if not isinstance(doc, dict) or not ('pbs_version' in doc or 'Jobs' in doc
                                         or 'timestamp' in doc):
        raise ValueError('qstat printed JSON that is not PBS\'s: %r' % stripped[:200])
    jobs = doc.get('Jobs') or {}
    if not isinstance(jobs, dict):
        raise ValueError('qstat JSON has a malformed "Jobs": %r' % stripped[:200])
    result = {}
    for job_id, attrs in jobs.items():
        if isinstance(attrs, dict):
            job = _job(attrs)
            if job is not None:
                result[str(job_id)] = job
    return result


_JOB_ID_LINE = re.compile(r'^Job Id:\s*(\S+)\s*$')
_ATTR_LINE = re.compile(r'^ {4}([A-Za-z_][\w.]*) = ?(.*)$')


def parse_qstat_text(text: str) -> Dict[str, PbsJob]:
    """
    ``qstat -f ...`` in text form (Torque; PBS Pro without ``-F json``) -> {job id: job}.

    Continuation lines (a TAB first, or a blank that does not start a new attribute) are joined
    to the value they continue. Lines before the first ``Job Id:`` are ignored.
    """
    result: Dict[str, PbsJob] = {}
    job_id: Optional[str] = None
    attrs: Dict[str, str] = {}
    last: Optional[str] = None

    def close() -> None:
        if job_id is not None:
            job = _job(attrs)
            if job is not None:
                result[job_id] = job

    for line in text.splitlines():
        m = _JOB_ID_LINE.match(line)
        if m:
            close()
            job_id, attrs, last = m.group(1), {}, None
            continue
        if job_id is None:
            continue
        m = _ATTR_LINE.match(line)
        if m:
            last = m.group(1)
            attrs[last] = m.group(2)
        elif line.startswith('\t') and last is not None:
            attrs[last] += line[1:]
        elif line.strip() and last is not None and not line.startswith('    '):
            attrs[last] += '\n' + line  # a multi-line value (e.g. an exported bash function)
    close()
    return result


def describe_pbs_failure(exit_status: int) -> Optional[str]:
    """
    Why a job with this (non-zero) exit status ended, if PBS rather than the job decided: a
    signal (256 + N) or one of PBS's negative codes. `None` for a plain exit code 1-255.
    """
    if exit_status < 0:
        reason = PBS_EXIT_REASONS.get(exit_status, 'PBS ended the job')
        return '%s%s (PBS Exit_status %d)' % (reason[0].upper(), reason[1:], exit_status)
    if exit_status >= 256:
        return 'The job was killed by %s (PBS Exit_status %d)' % (
            signal_name(exit_status - 256), exit_status)
    return None


def exit_code_of(exit_status: Optional[int]) -> Optional[int]:
    """
    The exit code a shell would report for this exit status: the code itself for 0-255,
    128 + N for a job killed by signal N, `None` for PBS's own negative codes or no status.
    """
    if exit_status is None or exit_status < 0:
        return None
    if exit_status >= 256:
        return 128 + (exit_status - 256)
    return exit_status
