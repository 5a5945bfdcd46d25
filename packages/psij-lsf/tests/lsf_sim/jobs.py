"""What LSF would say about jobs that really run on Slurm: Slurm's state, exit status and
times (``squeue -t all``, then ``sacct -c`` for jobs gone from the queue) turned into LSF's
STAT, EXIT_CODE, EXIT_REASON and the other ``bjobs`` fields.

Slurm -> LSF: PENDING is PEND (PSUSP when held), CONFIGURING PROV, RUNNING and COMPLETING
RUN, SUSPENDED USUSP, STOPPED SSUSP, COMPLETED DONE, every other final state EXIT:
CANCELLED with the reason ``bkill`` recorded (TERM_OWNER) or TERM_ADMIN (``scancel`` from
outside LSF), TIMEOUT TERM_RUNLIMIT, OUT_OF_MEMORY or a kill by Slurm's memory enforcement
TERM_MEMLIMIT. EXIT_CODE is the script's exit status when it exited with one, empty when a
signal killed it (FACTS L3: LSF leaves it empty for many killed jobs).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from lsf_sim import state

TERM_TEXT = {
    'TERM_OWNER': 'job killed by owner',
    'TERM_ADMIN': 'job killed by root or LSF administrator',
    'TERM_FORCE_OWNER': 'job killed by owner without time for cleanup',
    'TERM_RUNLIMIT': 'job killed after reaching LSF run time limit',
    'TERM_MEMLIMIT': 'job killed after reaching LSF memory usage limit',
    'TERM_PREEMPT': 'job killed after preemption',
    'TERM_DEADLINE': 'job killed after deadline expires',
    'TERM_EXTERNAL_SIGNAL': 'job killed by a signal external to LSF',
}
FINAL = ('DONE', 'EXIT')
UNFINISHED = ('PEND', 'PROV', 'PSUSP', 'WAIT', 'RUN', 'USUSP', 'SSUSP', 'UNKWN', 'ZOMBI')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_SQUEUE = 'JobID:|,State:|,Reason:|,exit_code:|,StartTime:|,EndTime:|,NodeList:|'


class SlurmDown(Exception):
    """slurmctld does not answer: for LSF's users, the master is unreachable."""


def reason_text(key: str) -> str:
    """``TERM_KEY: text``"""
    return '%s: %s' % (key, TERM_TEXT.get(key, 'job terminated'))


def lsf_time(epoch: Optional[float], wide: bool = False) -> str:
    """``Mar  3 16:46`` (``-W``: ``03/03-16:46:00``); '' for None."""
    if epoch is None:
        return ''
    t = time.localtime(epoch)
    if wide:
        return '%02d/%02d-%02d:%02d:%02d' % (t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    return '%s %2d %02d:%02d' % (_MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min)


def long_time(epoch: float) -> str:
    """``Tue Jul 24 10:26:42`` (``bjobs -l`` event time stamps)."""
    t = time.localtime(epoch)
    return '%s %s %2d %02d:%02d:%02d' % (_DAYS[t.tm_wday], _MONTHS[t.tm_mon - 1], t.tm_mday,
                                         t.tm_hour, t.tm_min, t.tm_sec)


def _epoch(text: str) -> Optional[float]:
    text = text.strip()
    if not text or text in ('Unknown', 'N/A', 'None'):
        return None
    try:
        return time.mktime(time.strptime(text, '%Y-%m-%dT%H:%M:%S'))
    except ValueError:
        return None


def _run(cmd: List[str]) -> subprocess.CompletedProcess[str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise SlurmDown(str(ex)) from ex
    if p.returncode != 0 and ('Unable to contact' in p.stderr or 'Connection refused'
                              in p.stderr or 'connect failure' in p.stderr):
        raise SlurmDown(p.stderr.strip())
    return p


def slurm_states(ids: List[str]) -> Dict[str, Dict[str, Any]]:
    """{id: {state, reason, code, signal, start, end, nodes}} from squeue, then ``sacct -c``."""
    out: Dict[str, Dict[str, Any]] = {}
    if not ids:
        return out
    p = _run(['squeue', '-h', '-t', 'all', '-j', ','.join(ids), '-O', _SQUEUE])
    for line in p.stdout.splitlines() if p.returncode == 0 else []:
        f = line.split('|')
        if len(f) < 7 or f[0] not in ids:
            continue
        raw = int(f[3]) if f[3].strip().isdigit() else 0
        sig = raw & 0x7F
        out[f[0]] = {'state': f[1].split()[0] if f[1].split() else '', 'reason': f[2],
                     'code': None if sig else (raw >> 8) & 0xFF, 'signal': sig or None,
                     'start': _epoch(f[4]), 'end': _epoch(f[5]), 'nodes': f[6]}
    rest = [i for i in ids if i not in out]
    if rest:
        p = _run(['sacct', '-c', '-n', '-P', '-j', ','.join(rest),
                  '--format=JobID,State,ExitCode,Start,End,NodeList'])
        for line in p.stdout.splitlines() if p.returncode == 0 else []:
            f = line.split('|')
            if len(f) < 6 or f[0] not in rest or not f[1].strip():
                continue
            code_s, _, sig_s = f[2].partition(':')
            sig = int(sig_s) if sig_s.strip().isdigit() else 0
            out[f[0]] = {'state': f[1].split()[0], 'reason': '',
                         'code': None if sig else (int(code_s) if code_s.isdigit() else 0),
                         'signal': sig or None, 'start': _epoch(f[3]), 'end': _epoch(f[4]),
                         'nodes': f[5]}
    return out


def _memory_killed(rec: Dict[str, Any], s: Dict[str, Any]) -> bool:
    if s['state'] == 'OUT_OF_MEMORY':
        return True
    if not rec.get('memlimit_kb'):
        return False
    out = rec.get('slurm_output')
    if out:
        try:
            with open(out, 'rb') as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 8192))
                tail = f.read().decode('utf-8', 'replace')
        except OSError:
            tail = ''
        if 'exceeded memory limit' in tail or 'Exceeded job memory limit' in tail:
            return True
    return s['state'] == 'FAILED' and s['signal'] == 9 and s['reason'] == 'JobLaunchFailure'


def lsf_state(job_id: str, rec: Dict[str, Any], s: Dict[str, Any]) -> Tuple[str, str, str]:
    """(STAT, EXIT_CODE, EXIT_REASON) for Slurm's view `s` of a job."""
    st = s['state']
    if st == 'PENDING':
        return ('PSUSP' if s['reason'] in ('JobHeldUser', 'JobHeldAdmin') else 'PEND'), '', ''
    if st == 'CONFIGURING':
        return 'PROV', '', ''
    if st in ('RUNNING', 'COMPLETING', 'SIGNALING', 'RESIZING', 'STAGE_OUT'):
        return 'RUN', '', ''
    if st == 'SUSPENDED':
        return 'USUSP', '', ''
    if st == 'STOPPED':
        return 'SSUSP', '', ''
    if st in ('REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'SPECIAL_EXIT', 'RESV_DEL_HOLD'):
        return 'PEND', '', ''
    if st == 'COMPLETED':
        return 'DONE', '', ''
    code = '' if s['signal'] or not s['code'] else str(s['code'])
    key = ''
    kill = state.read_text(state.job_file(job_id, '.kill'))
    if st == 'CANCELLED':
        key = kill.strip() if kill else 'TERM_ADMIN'
        code = ''
    elif st == 'TIMEOUT':
        key, code = 'TERM_RUNLIMIT', ''
    elif st == 'PREEMPTED':
        key = 'TERM_PREEMPT'
    elif st == 'DEADLINE':
        key = 'TERM_DEADLINE'
    elif _memory_killed(rec, s):
        key, code = 'TERM_MEMLIMIT', ''
    elif s['signal']:
        key = 'TERM_EXTERNAL_SIGNAL'
    return 'EXIT', code, reason_text(key) if key else ''


def _expand_nodes(nodes: str) -> List[str]:
    if not nodes or nodes.startswith('('):
        return []
    p = subprocess.run(['scontrol', 'show', 'hostnames', nodes], capture_output=True,
                       text=True, timeout=60)
    return p.stdout.split() if p.returncode == 0 else [nodes]


def views(ids: Iterable[str], hms: bool = False,
          wide_times: bool = False) -> Tuple[Dict[str, Dict[str, Any]], List[str]]:
    """({id: LSF fields} for the jobs LSF knows, [ids it does not know]), in the order given.

    :raises SlurmDown: if Slurm cannot be asked.
    """
    known: Dict[str, Dict[str, Any]] = {}
    unknown: List[str] = []
    live: List[str] = []
    recs: Dict[str, Dict[str, Any]] = {}
    finals: Dict[str, Dict[str, Any]] = {}
    now = state.now()
    for i in ids:
        rec = state.record(i) if i.isdigit() else None
        if rec is None or state.job_file(i, '.forgotten').exists():
            unknown.append(i)
            continue
        recs[i] = rec
        final = state.read_json(state.job_file(i, '.final.json'))
        if final is not None:
            finals[i] = final
        else:
            live.append(i)
    slurm = slurm_states(live)
    for i in list(recs):
        rec = recs[i]
        if i in finals:
            base = finals[i]
        elif i in slurm:
            s = slurm[i]
            stat, code, reason = lsf_state(i, rec, s)
            base = {'stat': stat, 'exit_code': code, 'exit_reason': reason,
                    'start': s['start'] if stat not in ('PEND', 'PSUSP', 'PROV') else None,
                    'end': s['end'] if stat in FINAL else None,
                    'hosts': _hosts(i, s['nodes']) if s['start'] and stat != 'PEND' else []}
            if stat in FINAL:
                state.write_json(state.job_file(i, '.final.json'), base)
        else:
            unknown.append(i)  # Slurm lost it (state reset): LSF would have forgotten it too
            continue
        if base['stat'] in FINAL and base['end'] is not None and \
                now - base['end'] > state.clean_period():
            unknown.append(i)
            continue
        forced = state.read_text(state.job_file(i, '.force'))
        if forced and base['stat'] not in FINAL:
            base = dict(base, stat=forced.strip())
        known[i] = _fields(i, rec, base, hms, wide_times)
    order = {i: n for n, i in enumerate(ids)}
    unknown.sort(key=lambda i: order.get(i, 0))
    return known, unknown


def _hosts(job_id: str, nodes: str) -> List[str]:
    text = state.read_text(state.job_file(job_id, '.exec'))
    if text and text.split():
        return text.split()
    return _expand_nodes(nodes)


def _duration(secs: float, hms: bool) -> str:
    secs = int(max(0, secs))
    if hms:
        return '%02d:%02d:%02d' % (secs // 3600, secs // 60 % 60, secs % 60)
    return '%d second(s)' % secs


def _fields(job_id: str, rec: Dict[str, Any], base: Dict[str, Any], hms: bool,
            wide_times: bool) -> Dict[str, Any]:
    stat = base['stat']
    start, end = base.get('start'), base.get('end')
    limit = rec.get('runlimit_min')
    finish = lsf_time(end, wide_times)
    if limit:
        if not finish and start is not None:
            finish = lsf_time(start + limit * 60, wide_times)
        if finish and not wide_times:
            finish += ' L'
    run = 0.0 if start is None else ((end or state.now()) - start)
    pend = ''
    if stat == 'PEND':
        pend = 'Job dependency condition not satisfied;' if rec.get('dependency') \
            else 'New job is waiting for scheduling;'
    elif stat == 'PSUSP':
        pend = 'The job was suspended by the user while pending;'
    hosts = list(base.get('hosts') or [])
    nslots = len(hosts) if hosts else int(rec.get('slots', 1))
    memlimit = rec.get('memlimit_kb')
    f: Dict[str, Any] = {
        'jobid': job_id, 'stat': stat, 'exit_code': base.get('exit_code', ''),
        'exit_reason': base.get('exit_reason', ''), 'pend_reason': pend, 'kill_reason': '',
        'suspend_reason': '', 'user': rec['user'], 'user_group': rec.get('user_group', ''),
        'queue': rec['queue'], 'proj_name': rec.get('project') or 'default',
        'job_name': rec['job_name'], 'from_host': rec['from_host'], 'exec_host': hosts,
        'slots': str(nslots) if hosts else '', 'nreq_slot': str(rec.get('slots', 1)),
        'max_req_proc': str(rec.get('slots', 1)),
        'submit_time': lsf_time(rec['submit'], wide_times),
        'start_time': lsf_time(start, wide_times), 'finish_time': finish,
        'run_time': _duration(run, hms), 'cpu_used': '000:00:00.00' if wide_times else
        ('00:00:00' if hms else '0.0 second(s)'),
        '%complete': '', 'runtimelimit': _duration(limit * 60, True) if limit and hms
        else ('%.1f' % (limit * 60) if limit else ''),
        'mem': '', 'max_mem': '', 'memlimit': ('%d K' % memlimit) if memlimit else '',
        'swap': '', 'swaplimit': '', 'pids': '',
        'exec_cwd': rec['exec_cwd'] if hosts else '', 'exec_home': rec['home'] if hosts else '',
        'sub_cwd': rec['sub_cwd'], 'output_file': rec.get('output_file', ''),
        'error_file': rec.get('error_file', ''), 'input_file': rec.get('input_file', ''),
        'effective_resreq': rec.get('resreq', ''), 'dependency': rec.get('dependency', ''),
        'job_description': rec.get('job_description', ''), 'nthreads': '',
        'job_group': '', 'job_priority': '', 'command': rec.get('command', ''),
        'jobindex': '0', '_submit': rec['submit'], '_start': start, '_end': end,
    }
    return f
