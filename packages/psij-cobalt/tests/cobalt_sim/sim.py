"""
The simulated Cobalt commands (``qsub``, ``qstat``, ``qdel``), layered over Slurm.

State: one JSON record per job in ``$COBALT_SIM_DIR/<id>.json`` (the Cobalt job id is the
Slurm job id); ``<id>.nodes`` is the job's ``$COBALT_NODEFILE``; ``<id>.done`` marks a job
whose end was written to its ``.cobaltlog`` (it then leaves ``qstat``, as in Cobalt).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

_VALUED = {'-n': 'nodes', '--nodecount': 'nodes', '--proccount': 'procs', '-t': 'time',
           '--time': 'time', '-q': 'queue', '--queue': 'queue', '-A': 'project',
           '--project': 'project', '--attrs': 'attrs', '--jobname': 'name', '--cwd': 'cwd',
           '-o': 'output', '--output': 'output', '-e': 'error', '--error': 'error',
           '--debuglog': 'debuglog', '-O': 'prefix', '--outputprefix': 'prefix',
           '--env': 'env', '--dependencies': 'dependencies', '-M': 'notify',
           '--notify': 'notify', '--mode': 'mode', '-i': 'stdin'}
_FLAGS = {'-h': 'hold', '--held': 'hold'}
_DEFAULT_HEADER = 'JobID:User:WallTime:Nodes:State:Location'
_FULL_HEADER = ('JobID:JobName:User:WallTime:QueuedTime:RunTime:Nodes:State:Location:Mode:'
                'Procs:Queue:Project:Command:Path:OutputDir:attrs:Dependencies')


class QsubError(Exception):
    """A request qsub refuses."""


def _root() -> Path:
    d = Path(os.environ.get('COBALT_SIM_DIR') or '/tmp/cobalt-sim-%d' % os.getuid())
    d.mkdir(parents=True, exist_ok=True)
    return d


def _record(job_id: str) -> Optional[Dict[str, Any]]:
    try:
        return dict(json.loads((_root() / (job_id + '.json')).read_text()))
    except (OSError, ValueError):
        return None


def _save(job_id: str, rec: Dict[str, Any]) -> None:
    tmp = _root() / ('%s.json.%d' % (job_id, os.getpid()))
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, _root() / (job_id + '.json'))


def _now() -> str:
    return time.strftime('%a %b %d %H:%M:%S %Y +0000 (UTC)', time.gmtime())


def _log(rec: Dict[str, Any], text: str) -> None:
    with open(rec['cobaltlog'], 'a') as f:
        f.write(text)


# -- qsub ----------------------------------------------------------------------------------------

def _parse(argv: Sequence[str], opts: Dict[str, str]) -> List[str]:
    """Options of `argv` into `opts`; returns the rest (script and its arguments)."""
    i = 0
    args = list(argv)
    while i < len(args):
        a = args[i]
        key, eq, val = a.partition('=')
        if key in _VALUED:
            if not eq:
                i += 1
                if i >= len(args):
                    raise QsubError('%s option requires an argument' % a)
                val = args[i]
            opts[_VALUED[key]] = val
        elif a in _FLAGS:
            opts[_FLAGS[a]] = '1'
        elif a.startswith('-'):
            raise QsubError('no such option: %s' % key)
        else:
            return args[i:]
        i += 1
    return []


def _minutes(text: str) -> int:
    m = re.fullmatch(r'(?:(?:(\d+):)?(\d+):)?(\d+)', text.strip())
    if not m:
        raise QsubError('invalid time %r' % text)
    if m.group(2) is None:
        return int(m.group(3))  # minutes
    secs = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    return max(1, -(-secs // 60))


def qsub(argv: Sequence[str]) -> int:
    """``qsub [options] script``: ``#COBALT`` lines of the script, then the command line."""
    opts: Dict[str, str] = {}
    try:
        rest = _parse(argv, opts)
        if not rest:
            raise QsubError('no script given (only script jobs are simulated)')
        script = os.path.abspath(rest[0])
        if not os.access(script, os.X_OK):
            raise QsubError('script %s is not executable' % rest[0])
        given: Dict[str, str] = {}
        with open(script) as f:
            for line in f:
                if line.startswith('#COBALT'):
                    _parse(shlex.split(line[len('#COBALT'):]), given)
        given.update(opts)  # the command line wins
        opts = given
        nodes = int(opts.get('nodes', '1'))
        procs = int(opts.get('procs', str(nodes)))
        if nodes < 1 or procs < 1:
            raise QsubError('node and process counts must be positive')
        attrs = {}
        for kv in (opts.get('attrs') or '').split(':'):
            if kv:
                k, _, v = kv.partition('=')
                attrs[k] = v
    except (QsubError, ValueError, OSError) as ex:
        sys.stderr.write('qsub: error: %s\n' % ex)
        return 1
    cwd = os.path.abspath(opts.get('cwd') or os.getcwd())
    queue = opts.get('queue', 'default')
    sb = ['sbatch', '--parsable', '--job-name=' + opts.get('name', os.path.basename(script)),
          '--nodes=%d' % nodes, '--ntasks=%d' % procs, '--chdir=' + cwd,
          '--output=/dev/null', '--error=/dev/null']
    if queue != 'default':
        sb.append('--partition=' + queue)
    if 'time' in opts:
        sb.append('--time=%d' % _minutes(opts['time']))
    if 'project' in opts:
        sb.append('--account=' + opts['project'])
    if 'hold' in opts:
        sb.append('--hold')
    wrapper = ('#!/bin/bash\nexport COBALT_JOBID="$SLURM_JOB_ID" COBALT_JOBSIZE=%d '
               'COBALT_NODEFILE=%s/"$SLURM_JOB_ID".nodes\n'
               'scontrol show hostnames "$SLURM_JOB_NODELIST" >"$COBALT_NODEFILE"\n'
               'exec %s\n' % (nodes, shlex.quote(str(_root())), shlex.quote(script)))
    p = subprocess.run(sb, input=wrapper, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        text = (p.stderr + p.stdout).strip()
        msg = text.splitlines()[-1] if text else 'sbatch failed with exit code %d' % p.returncode
        if 'Invalid partition' in msg:
            msg = 'queue %s does not exist' % queue
        sys.stderr.write('qsub: error: %s\n' % msg)
        return 1
    job_id = p.stdout.strip().split(';')[0]
    for stale in ('.done', '.nodes'):
        (_root() / (job_id + stale)).unlink(missing_ok=True)
    rec = {'id': job_id, 'user': getpass.getuser(), 'name': opts.get('name', 'N/A'),
           'queue': queue, 'project': opts.get('project', 'N/A'), 'nodes': nodes,
           'procs': procs, 'minutes': _minutes(opts['time']) if 'time' in opts else None,
           'attrs': attrs, 'cwd': cwd, 'command': script, 'mode': opts.get('mode', 'script'),
           'submit': time.time(), 'deleted': None,
           'cobaltlog': os.path.join(cwd, job_id + '.cobaltlog')}
    _save(job_id, rec)
    _log(rec, 'Jobid: %s\nqsub %s\n%s Info: job %s submitted by %s\n' % (
        job_id, ' '.join(shlex.quote(a) for a in argv), _now(), job_id, rec['user']))
    sys.stdout.write(job_id + '\n')
    return 0


# -- Slurm's view --------------------------------------------------------------------------------

def _slurm(ids: List[str]) -> Dict[str, Tuple[str, str, Optional[int], Optional[int], str]]:
    """{id: (state, reason, exit code, signal, nodes)}: squeue, then ``sacct -c``."""
    out: Dict[str, Tuple[str, str, Optional[int], Optional[int], str]] = {}
    if not ids:
        return out
    p = subprocess.run(['squeue', '-h', '-t', 'all', '-j', ','.join(ids), '-O',
                        'JobID:|,State:|,Reason:|,exit_code:|,NodeList:|'],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and 'Invalid job id' not in p.stderr:
        raise RuntimeError(p.stderr.strip())
    for line in p.stdout.splitlines():
        f = line.split('|')
        if len(f) >= 5 and f[0] in ids:
            raw = int(f[3]) if f[3].strip().isdigit() else 0
            sig = raw & 0x7F
            out[f[0]] = (f[1].strip(), f[2].strip(), None if sig else (raw >> 8) & 0xFF,
                         sig or None, f[4].strip())
    rest = [i for i in ids if i not in out]
    if rest:
        p = subprocess.run(['sacct', '-c', '-n', '-P', '-j', ','.join(rest),
                            '--format=JobID,State,ExitCode,NodeList'],
                           capture_output=True, text=True, timeout=60)
        for line in p.stdout.splitlines():
            f = line.split('|')
            if len(f) >= 4 and f[0] in rest and f[1].strip():
                code, _, sig = f[2].partition(':')
                s = int(sig) if sig.isdigit() else 0
                out[f[0]] = (f[1].split()[0], '', None if s else int(code or 0), s or None,
                             f[3])
    return out


_FINAL = {'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY',
          'BOOT_FAIL', 'DEADLINE', 'PREEMPTED'}


def _finish(rec: Dict[str, Any], state: str, code: Optional[int], sig: Optional[int]) -> None:
    """Writes the job's end to its ``.cobaltlog``, once, and takes it off the queue."""
    try:
        fd = os.open(_root() / (rec['id'] + '.done'), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    os.close(fd)
    now = _now()
    if state == 'TIMEOUT':
        _log(rec, '%s Info: maximum execution time exceeded; initiating job termination\n'
             % now)
    elif state == 'CANCELLED':
        who = rec['deleted'] or 'administrator'
        if not rec['deleted']:
            _log(rec, '%s Info: job %s deleted by %s\n' % (now, rec['id'], who))
    elif sig:
        _log(rec, '%s Info: task completed abnormally with an exit code of %d; initiating '
             'job cleanup and removal\n' % (now, 128 + sig))
    else:
        _log(rec, '%s Info: task completed normally with an exit code of %d; initiating job '
             'cleanup and removal\n' % (now, code or 0))


def _cobalt_state(rec: Dict[str, Any], state: str, reason: str) -> str:
    if rec['deleted']:
        return 'killing'
    if state == 'PENDING':
        return 'user_hold' if reason in ('JobHeldUser', 'JobHeldAdmin') else 'queued'
    if state == 'CONFIGURING':
        return 'starting'
    if state == 'COMPLETING':
        return 'exiting'
    return 'running'


def _hms(seconds: Optional[float]) -> str:
    if seconds is None:
        return 'N/A'
    s = int(seconds)
    return '%02d:%02d:%02d' % (s // 3600, s // 60 % 60, s % 60)


def _current(ids: Optional[List[str]], user: Optional[str]) -> List[Dict[str, Any]]:
    """The records of the jobs still in the queue (ended ones are finished on the way)."""
    if ids is None:
        ids = sorted((p.name[:-5] for p in _root().glob('*.json')), key=int)
    recs = [r for r in map(_record, ids) if r is not None]
    recs = [r for r in recs if not (_root() / (r['id'] + '.done')).exists()
            and (user is None or r['user'] == user)]
    slurm = _slurm([r['id'] for r in recs])
    shown = []
    for r in recs:
        s = slurm.get(r['id'])
        if s is None:
            continue  # Slurm forgot it: so did Cobalt
        state, reason, code, sig, nodes = s
        if state.split()[0] in _FINAL:
            _finish(r, state.split()[0], code, sig)
            continue
        r['state'] = _cobalt_state(r, state, reason)
        r['location'] = nodes if nodes and state != 'PENDING' else 'None'
        shown.append(r)
    return shown


def _field(r: Dict[str, Any], key: str) -> str:
    values = {
        'jobid': r['id'], 'jobname': r['name'], 'user': r['user'],
        'walltime': _hms(r['minutes'] * 60 if r['minutes'] else None),
        'queuedtime': _hms(time.time() - r['submit']), 'runtime': 'N/A',
        'nodes': str(r['nodes']), 'state': r['state'], 'location': r['location'],
        'mode': r['mode'], 'procs': str(r['procs']), 'queue': r['queue'],
        'project': r['project'], 'command': r['command'], 'path': r['cwd'],
        'outputdir': r['cwd'], 'attrs': repr(r['attrs']), 'dependencies': '',
    }
    return values.get(key.lower(), 'N/A')


def qstat(argv: Sequence[str]) -> int:
    """``qstat [-f] [-l] [--header=A:B] [-u USER] [ID...]``."""
    full = long_form = False
    header: Optional[str] = None
    user: Optional[str] = None
    ids: List[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith('--header'):
            header = a.partition('=')[2] if '=' in a else args[i + 1]
            i += 0 if '=' in a else 1
        elif a == '-u':
            user = args[i + 1]
            i += 1
        elif re.fullmatch(r'-[fl]+', a):
            full = full or 'f' in a
            long_form = long_form or 'l' in a
        elif a.isdigit():
            ids.append(a)
        else:
            sys.stderr.write('qstat: error: no such option: %s\n' % a)
            return 1
        i += 1
    try:
        jobs = _current(ids or None, user)
    except (RuntimeError, OSError, subprocess.SubprocessError) as ex:
        sys.stderr.write('Failed to connect to queue manager: %s\n' % ex)
        return 1
    if ids and not jobs:
        return 1  # none of the ids known: nothing printed
    keys = (header or (_FULL_HEADER if full else _DEFAULT_HEADER)).split(':')
    if long_form:
        width = max(len(k) for k in keys)
        for r in jobs:
            sys.stdout.write('JobID: %s\n' % r['id'])
            for k in keys:
                if k.lower() != 'jobid':
                    sys.stdout.write('    %s : %s\n' % (k.ljust(width), _field(r, k)))
            sys.stdout.write('\n')
        return 0
    sys.stdout.write(_table([keys] + [[_field(r, k) for k in keys] for r in jobs]))
    return 0


def _table(rows: List[List[str]]) -> str:
    """Cobalt's table: columns two blanks apart, a rule of ``=`` under the header."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ['  '.join(v.ljust(widths[c]) for c, v in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, '=' * len(lines[0]))
    return '\n'.join(lines) + '\n'


# -- qdel ----------------------------------------------------------------------------------------

def qdel(argv: Sequence[str]) -> int:
    """``qdel ID...``: the table of deleted jobs; ids Cobalt does not know are not listed."""
    user = getpass.getuser()
    deleted = []
    for job_id in argv:
        rec = _record(job_id) if job_id.isdigit() else None
        if rec is None or (_root() / (job_id + '.done')).exists():
            continue
        if not rec['deleted']:
            rec['deleted'] = 'user %s' % user
            _save(job_id, rec)
            _log(rec, '%s Info: job %s deleted by user %s (qdel)\n' % (_now(), job_id, user))
        subprocess.run(['scancel', job_id], capture_output=True, timeout=60)
        deleted.append(rec)
    if not deleted:
        return 0
    sys.stdout.write('      Deleted Jobs\n' + _table(
        [['JobID', 'User']] + [[r['id'], r['user']] for r in deleted]))
    return 0


def main(argv: Sequence[str]) -> int:
    """Dispatches to the command named by ``argv[0]``."""
    commands = {'qsub': qsub, 'qstat': qstat, 'qdel': qdel}
    return commands[os.path.basename(argv[0])](argv[1:])
