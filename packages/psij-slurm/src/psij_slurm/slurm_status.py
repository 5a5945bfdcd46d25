"""Bulk job status for Slurm: the commands, their parsers and the Slurm -> PSI/J state map.

Pure Python, no dependency (not even on ``psij``): PSI/J states are given by name
(``'QUEUED'``, ``'ACTIVE'``, ``'COMPLETED'``, ``'FAILED'``, ``'CANCELED'``), so the executor
turns them into ``psij.JobState`` members with ``JobState[name]``.

One status command per polling cycle asks about every active job at once::

    squeue -h -t all -j ID1,ID2,... -O 'JobID:|,State:|,Reason:|,exit_code:|'

(see :func:`squeue_command`). ``-t all`` keeps finished jobs in the answer for ``MinJobAge``
seconds; ``exit_code`` is the raw wait status (768 = exit 3, 9 = SIGKILL) so a job that just
ended is reported with its exit code from the same call; ``JobID`` is the raw numeric id that
``sbatch --parsable`` printed (also for array tasks, which ``%i``/``JobArrayID`` show as
``123_4``). Jobs gone from the queue are looked up with ``sacct -c`` (jobcomp/filetxt) or
``sacct`` (slurmdbd): see :func:`sacct_command` and :func:`parse_sacct`. Sites may have
neither, so an executor keeps its own record of exit codes too.

Facts behind the choices are in ``ci/slurm/FACTS.md`` of the psij repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Optional

from psij.executors.batch.exit_codes import signal_name

__all__ = [
    'QUEUED', 'ACTIVE', 'COMPLETED', 'FAILED', 'CANCELED',
    'COMPACT_STATES', 'SLURM_TO_PSIJ', 'FINAL_SLURM_STATES',
    'SQUEUE_FIELDS', 'SACCT_FIELDS',
    'SlurmJobStatus', 'PsijStatus',
    'squeue_command', 'sacct_command',
    'normalize_state', 'decode_wait_status', 'is_wait_status', 'parse_exit_code_pair',
    'split_job_id', 'LAUNCH_FAILURE',
    'parse_squeue', 'parse_sacct', 'to_psij', 'psij_state', 'is_final',
    'classify_error', 'UNKNOWN_JOB', 'NO_ACCOUNTING', 'TRANSIENT',
]

# PSI/J state names (members of psij.JobState)
QUEUED = 'QUEUED'
ACTIVE = 'ACTIVE'
COMPLETED = 'COMPLETED'
FAILED = 'FAILED'
CANCELED = 'CANCELED'

#: squeue's compact state codes (``%t``, ``-O StateCompact``, ``ST`` column) -> long names
COMPACT_STATES: Mapping[str, str] = {
    'BF': 'BOOT_FAIL',
    'CA': 'CANCELLED',
    'CD': 'COMPLETED',
    'CF': 'CONFIGURING',
    'CG': 'COMPLETING',
    'DL': 'DEADLINE',
    'F': 'FAILED',
    'NF': 'NODE_FAIL',
    'OOM': 'OUT_OF_MEMORY',
    'PD': 'PENDING',
    'PR': 'PREEMPTED',
    'R': 'RUNNING',
    'RD': 'RESV_DEL_HOLD',
    'RF': 'REQUEUE_FED',
    'RH': 'REQUEUE_HOLD',
    'RQ': 'REQUEUED',
    'RS': 'RESIZING',
    'RV': 'REVOKED',
    'S': 'SUSPENDED',
    'SE': 'SPECIAL_EXIT',
    'SI': 'SIGNALING',
    'SO': 'STAGE_OUT',
    'ST': 'STOPPED',
    'TO': 'TIMEOUT',
}

#: Slurm state (long name) -> PSI/J state name.
#: Not running user code yet, or back in the queue -> QUEUED (the PSI/J state machine never
#: moves a job backwards, so a REQUEUED job once seen ACTIVE stays ACTIVE); started and not
#: ended -> ACTIVE; the rest are final.
SLURM_TO_PSIJ: Mapping[str, str] = {
    'PENDING': QUEUED,
    'CONFIGURING': QUEUED,      # nodes allocated, being booted/configured: nothing runs yet
    'REQUEUED': QUEUED,
    'REQUEUE_HOLD': QUEUED,
    'REQUEUE_FED': QUEUED,
    'RESV_DEL_HOLD': QUEUED,
    'SPECIAL_EXIT': QUEUED,     # requeued and held after a special exit value
    'REVOKED': QUEUED,          # federation: this sibling was revoked, the job runs elsewhere
    'RUNNING': ACTIVE,
    'COMPLETING': ACTIVE,       # processes ending / epilog running; seen for ~50 s after an outage
    'SUSPENDED': ACTIVE,
    'STOPPED': ACTIVE,
    'SIGNALING': ACTIVE,
    'RESIZING': ACTIVE,
    'STAGE_OUT': ACTIVE,
    'COMPLETED': COMPLETED,
    'CANCELLED': CANCELED,
    'FAILED': FAILED,
    'OUT_OF_MEMORY': FAILED,
    'TIMEOUT': FAILED,
    'NODE_FAIL': FAILED,
    'PREEMPTED': FAILED,
    'BOOT_FAIL': FAILED,
    'DEADLINE': FAILED,
}

FINAL_SLURM_STATES = frozenset(s for s, p in SLURM_TO_PSIJ.items()
                               if p in (COMPLETED, FAILED, CANCELED))

_FAILURE_CAUSES: Mapping[str, str] = {
    'OUT_OF_MEMORY': 'job ran out of memory',
    'TIMEOUT': 'job exceeded its time limit',
    'NODE_FAIL': 'a node allocated to the job failed',
    'PREEMPTED': 'job was preempted',
    'BOOT_FAIL': 'the nodes of the job failed to boot',
    'DEADLINE': 'job reached its deadline',
    'FAILED': 'job failed',
}

#: field list for the bulk squeue call (``-O``, ``|`` after each field, no padding)
SQUEUE_FIELDS = 'JobID:|,State:|,Reason:|,exit_code:|'
#: field list for sacct (``-P``: ``|``-separated)
SACCT_FIELDS = 'JobID,State,ExitCode'

LAUNCH_FAILURE = 'JobLaunchFailure'
"""The reason of a job Slurm could not launch (or whose script was killed by SIGKILL)."""
_FIRST_NONSTANDARD_SIGNAL = 32
"""Signals from here on (real-time ones) do not kill batch scripts: a ``0:53`` of a launch
failure is slurmd's error code split as a wait status."""

_ID_RE = re.compile(r'^\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?$')
_STEP_RE = re.compile(r'^\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?\.')
_NO_REASON = ('', 'None', '(null)')


class SlurmJobStatus(NamedTuple):
    """What Slurm says about one job.

    ``exit_code`` and ``signal`` are only set for jobs in a final state: ``exit_code`` is the
    exit status of the batch script (None if it was killed by a signal), ``signal`` the signal
    that killed it (None if it exited).
    """
    state: str
    reason: Optional[str]
    exit_code: Optional[int]
    signal: Optional[int]
    launch_error: Optional[int] = None
    """With reason ``JobLaunchFailure``: Slurm's error code when the job could not be
    launched (e.g. 4021, an output file or directory that cannot be opened); what would be
    read as a signal (``0:53``) is part of it, not a signal."""


class PsijStatus(NamedTuple):
    """A PSI/J status: the name of a ``psij.JobState`` member, a message, an exit code."""
    state: str
    message: Optional[str]
    exit_code: Optional[int]


# ------------------------------------------------------------------------------- commands

def squeue_command(native_ids: Iterable[str]) -> list[str]:
    """The bulk status command for ``native_ids`` (raw numeric ids, as ``sbatch`` gave them).

    Exit status 1 with ``Invalid job id specified`` when it names exactly one id and Slurm no
    longer knows it; with several ids the unknown ones are simply missing (exit 0).
    """
    ids = ','.join(native_ids)
    if not ids:
        raise ValueError('no job ids')
    return ['squeue', '--noheader', '--states=all', '--jobs=' + ids,
            '--Format=' + SQUEUE_FIELDS]


def sacct_command(native_ids: Iterable[str], jobcomp: bool = True) -> list[str]:
    """Final state and exit code of jobs gone from squeue.

    ``jobcomp=True`` reads the jobcomp/filetxt log (``sacct -c``, works without slurmdbd);
    ``False`` asks slurmdbd (plain ``sacct``, exit 1 and "Slurm accounting storage is
    disabled" on sites without it). Both take a comma-separated list of ids.
    """
    ids = ','.join(native_ids)
    if not ids:
        raise ValueError('no job ids')
    cmd = ['sacct']
    if jobcomp:
        cmd.append('-c')
    else:
        cmd.append('-X')  # allocations only, no steps
    return cmd + ['-n', '-P', '-j', ids, '--format=' + SACCT_FIELDS]


# ----------------------------------------------------------------------------- primitives

def normalize_state(text: str) -> str:
    """``'CANCELLED by 0'`` -> ``'CANCELLED'``, ``'CD'`` -> ``'COMPLETED'``, ``'TIMEOUT+'``
    (truncated by a fixed column width) -> ``'TIMEOUT'``."""
    words = text.split()
    if not words:
        return ''
    word = words[0].rstrip('+').upper()
    return COMPACT_STATES.get(word, word)


def decode_wait_status(raw: int) -> tuple[Optional[int], Optional[int]]:
    """Raw wait status (``squeue -O exit_code``, ``--json``) -> (exit code, signal)."""
    sig = raw & 0x7F
    if sig:
        return None, sig
    return (raw >> 8) & 0xFF, None


def is_wait_status(raw: int) -> bool:
    """Whether `raw` can be a wait status: an exit (``code << 8``) or a death by a signal
    (its number in the low 7 bits, maybe the core-dump bit, nothing above)."""
    if raw < 0 or raw > 0xFFFF:
        return False
    return raw & 0x7F == 0 or raw >> 8 == 0


def parse_exit_code_pair(text: str) -> tuple[Optional[int], Optional[int]]:
    """``'3:0'`` -> (3, None); ``'0:9'`` -> (None, 9) (``ExitCode`` of scontrol/sacct)."""
    code_s, _, sig_s = text.strip().partition(':')
    try:
        code = int(code_s)
        sig = int(sig_s) if sig_s else 0
    except ValueError:
        return None, None
    if sig:
        return (code if code else None), sig
    return code, None


def split_job_id(native_id: str) -> tuple[str, Optional[str]]:
    """``'123'`` -> ('123', None); ``'123_4'`` -> ('123', '4');
    ``'123_[5-9%2]'`` -> ('123', '[5-9%2]') (pending array tasks)."""
    base, sep, task = native_id.partition('_')
    return base, (task if sep else None)


def _reason(text: str) -> Optional[str]:
    text = text.strip()
    return None if text in _NO_REASON else text


def _real_signal(reason: Optional[str], sig: Optional[int]) -> Optional[int]:
    """`sig`, unless it is part of slurmd's error code for a launch failure, which scontrol
    and sacct split as a wait status (4021 -> ``0:53``)."""
    if reason == LAUNCH_FAILURE and sig is not None and sig >= _FIRST_NONSTANDARD_SIGNAL:
        return None
    return sig


def _final_only(state: str, exit_code: Optional[int],
                sig: Optional[int]) -> tuple[Optional[int], Optional[int]]:
    if state in FINAL_SLURM_STATES:
        return exit_code, sig
    return None, None


# -------------------------------------------------------------------------------- squeue

_SQUEUE_HEADERS = {
    'JOBID': 'id', 'JOBIDRAW': 'id', 'STATE': 'state', 'ST': 'compact', 'REASON': 'reason',
    'NODELIST(REASON)': 'nodelist_reason', 'EXIT_CODE': 'exit', 'EXITCODE': 'exit',
}


def _squeue_record(fields: dict[str, str]) -> Optional[tuple[str, SlurmJobStatus]]:
    job_id = fields.get('id', '').strip()
    if not _ID_RE.match(job_id):
        return None
    state_text = fields.get('state') or fields.get('compact') or ''
    state = normalize_state(state_text)
    if not state:
        return None
    reason = _reason(fields.get('reason', ''))
    if 'reason' not in fields and fields.get('nodelist_reason', '').startswith('('):
        reason = _reason(fields['nodelist_reason'].strip()[1:-1])
    exit_code: Optional[int] = None
    sig: Optional[int] = None
    launch_error: Optional[int] = None
    raw = fields.get('exit', '').strip()
    if raw:
        try:
            number = int(raw)
        except ValueError:
            exit_code, sig = parse_exit_code_pair(raw)
        else:
            exit_code, sig = decode_wait_status(number)
            if reason == LAUNCH_FAILURE and not is_wait_status(number):
                # slurmd's error code (4021), which squeue prints where a wait status goes
                exit_code, sig, launch_error = None, None, number
    exit_code, sig = _final_only(state, exit_code, _real_signal(reason, sig))
    return job_id, SlurmJobStatus(state, reason, exit_code, sig, launch_error)


def _split_positional(line: str) -> dict[str, str]:
    if '|' in line:
        parts = line.split('|')
        if parts and parts[-1] == '':
            parts.pop()  # '-O field:|' puts a '|' after the last field too
        fields = {'id': parts[0] if parts else '', 'state': parts[1] if len(parts) > 1 else ''}
        rest = parts[2:]
        if len(rest) >= 2 and re.fullmatch(r'-?\d+(?::\d+)?', rest[-1].strip()):
            fields['exit'] = rest.pop()
        fields['reason'] = '|'.join(rest)
        return fields
    parts = line.split(None, 2)
    return {'id': parts[0] if parts else '', 'state': parts[1] if len(parts) > 1 else '',
            'reason': parts[2] if len(parts) > 2 else ''}


def parse_squeue(output: str,
                 fields: Optional[Sequence[str]] = None) -> dict[str, SlurmJobStatus]:
    """Parse squeue output into {job id as printed: status}.

    By default (no header line, ``fields`` None) the fields must be *id, state, reason[, exit
    status]*, separated by ``|`` (``-O 'JobID:|,State:|,Reason:|,exit_code:|'``,
    ``-o '%i|%T|%r'``) or by blanks (``-o '%i %T %r'``). Other layouts are read by column
    name, from a header line (no ``-h``) or from ``fields``, squeue's header names in order
    (e.g. ``['JOBID', 'NAME', 'STATE', 'REASON']``); the names used are JOBID, STATE or ST,
    REASON or NODELIST(REASON), EXIT_CODE. With blank-separated columns this only works while
    no column before the last needed one is empty or holds blanks.
    The exit status may be a raw wait status (``-O exit_code``) or ``code:signal``.
    Array tasks keep the id squeue printed (``123_4``, ``123_[5-9%2]`` with ``%i``; the raw
    id with ``-O JobID``). Lines that are not job records are ignored.
    """
    result: dict[str, SlurmJobStatus] = {}
    columns: Optional[list[str]] = None
    if fields is not None:
        columns = [_SQUEUE_HEADERS.get(n.strip().upper(), '') for n in fields]
    for line in output.splitlines():
        if not line.strip():
            continue
        piped = '|' in line
        first = line.replace('|', ' ').split()[0].upper()
        if first in ('JOBID', 'JOBIDRAW'):
            names = line.split('|') if piped else line.split()
            columns = [_SQUEUE_HEADERS.get(n.strip().upper(), '') for n in names]
            continue
        if columns is not None:
            values = line.split('|') if piped else line.split(None, len(columns) - 1)
            record = {c: v for c, v in zip(columns, values, strict=False) if c}
        else:
            record = _split_positional(line)
        rec = _squeue_record(record)
        if rec is not None:
            result[rec[0]] = rec[1]
    return result


# --------------------------------------------------------------------------------- sacct

def parse_sacct(output: str, fields: Sequence[str] = tuple(SACCT_FIELDS.split(',')),
                include_steps: bool = False) -> dict[str, SlurmJobStatus]:
    """Parse ``sacct -P`` / ``sacct -c -P`` output into {job id: status}.

    ``fields`` names the columns of ``--format`` in order (JobID or JobIDRaw, State,
    ExitCode, optionally Reason; other names are ignored); a header line (no ``-n``)
    overrides it. Steps (``5.batch``, ``4.0``, ``4.extern``) are skipped unless
    ``include_steps``. If an id appears more than once the last line wins: ``sacct -c`` prints
    the jobcomp log in the order jobs ended, so an id reused after a controller state reset
    shows its older records first. ``'CANCELLED by 0'`` becomes ``'CANCELLED'``.
    The key is JobIDRaw when present, else JobID (sacct -c prints raw ids even for array
    tasks; with slurmdbd JobID is ``123_4``).
    Lines with an empty State are skipped: ``sacct -c`` prints them for jobs whose name holds
    a blank (the jobcomp file is split at blanks), so submit with blank-free job names.
    """
    names = [f.strip().lower() for f in fields]
    result: dict[str, SlurmJobStatus] = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        values = line.split('|')
        if values[0].strip().lower() in ('jobid', 'jobidraw'):
            names = [v.strip().lower() for v in values]
            continue
        rec = dict(zip(names, values, strict=False))
        job_id = (rec.get('jobidraw') or rec.get('jobid') or '').strip()
        if _STEP_RE.match(job_id):
            if not include_steps:
                continue
        elif not _ID_RE.match(job_id):
            continue
        state = normalize_state(rec.get('state', ''))
        if not state:
            continue
        reason = _reason(rec.get('reason', ''))
        exit_code, sig = parse_exit_code_pair(rec.get('exitcode', ''))
        exit_code, sig = _final_only(state, exit_code, _real_signal(reason, sig))
        result[job_id] = SlurmJobStatus(state, reason, exit_code, sig)
    return result


# ------------------------------------------------------------------------------- mapping

def psij_state(slurm_state: str) -> Optional[str]:
    """PSI/J state name for a Slurm state (long or compact name); None if unknown."""
    return SLURM_TO_PSIJ.get(normalize_state(slurm_state))


def is_final(slurm_state: str) -> bool:
    """True if the Slurm state is one a job never leaves."""
    return normalize_state(slurm_state) in FINAL_SLURM_STATES


def to_psij(status: SlurmJobStatus) -> Optional[PsijStatus]:
    """PSI/J view of a Slurm status, with a message naming the cause of a failure.

    None for a state this module does not know (treat as "no news", not as lost).
    """
    state = normalize_state(status.state)
    psij = SLURM_TO_PSIJ.get(state)
    if psij is None:
        return None
    if psij in (QUEUED, ACTIVE):
        return PsijStatus(psij, None, None)
    if psij == COMPLETED:
        return PsijStatus(COMPLETED, None, status.exit_code)
    details = ['Slurm state %s' % state]
    if status.reason:
        details.append('reason %s' % status.reason)
    if psij == FAILED and status.reason == LAUNCH_FAILURE and not status.signal:
        if status.launch_error is not None:
            details.append('Slurm error %d' % status.launch_error)
        return PsijStatus(FAILED, 'Slurm could not launch the job (%s)' % ', '.join(details),
                          None)
    if status.signal:
        details.append('killed by %s' % signal_name(status.signal))
    elif status.exit_code:
        details.append('exit code %d' % status.exit_code)
    if psij == CANCELED:
        return PsijStatus(CANCELED, 'Job canceled (%s)' % ', '.join(details), status.exit_code)
    cause = _FAILURE_CAUSES.get(state, 'job failed')
    return PsijStatus(FAILED, '%s%s (%s)' % (cause[0].upper(), cause[1:], ', '.join(details)),
                      status.exit_code)


# -------------------------------------------------------------------------------- errors

UNKNOWN_JOB = 'unknown-job'
NO_ACCOUNTING = 'no-accounting'
TRANSIENT = 'transient'


def classify_error(returncode: int, stderr: str) -> Optional[str]:
    """Classify a failed squeue/sacct/scontrol call.

    - ``UNKNOWN_JOB``: ``Invalid job id specified`` (squeue/scontrol naming a single id that
      Slurm no longer knows -- aged out after MinJobAge, or never existed);
    - ``NO_ACCOUNTING``: plain sacct on a site without slurmdbd;
    - ``TRANSIENT``: anything else, e.g. ``Unable to contact slurm controller`` while
      slurmctld is down (squeue then fails after about 18 s): retry later, never declare the
      jobs lost because of it;
    - None if ``returncode`` is 0.
    """
    if returncode == 0:
        return None
    if 'Invalid job id specified' in stderr:
        return UNKNOWN_JOB
    if 'accounting storage is disabled' in stderr:
        return NO_ACCOUNTING
    return TRANSIENT
