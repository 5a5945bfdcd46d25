"""
What Grid Engine says about jobs: the parsers of ``qstat -xml``, ``qstat -j`` and ``qacct -j``,
and the mapping of Grid Engine's states and ``failed`` codes to PSI/J states.

- ``qstat -xml`` lists the user's pending and running jobs: one ``<job_list>`` element each,
  with ``<JB_job_number>`` and ``<state>`` (a string of state letters: ``qw``, ``hqw``, ``r``,
  ``t``, ``Eqw``, ``dr``, ...). A finished job is not listed at all.
- ``qstat -j ID`` (text) of a job in error state has an ``error reason`` line saying why.
- ``qacct -j`` prints one record per finished job (it reads the accounting file, so it works
  while ``sge_qmaster`` is down), records separated by a line of ``=``. ``failed`` is Grid
  Engine's verdict (0: the job ran; 37: a limit enforced by the master, e.g. ``h_rt``; 100:
  killed after the job started, e.g. by ``qdel``; other values: the job could not be started),
  ``exit_status`` the job script's exit status (128 + N for a kill by signal N).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional

from psij.executors.batch.exit_codes import limit_exceeded, signal_name
from psij.job_state import JobState
from psij.job_status import JobStatus

__all__ = ['SgeJob', 'AcctRecord', 'parse_qstat_xml', 'parse_qacct', 'parse_error_reasons',
           'qstat_to_job_status', 'acct_to_job_status', 'is_grid_engine_banner',
           'FAILED_REASONS', 'FAILED_LIMIT', 'FAILED_AFTER_JOB', 'category_limits']

FAILED_LIMIT = 37
"""``failed`` code: the master enforced ``h_rt``, ``h_cpu`` or ``h_vmem``."""
FAILED_AFTER_JOB = 100
"""``failed`` code: the job was ended after it started (``qdel``, a signal from outside)."""

#: Grid Engine's ``failed`` codes (execd's shepherd exit codes), as a short reason.
FAILED_REASONS: Dict[int, str] = {
    1: 'the job could not be started (assumedly before the job)',
    2: 'the job could not be started (before writing its config)',
    3: 'the job could not be started (before writing its PID)',
    4: 'the job could not be started (on reading its config file)',
    5: 'the job could not be started (setting its processor set)',
    6: 'the job could not be started (before its prolog)',
    7: 'the prolog failed',
    8: 'the job could not be started (before the PE start procedure)',
    9: 'the PE start procedure failed',
    10: 'the job could not be started (before the job)',
    11: 'the job could not be started (before the PE stop procedure)',
    12: 'the PE stop procedure failed',
    13: 'the job could not be started (before the epilog)',
    14: 'the epilog failed',
    15: 'the job could not be started (releasing its processor set)',
    16: 'the job could not be started (checkpointing)',
    17: 'the job could not be started (setting up its environment)',
    18: 'the job could not be started (its shell could not be found)',
    19: 'the job could not be started (its output could not be opened)',
    21: 'the job was rejected while recognizing it',
    24: 'the job was migrated',
    25: 'the job was rescheduled',
    26: 'the job\'s output file could not be opened',
    27: 'the job\'s shell could not be found',
    28: 'the job could not change to its working directory',
    29: 'the job\'s AFS setup failed',
    30: 'the job was rescheduled by an application error',
    31: 'the job could not be started (accessing its sgepasswd file)',
    36: 'the job\'s checkpointing failed',
    37: 'the job exceeded its time limit (h_rt, h_cpu or h_vmem enforced by the qmaster)',
    38: 'the job was ended by a failure of its host',
    40: 'the job\'s binding could not be set',
    100: 'the job was ended after it started (qdel or a signal from outside)',
}

_BANNER = re.compile(r'^\s*(?:SGE|GE|OGS/GE|UGE|AGE|Son of Grid Engine|Grid Engine)\s+\S*\d',
                     re.MULTILINE)


def is_grid_engine_banner(text: str) -> bool:
    """Whether `text` (``qstat -help``'s output) starts like Grid Engine's (``SGE 8.1.9``,
    ``OGS/GE 2011.11``, ``UGE 8.6.4``, ``AGE 2023.1``)."""
    return bool(_BANNER.search('\n'.join(text.splitlines()[:3])))


class SgeJob(NamedTuple):
    """What ``qstat -xml`` says about one job."""

    state: str
    """The state letters (``qw``, ``hqw``, ``r``, ``t``, ``Eqw``, ``dr``, ``s``, ...)."""
    name: str = ''
    """The job's name."""
    owner: str = ''
    """The job's owner."""
    queue: str = ''
    """The queue instance it runs in (``all.q@host``), empty while pending."""
    slots: int = 1
    """The slots it asked for or holds."""

    @property
    def error(self) -> bool:
        """Whether the job is in error state (``E``: it will not run without the admin)."""
        return 'E' in self.state

    @property
    def deleting(self) -> bool:
        """Whether the job is being deleted (``d``)."""
        return 'd' in self.state


def _text(elem: ET.Element, tag: str) -> str:
    child = elem.find(tag)
    return (child.text or '').strip() if child is not None else ''


MAX_TASKS_LISTED = 100000
"""A pending task range (``1-4:1``) of more tasks than this is listed under its job number
only."""


def task_ids(tasks: str) -> List[str]:
    """The task numbers in ``qstat``'s ``tasks`` field: ``3`` -> ['3'], ``1-7:2`` -> ['1',
    '3', '5', '7'], ``1-3:1,7`` -> ['1', '2', '3', '7']; [] for a job that is not an array."""
    out: List[str] = []
    for part in tasks.split(','):
        m = re.fullmatch(r'\s*(\d+)(?:-(\d+)(?::(\d+))?)?\s*', part)
        if m is None:
            continue
        first = int(m.group(1))
        last = int(m.group(2) or first)
        step = max(1, int(m.group(3) or 1))
        if (last - first) // step + len(out) > MAX_TASKS_LISTED:
            return out
        out.extend(str(t) for t in range(first, last + 1, step))
    return out


def parse_qstat_xml(text: str) -> Dict[str, SgeJob]:
    """
    ``qstat -xml`` -> {job id: job}. An array job's tasks are listed each under ``N.T`` and
    all together under the job number ``N`` (the first task seen stands for the array:
    ``qstat`` lists running tasks before pending ones).

    :raises ValueError: if `text` is not Grid Engine's ``qstat -xml`` document (e.g. another
        scheduler's ``qstat``, or a truncated document).
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError('qstat -xml printed nothing')
    try:
        root = ET.fromstring(stripped)
    except ET.ParseError as ex:
        raise ValueError('qstat -xml did not print XML (%s): %r' % (ex, stripped[:200])) from ex
    if root.tag != 'job_info':
        raise ValueError('qstat -xml printed XML that is not Grid Engine\'s job list: <%s>'
                         % root.tag)
    jobs: Dict[str, SgeJob] = {}
    for jl in root.iter('job_list'):
        number = _text(jl, 'JB_job_number')
        if not number:
            continue
        try:
            slots = int(_text(jl, 'slots') or '1')
        except ValueError:
            slots = 1
        job = SgeJob(_text(jl, 'state'), _text(jl, 'JB_name'), _text(jl, 'JB_owner'),
                     _text(jl, 'queue_name'), slots)
        jobs.setdefault(number, job)
        for task in task_ids(_text(jl, 'tasks')):
            jobs.setdefault('%s.%s' % (number, task), job)
    return jobs


def qstat_to_job_status(job: SgeJob, reason: Optional[str] = None) -> JobStatus:
    """
    The PSI/J status of a job ``qstat`` still lists: ``E`` (error) is FAILED with `reason`
    (``qstat -j``'s error reason); pending (``qw``, ``hqw``) and transferring (``t``: not
    started yet) are QUEUED; running, suspended and being deleted are ACTIVE (a deleted job is
    CANCELED once it is gone).
    """
    metadata = {'sge_state': job.state}
    if job.error:
        msg = 'Grid Engine put the job in error state (%s)' % job.state
        if reason:
            msg += ': %s' % reason
        return JobStatus(JobState.FAILED, message=msg, metadata=metadata)
    st = job.state.replace('d', '')
    if not st or 'q' in st or 'w' in st or st in ('t', 'h'):
        return JobStatus(JobState.QUEUED, metadata=metadata)
    return JobStatus(JobState.ACTIVE, metadata=metadata)


_REASON = re.compile(r'^error reason\s+\d+:\s*(.*)$')


def parse_error_reasons(text: str) -> Dict[str, str]:
    """``qstat -j ID[,ID...]`` (text) -> {job number: its error reason(s)} for the jobs that
    have one. The reason's leading timestamp and ``[uid:pid]`` are dropped."""
    reasons: Dict[str, List[str]] = {}
    number: Optional[str] = None
    for line in text.splitlines():
        if line.startswith('job_number:'):
            number = line.split(':', 1)[1].strip()
            continue
        m = _REASON.match(line)
        if m and number is not None:
            reason = re.sub(r'^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \[[\d:]+\]:\s*', '',
                            m.group(1).strip())
            reasons.setdefault(number, []).append(reason)
    return {k: '; '.join(v) for k, v in reasons.items()}


class AcctRecord(NamedTuple):
    """One ``qacct -j`` record."""

    job_number: str
    failed: int
    """Grid Engine's verdict (0: the job ran; see `FAILED_REASONS`)."""
    failed_text: str
    """The text after the ``failed`` code (``qmaster enforced h_rt, ...``)."""
    exit_status: Optional[int]
    """The job script's exit status (128 + N: killed by signal N)."""
    granted_pe: str = 'NONE'
    slots: int = 1
    owner: str = ''
    end_time: str = ''
    task: str = ''
    """The array task's number; empty for a job that is not an array."""
    array_tasks: int = 0
    """For the record of a whole array job (under its bare number): how many task records
    it stands for (it is the first failed task's, else the last task's)."""
    h_rt: Optional[float] = None
    """The job's walltime limit in seconds (``h_rt`` in its ``category``), if it had one."""
    h_cpu: Optional[float] = None
    """The job's CPU-time limit in seconds (``h_cpu`` in its ``category``), if it had one."""
    cpu: Optional[float] = None
    """The CPU time the job used in seconds (``cpu``: the execution daemon's last sample,
    which may be short of what the job used when it was killed)."""
    wallclock: Optional[float] = None
    """How long the job ran in seconds (``ru_wallclock``)."""


def _int(value: str) -> Optional[int]:
    m = re.match(r'\s*(-?\d+)', value)
    return int(m.group(1)) if m else None


_CATEGORY_LIMIT = re.compile(r'\b(h_rt|h_cpu)=([0-9:.]+)')


def _seconds(value: str) -> Optional[float]:
    """``'5'``, ``'0:0:5'``, ``'5.0s'`` -> 5.0; `None` if it is not a duration."""
    total = 0.0
    try:
        for part in value.strip().rstrip('s').split(':'):
            total = total * 60 + float(part)
    except ValueError:
        return None
    return total


def category_limits(category: str) -> Dict[str, float]:
    """``'-q all.q -l h_cpu=2,h_rt=60'`` -> ``{'h_cpu': 2.0, 'h_rt': 60.0}``."""
    out = {}
    for name, value in _CATEGORY_LIMIT.findall(category):
        seconds = _seconds(value)
        if seconds is not None:
            out[name] = seconds
    return out


def parse_qacct(text: str) -> Dict[str, AcctRecord]:
    """
    ``qacct -j ...`` -> {job id: its record}. When a job id has several records (ids restart
    after a cell is reset), the last one (the newest) is kept. An array task's record is
    under ``N.T``; the array as a whole under ``N``, with the record of its first failed task
    (a non-zero ``failed`` or exit status), else of its last one (see `AcctRecord`).
    """
    result: Dict[str, AcctRecord] = {}
    fields: Dict[str, str] = {}

    def close() -> None:
        number = fields.get('jobnumber', '').strip()
        if not number:
            return
        failed_raw = fields.get('failed', '0')
        failed = _int(failed_raw) or 0
        failed_text = failed_raw.split(':', 1)[1].strip() if ':' in failed_raw else ''
        task = fields.get('taskid', '').strip()
        task = task if task.isdigit() else ''
        limits = category_limits(fields.get('category', ''))
        rec = AcctRecord(number, failed, failed_text, _int(fields.get('exit_status', '')),
                         fields.get('granted_pe', 'NONE').strip() or 'NONE',
                         _int(fields.get('slots', '1')) or 1, fields.get('owner', '').strip(),
                         fields.get('end_time', '').strip(), task,
                         h_rt=limits.get('h_rt'), h_cpu=limits.get('h_cpu'),
                         cpu=_seconds(fields.get('cpu', '')),
                         wallclock=_seconds(fields.get('ru_wallclock', '')))
        if not task:
            result[number] = rec
            return
        result['%s.%s' % (number, task)] = rec
        whole = result.get(number)
        count = whole.array_tasks + 1 if whole is not None else 1
        if whole is None or not _record_failed(whole):
            whole = rec
        result[number] = whole._replace(array_tasks=count)

    for line in text.splitlines():
        if line.startswith('====='):
            close()
            fields = {}
            continue
        key, _, value = line.partition(' ')
        if key:
            fields[key] = value.strip()
    close()
    return result


def _record_failed(rec: AcctRecord) -> bool:
    return bool(rec.failed) or rec.exit_status not in (0, None)


def acct_to_job_status(rec: AcctRecord, deleted: bool = False) -> JobStatus:
    """
    The final PSI/J status of a finished job from its accounting record (see
    `_job_acct_status`); the status of a whole array job (`AcctRecord.array_tasks`) is that of
    its first failed task, else COMPLETED, and its message names the task.
    """
    st = _job_acct_status(rec, deleted)
    if not rec.array_tasks:
        return st
    what = 'Task %s of the array job (%d tasks ended)' % (rec.task, rec.array_tasks)
    if st.state is JobState.COMPLETED:
        return st
    detail = st.message or 'The job exited with code %s' % st.exit_code
    return JobStatus(st.state, message='%s: %s' % (what, detail[0].lower() + detail[1:]),
                     exit_code=st.exit_code, metadata=dict(st.metadata or {}, sge_task=rec.task))


_CPU_LIMIT_KILLS = (128 + 9, 128 + 24)
"""The exit status of a job the execution daemon ended at its ``h_cpu`` (SIGKILL, SIGXCPU):
``failed 100`` and this, nothing else, in its record."""


def _job_acct_status(rec: AcctRecord, deleted: bool) -> JobStatus:
    """
    The final PSI/J status of a finished job from its accounting record: ``failed`` 37 of a
    job with an ``h_rt`` (that ran that long, if it had an ``h_cpu`` too) is FAILED "walltime
    exceeded"; a job with an ``h_cpu`` that was not deleted and ended by ``failed`` 37 or a
    SIGKILL/SIGXCPU is FAILED "CPU-time limit exceeded" (the record says no more: the
    execution daemon kills the job and writes ``failed 100``; a job with an ``h_cpu`` that
    SIGKILLs itself reads the same), both without an exit code (``failed`` 37 without either:
    ``h_vmem``, Grid Engine's reason); 100 with a kill (exit status 137 or
    143) is CANCELED if the job was `deleted` (the caller sent the ``qdel`` or saw the job in
    a deletion state), else FAILED with the signal (a ``qdel`` and a job that killed its own
    process group give the same record: ``failed 100``, ``exit_status 137``); another non-zero
    ``failed`` is FAILED with Grid Engine's reason; otherwise the exit status decides (0:
    COMPLETED; a plain exit code: FAILED without a message, so that the executor adds the
    tail of the job's output).
    """
    metadata = {'sge_failed': rec.failed, 'sge_exit_status': rec.exit_status}
    code = rec.exit_status
    detail = 'Grid Engine failed %d%s, exit_status %s, cpu %ss' % (
        rec.failed, ': ' + rec.failed_text if rec.failed_text else '', code, rec.cpu)
    if rec.failed == FAILED_LIMIT and rec.h_rt is not None and (
            rec.h_cpu is None or (rec.wallclock or 0) >= rec.h_rt):
        return limit_exceeded('walltime', rec.h_rt, detail, metadata)
    if rec.h_cpu is not None and not deleted and (
            rec.failed == FAILED_LIMIT or code in _CPU_LIMIT_KILLS):
        return limit_exceeded('cpu_time', rec.h_cpu, detail, metadata)
    if rec.failed == FAILED_AFTER_JOB and code is not None and code > 128:
        if deleted:
            return JobStatus(JobState.CANCELED, message='The job was deleted (qdel)',
                             exit_code=code, metadata=metadata)
        return JobStatus(JobState.FAILED, message='The job was killed by %s (Grid Engine '
                         'failed %d)' % (signal_name(code - 128), rec.failed), exit_code=code,
                         metadata=metadata)
    if rec.failed:
        reason = FAILED_REASONS.get(rec.failed, 'Grid Engine failed the job')
        return JobStatus(JobState.FAILED, message='%s%s (Grid Engine failed %d%s)' % (
            reason[0].upper(), reason[1:], rec.failed,
            ': ' + rec.failed_text if rec.failed_text else ''), exit_code=code,
            metadata=metadata)
    if code == 0:
        return JobStatus(JobState.COMPLETED, exit_code=0, metadata=metadata)
    if code is not None and code > 128:
        return JobStatus(JobState.FAILED, message='The job was killed by %s'
                         % signal_name(code - 128), exit_code=code, metadata=metadata)
    return JobStatus(JobState.FAILED, exit_code=code, metadata=metadata)
