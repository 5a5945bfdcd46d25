"""Bulk job status for LSF: the ``bjobs`` command lines, their parsers and the LSF -> PSI/J map.

Pure Python, no dependency (not even on ``psij``): PSI/J states are given by name
(``'QUEUED'``, ``'ACTIVE'``, ``'COMPLETED'``, ``'FAILED'``, ``'CANCELED'``), so the executor
turns them into ``psij.JobState`` members with ``JobState[name]``.

One status command per polling cycle asks about every active job at once, in a
machine-readable form (see :func:`bjobs_status_command`)::

    bjobs -a -o 'jobid stat exit_code exit_reason' -json ID1 ID2 ...          (LSF 10.1 FP2+)
    bjobs -a -o "jobid stat exit_code exit_reason delimiter='|'" ID1 ID2 ...   (LSF 9.1+)

What the parsers cope with (``FACTS-pbspro-lsf.md`` L3-L5, L9 of the psij workplace):

- ``LSF is processing your request. Please wait ...`` / ``Cannot connect to LSF. Please wait
  ...`` lines before any output, JSON included (the JSON is read from the first ``{`` to the
  last ``}``);
- ``Job <N> is not found`` (stderr) for ids LSF no longer knows, mixed with records of known
  ones; the exit code of ``bjobs`` then says nothing reliable (0 or 255), so it is not used to
  tell found from missing; a JSON record with an ``ERROR`` key is read the same way;
- every value a JSON string (``"EXIT_CODE":"1"``), empty values ``""`` in JSON and ``-`` in
  text;
- an empty ``EXIT_CODE`` for jobs killed by a signal or ``bkill``: ``STAT`` decides success,
  ``EXIT_REASON`` (``TERM_OWNER: job killed by owner``, ``TERM_RUNLIMIT: ...``) how a job was
  stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple, Optional

from psij.executors.batch.exit_codes import signal_name

__all__ = [
    'QUEUED', 'ACTIVE', 'COMPLETED', 'FAILED', 'CANCELED',
    'LSF_TO_PSIJ', 'FINAL_LSF_STATES', 'STATUS_FIELDS', 'CANCEL_REASONS', 'TRANSIENT_ERRORS',
    'LsfJobStatus', 'BjobsAnswer', 'PsijStatus',
    'bjobs_status_command', 'parse_bjobs', 'parse_bjobs_json', 'parse_bjobs_delimited',
    'parse_bjobs_table', 'json_job_ids', 'not_found_ids', 'term_key', 'decode_exit_code', 'to_psij',
    'is_final', 'is_transient', 'says_no_jobs', 'job_id_from_bsub', 'json_unsupported',
]

QUEUED = 'QUEUED'
ACTIVE = 'ACTIVE'
COMPLETED = 'COMPLETED'
FAILED = 'FAILED'
CANCELED = 'CANCELED'

#: LSF ``STAT`` -> PSI/J state name (FACTS L1). Suspended jobs keep the state they had: a job
#: held before it ran (PSUSP) is QUEUED, one stopped while running (USUSP, SSUSP) ACTIVE.
#: UNKWN (mbatchd lost contact with the execution host) and ZOMBI (killed while its host was
#: unreachable; LSF marks it EXIT once the host returns) are not final: ACTIVE, so that the job
#: is neither lost nor ended before LSF knows.
LSF_TO_PSIJ: Mapping[str, str] = {
    'PEND': QUEUED,
    'PROV': QUEUED,
    'PSUSP': QUEUED,
    'WAIT': QUEUED,
    'RUN': ACTIVE,
    'USUSP': ACTIVE,
    'SSUSP': ACTIVE,
    'UNKWN': ACTIVE,
    'ZOMBI': ACTIVE,
    'DONE': COMPLETED,
    'POST_DONE': COMPLETED,
    'EXIT': FAILED,
    'POST_ERR': FAILED,
}

FINAL_LSF_STATES = frozenset(s for s, p in LSF_TO_PSIJ.items()
                             if p in (COMPLETED, FAILED, CANCELED))

#: fields of the status command, in this order (``exit_reason`` last: it is free text)
STATUS_FIELDS = ('jobid', 'stat', 'exit_code', 'exit_reason')

#: termination reasons of a job stopped by a person (bkill by its owner or an administrator)
CANCEL_REASONS = frozenset({'TERM_OWNER', 'TERM_ADMIN', 'TERM_FORCE_OWNER', 'TERM_FORCE_ADMIN'})

_FAILURE_CAUSES: Mapping[str, str] = {
    'TERM_RUNLIMIT': 'Job exceeded its time limit',
    'TERM_MEMLIMIT': 'Job exceeded its memory limit',
    'TERM_SWAP': 'Job exceeded its swap (virtual memory) limit',
    'TERM_CPULIMIT': 'Job exceeded its CPU time limit',
    'TERM_PROCESSLIMIT': 'Job exceeded its process limit',
    'TERM_THREADLIMIT': 'Job exceeded its thread limit',
    'TERM_DEADLINE': 'Job reached its deadline',
    'TERM_PREEMPT': 'Job was preempted',
    'TERM_WINDOW': 'Job was killed when its queue\'s run window closed',
    'TERM_LOAD': 'Job was killed because of the load on its host',
    'TERM_ZOMBIE': 'Job was killed while its host was unreachable',
    'TERM_CWD_NOTEXIST': 'The job\'s working directory does not exist',
    'TERM_PRE_EXEC_FAIL': 'The job\'s pre-execution command failed',
    'TERM_EXTERNAL_SIGNAL': 'Job was killed by a signal from outside LSF',
    'TERM_REMOVE_HUNG_JOB': 'Job was removed as hung',
    'TERM_ORPHAN_SYSTEM': 'Job was killed as an orphan (its dependency failed)',
}

_NOT_FOUND = re.compile(r'Job <([^>]+)> is not found')
_BSUB_ID = re.compile(r'^Job <(\d+)> is submitted', re.MULTILINE)
TRANSIENT_ERRORS = re.compile(r'Please wait|Cannot connect to LSF|LSF is down|not responding|'
                        r'try (?:again|later)|timed? ?out|Failed in an LSF library call|'
                        r'Unable to contact|connection refused|mbatchd', re.IGNORECASE)
"""LSF's phrases for a master that cannot be reached or is busy (FACTS L2, L9)."""
_NO_JOBS = re.compile(r'^No (?:unfinished |pending |running |suspended |matching )?job found',
                      re.MULTILINE)
_PLEASE_WAIT = re.compile(r'Please wait', re.IGNORECASE)


class LsfJobStatus(NamedTuple):
    """What ``bjobs`` says about one job (FACTS L1, L3).

    ``exit_code`` is None when LSF printed none (always for DONE; often for jobs killed by a
    signal or ``bkill``); ``exit_reason`` is the ``EXIT_REASON`` text, e.g. ``TERM_OWNER: job
    killed by owner``, or None.
    """
    stat: str
    exit_code: Optional[int]
    exit_reason: Optional[str]


class BjobsAnswer(NamedTuple):
    """A parsed ``bjobs`` answer: the records found, the ids LSF said it does not know, and
    whether the answer was complete (a JSON document or a header line: a real answer, even
    with no record in it, not just an error message)."""
    jobs: dict[str, LsfJobStatus]
    not_found: set[str]
    complete: bool = False


class PsijStatus(NamedTuple):
    """A PSI/J status: the name of a ``psij.JobState`` member, a message, an exit code."""
    state: str
    message: Optional[str]
    exit_code: Optional[int]


# ------------------------------------------------------------------------------- commands

def bjobs_status_command(native_ids: Iterable[str], use_json: bool = True,
                         bjobs: str = 'bjobs') -> list[str]:
    """The bulk status command for `native_ids`.

    ``-a`` keeps finished jobs in the answer (for CLEAN_PERIOD, an hour by default); ``-json``
    needs LSF 10.1 Fix Pack 2, older versions get the ``delimiter='|'`` form of ``-o`` (LSF
    9.1). ``-q`` is never used: queues can be renamed after submission (FACTS L9).
    """
    ids = list(native_ids)
    if not ids:
        raise ValueError('no job ids')
    fields = ' '.join(STATUS_FIELDS)
    if use_json:
        return [bjobs, '-a', '-o', fields, '-json'] + ids
    return [bjobs, '-a', '-o', "%s delimiter='|'" % fields] + ids


# ----------------------------------------------------------------------------- primitives

def _value(text: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    text = text.strip()
    return None if text in ('', '-') else text


def _int(text: Optional[str]) -> Optional[int]:
    v = _value(text)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        try:
            return int(float(v))
        except ValueError:
            return None


def _record(job_id: str, stat: str, exit_code: Optional[str],
            exit_reason: Optional[str]) -> Optional[tuple[str, LsfJobStatus]]:
    job_id = job_id.strip()
    stat = stat.strip().upper()
    if not job_id or not stat or not re.fullmatch(r'\d+(?:\[\d+\])?', job_id):
        return None
    return job_id, LsfJobStatus(stat, _int(exit_code), _value(exit_reason))


def not_found_ids(text: str) -> set[str]:
    """The ids of ``Job <N> is not found`` lines."""
    return set(_NOT_FOUND.findall(text))


def is_transient(text: str) -> bool:
    """Whether a failed LSF command's output says LSF could not be reached or was busy."""
    return bool(TRANSIENT_ERRORS.search(text))


def says_no_jobs(text: str) -> bool:
    """``No unfinished job found``, ``No job found``...: a valid, empty answer."""
    return bool(_NO_JOBS.search(text))


def json_unsupported(text: str) -> bool:
    """Whether ``bjobs`` rejected ``-json`` (an LSF older than 10.1 Fix Pack 2)."""
    if '{' in text:
        return False
    low = text.lower()
    return 'json' in low and ('usage' in low or 'illegal' in low or 'invalid' in low
                              or 'unknown' in low)


def job_id_from_bsub(out: str) -> Optional[str]:
    """The id in ``Job <123> is submitted to [default ]queue <q>.``; other lines (a site's esub
    messages, "Please wait" lines) are skipped. None if there is no such line."""
    found = _BSUB_ID.findall(out)
    return found[-1] if found else None


# --------------------------------------------------------------------------------- parsers

def parse_bjobs_json(text: str) -> BjobsAnswer:
    """Parse ``bjobs -o '...' -json`` (FACTS L3), anything around the JSON object ignored.

    Records need ``JOBID`` and ``STAT``; a record with an ``ERROR`` key (``Job <N> is not
    found``) counts as not found. ``Job <N> is not found`` lines outside the JSON (stderr) are
    read too.
    """
    not_found = not_found_ids(_outside_json(text))
    jobs: dict[str, LsfJobStatus] = {}
    start, end = text.find('{'), text.rfind('}')
    if start < 0 or end < start:
        return BjobsAnswer(jobs, not_found)
    try:
        doc = json.loads(text[start:end + 1])
    except ValueError:
        return BjobsAnswer(jobs, not_found)
    records = doc.get('RECORDS') if isinstance(doc, dict) else None
    if not isinstance(records, list):
        return BjobsAnswer(jobs, not_found)
    for r in records:
        if not isinstance(r, dict):
            continue
        fields = {str(k).upper(): ('' if v is None else str(v)) for k, v in r.items()}
        if 'ERROR' in fields:
            ids = not_found_ids(fields['ERROR'])
            if fields.get('JOBID'):
                ids.add(fields['JOBID'].strip())
            not_found |= ids
            continue
        rec = _record(fields.get('JOBID', ''), fields.get('STAT', ''),
                      fields.get('EXIT_CODE'), fields.get('EXIT_REASON'))
        if rec is not None:
            jobs[rec[0]] = rec[1]
    return BjobsAnswer(jobs, not_found - set(jobs), True)


def json_job_ids(text: str) -> list[str]:
    """The ``JOBID`` values of a ``bjobs -o 'jobid ...' -json`` answer, in order."""
    start, end = text.find('{'), text.rfind('}')
    if start < 0 or end < start:
        return []
    try:
        doc = json.loads(text[start:end + 1])
    except ValueError:
        return []
    records = doc.get('RECORDS') if isinstance(doc, dict) else None
    ids = []
    for r in records if isinstance(records, list) else []:
        if isinstance(r, dict) and 'ERROR' not in r and str(r.get('JOBID', '')).isdigit():
            ids.append(str(r['JOBID']))
    return ids


def _outside_json(text: str) -> str:
    start, end = text.find('{'), text.rfind('}')
    if start < 0 or end < start:
        return text
    return text[:start] + text[end + 1:]


def parse_bjobs_delimited(text: str, delimiter: str = '|') -> BjobsAnswer:
    """Parse ``bjobs -o "... delimiter='|'"`` with its header line (FACTS L3).

    Columns are found by the header names (``JOBID``, ``STAT``, ``EXIT_CODE``,
    ``EXIT_REASON``); the last column takes any extra delimiters (free text). Lines before the
    header ("Please wait") and ``Job <N> is not found`` lines are skipped.
    """
    jobs: dict[str, LsfJobStatus] = {}
    names: Optional[list[str]] = None
    for line in text.splitlines():
        if not line.strip() or _NOT_FOUND.search(line):
            continue
        parts = line.split(delimiter)
        if names is None:
            if parts[0].strip().upper() in ('JOBID', 'ID'):
                names = ['JOBID' if p.strip().upper() == 'ID' else p.strip().upper()
                         for p in parts]
            continue
        if len(parts) > len(names):
            parts = parts[:len(names) - 1] + [delimiter.join(parts[len(names) - 1:])]
        f = dict(zip(names, parts, strict=False))
        rec = _record(f.get('JOBID', ''), f.get('STAT', ''), f.get('EXIT_CODE'),
                      f.get('EXIT_REASON'))
        if rec is not None:
            jobs[rec[0]] = rec[1]
    return BjobsAnswer(jobs, not_found_ids(text) - set(jobs), names is not None)


def parse_bjobs_table(text: str) -> BjobsAnswer:
    """Parse the default and ``-w`` tables (``JOBID USER STAT QUEUE ...``): id and state only.

    Continuation lines (one more EXEC_HOST slot each) and "Please wait" lines are skipped.
    """
    jobs: dict[str, LsfJobStatus] = {}
    header = False
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == 'JOBID':
            header = True
            continue
        if not header or line[0].isspace() or len(words) < 3:
            continue
        rec = _record(words[0], words[2], None, None)
        if rec is not None:
            jobs[rec[0]] = rec[1]
    return BjobsAnswer(jobs, not_found_ids(text) - set(jobs), header)


def parse_bjobs(text: str) -> BjobsAnswer:
    """Parse any of the layouts above: JSON if there is a ``{``, a ``|``-delimited table if
    the header has ``|``, else a default/``-w`` table."""
    if '{' in text:
        return parse_bjobs_json(text)
    for line in text.splitlines():
        words = line.replace('|', ' ').split()
        if words and words[0] in ('JOBID', 'ID'):
            if '|' in line:
                return parse_bjobs_delimited(text)
            return parse_bjobs_table(text)
    return BjobsAnswer({}, not_found_ids(text))


# ------------------------------------------------------------------------------- mapping

def term_key(exit_reason: Optional[str]) -> Optional[str]:
    """``'TERM_RUNLIMIT: job killed after ...'`` -> ``'TERM_RUNLIMIT'``; None otherwise."""
    if not exit_reason:
        return None
    m = re.match(r'\s*(TERM_[A-Z_]+)', exit_reason)
    return m.group(1) if m else None


def decode_exit_code(code: Optional[int]) -> tuple[Optional[int], Optional[int]]:
    """(exit code, signal) for an ``EXIT_CODE`` (FACTS L4): LSF reports the job's exit value as
    is; a job whose shell reported a child killed by signal N has 128 + N."""
    if code is None:
        return None, None
    if 128 < code < 128 + 65:
        return code, code - 128
    return code, None


def is_final(stat: str) -> bool:
    """True if LSF never moves a job out of `stat`."""
    return stat.strip().upper() in FINAL_LSF_STATES


def to_psij(status: LsfJobStatus) -> Optional[PsijStatus]:
    """PSI/J view of an LSF status; None for a state this module does not know (no news).

    DONE is COMPLETED; EXIT is CANCELED when the job was killed by a person (TERM_OWNER,
    TERM_ADMIN, TERM_FORCE_*), FAILED otherwise, with a message naming the cause for a
    termination by LSF (TERM_RUNLIMIT: "time limit", TERM_MEMLIMIT: "memory", ...) or a kill
    without exit code; a plain non-zero exit has no message (the executor then reports the
    exit code with the tail of the job's output).
    """
    stat = status.stat.strip().upper()
    psij = LSF_TO_PSIJ.get(stat)
    if psij is None:
        return None
    if psij in (QUEUED, ACTIVE):
        return PsijStatus(psij, None, None)
    code, sig = decode_exit_code(status.exit_code)
    if psij == COMPLETED:
        return PsijStatus(COMPLETED, None, code if code is not None else 0)
    key = term_key(status.exit_reason)
    details = ['LSF %s' % stat]
    if status.exit_reason:
        details.append(status.exit_reason)
    if sig:
        details.append('killed by %s' % signal_name(sig))
    elif code:
        details.append('exit code %d' % code)
    if key in CANCEL_REASONS:
        return PsijStatus(CANCELED, 'Job canceled (%s)' % ', '.join(details), code)
    if key is not None:
        cause = _FAILURE_CAUSES.get(key, 'Job was terminated by LSF')
        return PsijStatus(FAILED, '%s (%s)' % (cause, ', '.join(details)), code)
    if code is None:
        return PsijStatus(FAILED, 'Job was killed (%s, no exit code)' % ', '.join(details),
                          None)
    return PsijStatus(FAILED, None, code)
