"""How the simulated LSF commands print: every layout here is checked byte for byte against the
real outputs in ``tests/samples/lsf`` (``tests/test_lsf_sim_samples.py``).

A job is a dict of ``bjobs -o`` field names (lower case, canonical: ``jobid``, ``stat``,
``exit_code``...) to strings; ``''`` is an empty value (printed ``-`` in text, ``""`` in JSON).
``exec_host`` is a list with one host per slot.
"""

from __future__ import annotations

import json
from typing import Dict, Iterable, List, Sequence, Union

Job = Dict[str, Union[str, List[str]]]

# -o field aliases (IBM-doc bjobs -o) -> canonical names; the header shows the canonical name
ALIASES = {'id': 'jobid', 'name': 'job_name', 'project': 'proj_name', 'cmd': 'command',
           'jobindex': 'jobindex', 'nalloc_slot': 'slots'}

#: field names the simulator knows (those used by projects in the wild, FACTS L3)
FIELDS = frozenset({
    'jobid', 'stat', 'exit_code', 'exit_reason', 'pend_reason', 'kill_reason',
    'suspend_reason', 'user', 'user_group', 'queue', 'proj_name', 'job_name', 'from_host',
    'exec_host', 'slots', 'nreq_slot', 'max_req_proc', 'submit_time', 'start_time',
    'finish_time', 'run_time', 'cpu_used', '%complete', 'runtimelimit', 'mem', 'max_mem',
    'memlimit', 'swap', 'swaplimit', 'pids', 'exec_cwd', 'exec_home', 'sub_cwd',
    'output_file', 'error_file', 'input_file', 'effective_resreq', 'dependency',
    'job_description', 'nthreads', 'job_group', 'job_priority', 'command', 'jobindex',
})

PLEASE_WAIT = 'LSF is processing your request. Please wait ...'
CANNOT_CONNECT = 'Cannot connect to LSF. Please wait ...'
NO_UNFINISHED = 'No unfinished job found'
NO_JOB = 'No job found'


def canonical(name: str) -> str:
    """The canonical field name for a ``-o`` name (case-insensitive, aliases resolved)."""
    low = name.strip().lower()
    return ALIASES.get(low, low)


def _text(job: Job, field: str) -> str:
    v = job.get(field, '')
    if isinstance(v, list):
        return ':'.join(v)
    return v


# -- messages ------------------------------------------------------------------------------------

def bsub_submitted(job_id: str, queue: str, default: bool) -> str:
    """``Job <N> is submitted to [default ]queue <Q>.``"""
    return 'Job <%s> is submitted to %squeue <%s>.\n' % (job_id, 'default ' if default else '',
                                                        queue)


def bsub_error(message: str) -> str:
    """``<message>. Job not submitted.``"""
    return '%s. Job not submitted.\n' % message


def not_found(job_id: str) -> str:
    """``Job <N> is not found``"""
    return 'Job <%s> is not found\n' % job_id


def bkill_accepted(job_id: str, signaled: bool = False) -> str:
    """``Job <N> is being terminated`` (``signaled``: ``... is being signaled``)."""
    return 'Job <%s> is being %s\n' % (job_id, 'signaled' if signaled else 'terminated')


def bkill_finished(job_id: str) -> str:
    """``Job <N>: Job has already finished``"""
    return 'Job <%s>: Job has already finished\n' % job_id


def bkill_unknown(job_id: str) -> str:
    """``Job <N>: No matching job found``"""
    return 'Job <%s>: No matching job found\n' % job_id


# -- the default, -w and -W tables ---------------------------------------------------------------

_HEADER = 'JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME'
_WIDE_EXTRA = '  PROJ_NAME CPU_USED MEM SWAP PIDS START_TIME FINISH_TIME'
_CONTINUATION = ' ' * 45  # where EXEC_HOST starts


def _short_name(name: str) -> str:
    return name if len(name) <= 10 else '*' + name[-9:]


def table(jobs: Iterable[Job], wide: bool = False, extended: bool = False) -> str:
    """``bjobs`` (default), ``bjobs -w`` (no truncation, hosts joined by ``:``) and ``bjobs -W``
    (``-w`` plus PROJ_NAME ... FINISH_TIME; times in ``MM/DD-HH:MM:SS``, given so in the job)."""
    out = [_HEADER + (_WIDE_EXTRA if extended else '')]
    wide = wide or extended
    for job in jobs:
        hosts = job.get('exec_host') or []
        assert isinstance(hosts, list)
        name = _text(job, 'job_name')
        first = ':'.join(hosts) if wide else (hosts[0] if hosts else '')
        line = '%-7s %-7s %-5s %-10s %-11s %-11s %-10s %s' % (
            _text(job, 'jobid'), _text(job, 'user'), _text(job, 'stat'), _text(job, 'queue'),
            _text(job, 'from_host'), first, name if wide else _short_name(name),
            _text(job, 'submit_time'))
        if extended:
            line += ' %-10s %-12s %-6s %-6s %s %s %s' % (
                _text(job, 'proj_name') or 'default', _text(job, 'cpu_used'),
                _text(job, 'mem'), _text(job, 'swap'), _text(job, 'pids'),
                _text(job, 'start_time'), _text(job, 'finish_time'))
        out.append(line)
        if not wide:
            out.extend(_CONTINUATION + h for h in hosts[1:])
    return '\n'.join(out) + '\n'


# -- -o: text, delimiter, JSON ------------------------------------------------------------------

def custom(jobs: Sequence[Job], fields: Sequence[str], delimiter: str = ' ',
           header: bool = True) -> str:
    """``bjobs -o "f1 f2 ... [delimiter='c']" [-noheader]``: empty values print ``-``."""
    lines = []
    if header:
        lines.append(delimiter.join(f.upper() for f in fields))
    for job in jobs:
        lines.append(delimiter.join(_text(job, f) or '-' for f in fields))
    return '\n'.join(lines) + '\n' if lines else ''


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace('/', '\\/')


def json_records(records: Sequence[Dict[str, str]]) -> str:
    """``bjobs -o ... -json`` (FACTS L3): 2 blanks per level, no blank after ``:``, every value
    a string, ``/`` escaped, keys in ``-o`` order; JOBS is the number of records."""
    out = ['{', '  "COMMAND":"bjobs",', '  "JOBS":%d,' % len(records), '  "RECORDS":[']
    for i, rec in enumerate(records):
        out.append('    {')
        items = list(rec.items())
        for j, (k, v) in enumerate(items):
            out.append('      "%s":%s%s' % (k, _json_string(v), ',' if j < len(items) - 1
                                                                else ''))
        out.append('    }' + (',' if i < len(records) - 1 else ''))
    out += ['  ]', '}']
    return '\n'.join(out) + '\n'


def json_jobs(jobs: Sequence[Job], fields: Sequence[str]) -> str:
    """`json_records` for jobs, the keys being the upper-case field names."""
    return json_records([{f.upper(): _text(job, f) for f in fields} for job in jobs])


# -- -l ------------------------------------------------------------------------------------------

_WIDTH = 79
_INDENT = ' ' * 21

LOAD_BLOCK = (
    ' SCHEDULING PARAMETERS:\n'
    '           r15s   r1m  r15m   ut      pg    io   ls    it    tmp    swp    mem\n'
    ' loadSched   -     -     -     -       -     -    -     -     -      -      -\n'
    ' loadStop    -     -     -     -       -     -    -     -     -      -      -\n')


def wrap(text: str, prefix: str = '') -> List[str]:
    """LSF's long-format wrapping: 79 columns cut anywhere, continuation lines indented by 21
    blanks, a blank at a cut dropped."""
    lines = []
    cur = prefix
    rest = text
    while rest:
        room = _WIDTH - len(cur)
        chunk, rest = rest[:room], rest[room:]
        lines.append((cur + chunk).rstrip(' '))
        if rest.startswith(' '):
            rest = rest[1:]
        cur = _INDENT
    return lines


def long_format(head: str, events: Sequence[tuple[str, str]], tail: str = LOAD_BLOCK) -> str:
    """``bjobs -l``: the job's description, its events (time stamp ``Tue Jul 24 10:26:42``,
    text), a blank line and the scheduling parameters."""
    lines = wrap(head)
    for when, what in events:
        lines += wrap(what, when + ': ')
    return '\n'.join(lines) + '\n\n' + tail
