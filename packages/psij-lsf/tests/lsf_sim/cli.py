"""The simulated commands: ``bsub``, ``bjobs``, ``bkill``, ``jsrun`` and the job's
environment set-up (``lsfsim-jobenv``), each a function taking argv and returning an exit code.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from lsf_sim import jobs, render, state

T = TypeVar('T')

# bsub options taking a value, and flags (IBM-doc bsub); those without a Slurm counterpart are
# accepted and recorded only
_VALUE_OPTS = frozenset((
    '-n', '-R', '-nnodes', '-gpu', '-M', '-W', '-q', '-P', '-J', '-Jd', '-cwd', '-o', '-oo',
    '-e', '-eo', '-i', '-env', '-U', '-w', '-alloc_flags', '-G', '-g', '-app', '-sla', '-L',
    '-u', '-m', '-We', '-sp', '-E', '-Ep', '-b', '-c', '-v', '-S', '-F', '-D', '-C', '-k',
    '-t', '-ext', '-jsm', '-csm', '-smt', '-step_cgroup', '-data', '-datagrp', '-stage',
    '-mig', '-Lp', '-f', '-p', '-T', '-network', '-ul', '-cn_cu', '-cn_mem', '-freq',
    '-hostfile', '-ptl', '-rnc', '-XF', '-s', '-Q', '-eptl'))
_FLAGS = frozenset(('-x', '-H', '-K', '-N', '-B', '-r', '-rn', '-I', '-Ip', '-Is', '-IS',
                    '-ISp', '-ISs', '-IX', '-tty', '-Zs', '-ar'))
_SECTION = re.compile(r'\s*([A-Za-z_]+)\s*(\[)?')


class BsubError(Exception):
    """A request bsub rejects; the message is printed with ``. Job not submitted.``"""


# -- the master being unreachable ----------------------------------------------------------------

def _with_master(action: Callable[[], T]) -> T:
    """Runs `action` once the master answers: while the ``down`` switch is set (or slurmctld
    does not answer) prints ``Cannot connect to LSF. Please wait ...`` on stderr and retries
    every second, ``LSB_NTRIES`` times if that is set, else until it answers."""
    tries = 0
    limit = int(os.environ['LSB_NTRIES']) if os.environ.get('LSB_NTRIES', '').isdigit() \
        else None
    while True:
        if state.flag('down') is None:
            try:
                return action()
            except jobs.SlurmDown:
                pass
        sys.stderr.write(render.CANNOT_CONNECT + '\n')
        sys.stderr.flush()
        tries += 1
        if limit is not None and tries >= limit:
            raise SystemExit(255)
        time.sleep(1)


def _please_wait() -> None:
    n = state.flag('busy')
    if n and n.strip().isdigit():
        sys.stdout.write((render.PLEASE_WAIT + '\n') * int(n.strip()))


# -- bsub ----------------------------------------------------------------------------------------

def _parse_options(argv: Sequence[str], opts: Dict[str, List[str]]) -> List[str]:
    """Adds bsub options from `argv` to `opts`; returns the command (what follows them)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith('-') or a == '-':
            return list(argv[i:])
        if a in _FLAGS:
            opts.setdefault(a, []).append('')
            i += 1
        elif a in _VALUE_OPTS:
            if i + 1 >= len(argv):
                raise BsubError('Bad argument for option %s' % a)
            opts.setdefault(a, []).append(argv[i + 1])
            i += 2
        else:
            raise BsubError('%s: Illegal option' % a)
    return []


def _script_options(script: str) -> Dict[str, List[str]]:
    """The ``#BSUB`` lines at the top of a script (up to its first command)."""
    opts: Dict[str, List[str]] = {}
    for line in script.splitlines():
        s = line.strip()
        if not s:
            continue
        if not s.startswith('#'):
            break
        if s.startswith('#BSUB'):
            try:
                words = shlex.split(s[len('#BSUB'):])
            except ValueError as ex:
                raise BsubError('Bad #BSUB line: %s' % ex) from ex
            if _parse_options(words, opts):
                raise BsubError('Bad #BSUB line: %s' % s)
    return opts


def _last(opts: Dict[str, List[str]], name: str) -> Optional[str]:
    v = opts.get(name)
    return v[-1] if v else None


def _resreq(strings: List[str]) -> Dict[str, str]:
    """The sections of ``-R`` strings; checks the syntax bsub checks (FACTS L2)."""
    sections: Dict[str, str] = {}
    known = ('select', 'rusage', 'span', 'order', 'same', 'affinity', 'cu')
    for text in strings:
        pos = 0
        while pos < len(text):
            if text[pos].isspace():
                pos += 1
                continue
            m = _SECTION.match(text, pos)
            if m is None or m.group(2) is None:
                word = m.group(1) if m else text[pos:].split()[0]
                raise BsubError('Error in select section: Error near "%s" : incorrect section '
                                'name, resource name, or resource function name' % word)
            name = m.group(1)
            depth, j = 1, m.end()
            while j < len(text) and depth:
                depth += {'[': 1, ']': -1}.get(text[j], 0)
                j += 1
            if depth:
                raise BsubError('Error in %s section' % name)
            body = text[m.end():j - 1]
            if name not in known:
                raise BsubError('Error in select section: Error near "%s" : incorrect section '
                                'name, resource name, or resource function name' % name)
            if name == 'rusage':
                for item in re.split(r'[,:]', body):
                    k, _, v = item.partition('=')
                    if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', k.strip()) or \
                            not re.fullmatch(r'\d+(\.\d+)?', v.strip()):
                        raise BsubError('Error in rusage section')
            sections[name] = (sections[name] + ' ' + body) if name in sections else body
            pos = j
    return sections


_KB = {'KB': 1, 'MB': 1024, 'GB': 1024 ** 2, 'TB': 1024 ** 3}


def _default_queue() -> str:
    cached = state.flag('default_queue')
    if cached:
        return cached.strip()
    p = subprocess.run(['sinfo', '-h', '-o', '%P'], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise jobs.SlurmDown(p.stderr)
    names = p.stdout.split()
    queue = next((n[:-1] for n in names if n.endswith('*')), names[0] if names else 'normal')
    state.set_flag('default_queue', queue)
    return queue


def _translate(opts: Dict[str, List[str]], rec: Dict[str, Any]) -> List[str]:
    """sbatch options for bsub options `opts`; fills the LSF record `rec`."""
    sb: List[str] = []
    n_text = _last(opts, '-n')
    slots = 1
    if n_text is not None:
        m = re.fullmatch(r'(\d+)(?:,(\d+))?', n_text.strip())
        if not m or int(m.group(1)) < 1:
            raise BsubError('Bad argument for option -n')
        slots = int(m.group(2) or m.group(1))
    res = _resreq(opts.get('-R', []))
    rec['resreq'] = ' '.join('%s[%s]' % kv for kv in res.items())
    nnodes = _last(opts, '-nnodes')
    if nnodes is not None:
        if not nnodes.isdigit() or int(nnodes) < 1:
            raise BsubError('Bad argument for option -nnodes')
        sb += ['--nodes=' + nnodes, '--exclusive']
        rec['nnodes'] = int(nnodes)
    else:
        sb.append('--ntasks=%d' % slots)
        span = res.get('span', '')
        ptile = re.search(r'ptile=(\d+)', span)
        if ptile:
            p = int(ptile.group(1))
            sb += ['--ntasks-per-node=%d' % p, '--nodes=%d' % math.ceil(slots / p)]
        elif re.search(r'hosts=1\b', span):
            sb.append('--nodes=1')
    rec['slots'] = slots
    cores = re.search(r'core\((\d+)\)', res.get('affinity', ''))
    cpus = int(cores.group(1)) if cores else 1
    if cores:
        sb.append('--cpus-per-task=%d' % cpus)
    mem = _last(opts, '-M')
    if mem is not None:
        m = re.fullmatch(r'(\d+)\s*([KMGT]B)?', mem.strip(), re.IGNORECASE)
        if not m:
            raise BsubError('Bad argument for option -M')
        unit = (m.group(2) or os.environ.get('LSF_UNIT_FOR_LIMITS') or 'KB').upper()
        kb = int(m.group(1)) * _KB.get(unit, 1)
        rec['memlimit_kb'] = kb
        sb.append('--mem-per-cpu=%dK' % max(1, math.ceil(kb / cpus)))
    if '-x' in opts:
        sb.append('--exclusive')
    w = _last(opts, '-W')
    if w is not None:
        m = re.fullmatch(r'(?:(\d+):)?(\d+)', w.strip())
        if not m:
            raise BsubError('Bad argument for option -W')
        minutes = int(m.group(1) or 0) * 60 + int(m.group(2))
        rec['runlimit_min'] = minutes
        sb.append('--time=%d' % minutes)
    q = _last(opts, '-q')
    rec['queue'] = q if q is not None else _default_queue()
    rec['default_queue'] = q is None
    sb.append('--partition=' + rec['queue'])
    p = _last(opts, '-P')
    if p is not None:
        rec['project'] = p
        sb.append('--account=' + p)
    cwd = _last(opts, '-cwd')
    rec['exec_cwd'] = cwd or rec['sub_cwd']
    if cwd is not None:
        sb.append('--chdir=' + cwd)
    outf = _last(opts, '-oo') or _last(opts, '-o')
    errf = _last(opts, '-eo') or _last(opts, '-e')
    if outf:
        rec['output_file'] = outf
        sb.append('--output=' + outf.replace('%J', '%j').replace('%I', '0'))
    else:
        sb.append('--output=/dev/null')  # LSF would mail the output: nobody reads it here
    if errf:
        rec['error_file'] = errf
        sb.append('--error=' + errf.replace('%J', '%j').replace('%I', '0'))
    sb.append('--open-mode=' + ('truncate' if '-oo' in opts or '-eo' in opts else 'append'))
    env = _last(opts, '-env')
    if env is not None:
        sb.append('--export=' + ('NONE' if env.strip().lower() == 'none' else 'ALL'))
    if '-H' in opts:
        sb.append('--hold')
    u = _last(opts, '-U')
    if u is not None:
        sb.append('--reservation=' + u)
    dep = _last(opts, '-w')
    if dep is not None:
        rec['dependency'] = dep
        kinds = {'done': 'afterok', 'ended': 'afterany', 'exit': 'afternotok',
                 'started': 'after'}
        parts = ['%s:%s' % (kinds[k], i) for k, i in re.findall(r'(done|ended|exit|started)'
                                                               r'\((\d+)\)', dep)]
        if not parts:
            raise BsubError('Bad argument for option -w')
        sb.append('--dependency=' + ','.join(parts))
    for key, name in (('-Jd', 'job_description'), ('-G', 'user_group'), ('-i', 'input_file')):
        v = _last(opts, key)
        if v is not None:
            rec[name] = v
    rec['ignored'] = sorted(k for k in opts if k in ('-gpu', '-alloc_flags', '-app', '-sla',
                                                     '-L', '-m', '-g', '-sp'))
    return sb


def _slurm_script(script: str, rec: Dict[str, Any]) -> str:
    """The Slurm batch script: the job's own interpreter line, then the LSF environment, then
    the job's script, its ``#BSUB`` lines made invisible to sbatch."""
    lines = script.split('\n')
    shebang = lines[0] if lines and lines[0].startswith('#!') else '#!/bin/sh'
    body = '\n'.join(lines[1:]) if lines and lines[0].startswith('#!') else script
    # sbatch reads #BSUB lines itself (Slurm's LSF compatibility): hide them from it
    body = re.sub(r'(?m)^(\s*)#BSUB', r'\1#(BSUB)', body)
    info = {k: rec.get(k) for k in ('job_name', 'queue', 'output_file', 'error_file',
                                    'sub_cwd', 'from_host', 'nnodes', 'project')}
    env = ' '.join(shlex.quote(w) for w in (sys.executable, '-S', _MAIN, 'lsfsim-jobenv',
                                             str(state.root()), json.dumps(info)))
    return ('%s\n_lsfsim_env=$(%s) || exit 1\neval "$_lsfsim_env"; unset _lsfsim_env\n%s'
            % (shebang, env, body))


_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bin')
_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'main.py')


def bsub(argv: Sequence[str]) -> int:
    """``bsub [options] [command [args]]``, the script on stdin when no command is given."""
    opts: Dict[str, List[str]] = {}
    try:
        command = _parse_options(argv, opts)
        if command:
            script = '#!/bin/sh\n' + ' '.join(shlex.quote(w) for w in command) + '\n'
            name = ' '.join(command)
        else:
            script = sys.stdin.read()
            first = script.split('\n', 1)[0].strip()
            name = first
            given = _script_options(script)
            for k, v in opts.items():  # the command line wins over the script
                given[k] = v
            opts = given
        rec: Dict[str, Any] = {
            'user': getpass.getuser(), 'from_host': socket.gethostname().split('.')[0],
            'sub_cwd': os.getcwd(), 'home': os.path.expanduser('~'),
            'job_name': _last(opts, '-J') or name, 'command': name,
        }
        if '[' in rec['job_name']:
            raise BsubError('Bad job name: job arrays are not simulated')
        sbatch_opts = _with_master(lambda: _translate(opts, rec))
    except BsubError as ex:
        sys.stderr.write(render.bsub_error(str(ex)))
        return 255
    _please_wait()
    esub = state.flag('esub')
    if esub:
        sys.stdout.write(esub if esub.endswith('\n') else esub + '\n')
    slurm_out = None
    for o in sbatch_opts:
        if o.startswith('--output=') and o != '--output=/dev/null':
            slurm_out = o[len('--output='):]
    with tempfile.NamedTemporaryFile('w', prefix='lsfsim-', suffix='.sh', delete=False,
                                     dir=str(state.root())) as f:
        f.write(_slurm_script(script, rec))
        path = f.name
    started = time.time()
    try:
        p = _with_master(lambda: _sbatch(sbatch_opts, path))
    finally:
        os.unlink(path)
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else 'sbatch failed'
        msg = re.sub(r'^sbatch: error: (Batch job submission failed: )?', '', msg)
        if 'Invalid partition' in msg:
            msg = '%s: No such queue' % rec['queue']
        sys.stderr.write(render.bsub_error(msg.rstrip('.')))
        return 255
    job_id = p.stdout.strip().split(';')[0]
    state.remove_stale(job_id, started - 1)
    rec['submit'] = started
    if slurm_out:
        rec['slurm_output'] = os.path.join(rec['exec_cwd'], slurm_out.replace('%j', job_id))
    state.write_json(state.job_file(job_id, '.json'), rec)
    sys.stdout.write(render.bsub_submitted(job_id, rec['queue'], rec['default_queue']))
    return 0


def _sbatch(opts: List[str], path: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(['sbatch', '--parsable'] + opts + [path], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0 and 'Unable to contact' in p.stderr:
        raise jobs.SlurmDown(p.stderr)
    return p


# -- bjobs ---------------------------------------------------------------------------------------

_BJOBS_FLAGS = frozenset(('-a', '-d', '-p', '-r', '-s', '-w', '-W', '-l', '-json', '-noheader',
                          '-hms', '-A', '-X', '-x'))
_BJOBS_VALUES = frozenset(('-o', '-u', '-q', '-m', '-J', '-P', '-G', '-g'))


def _fields(spec: str) -> Tuple[List[str], Optional[str]]:
    """``-o`` fields (canonical, widths dropped) and the delimiter, if any."""
    delim = None
    m = re.search(r"""delimiter\s*=\s*(['"])(.*?)\1""", spec)
    if m:
        delim = m.group(2).replace('\\', '') or ' '
        spec = spec[:m.start()] + spec[m.end():]
    fields = []
    for word in spec.split():
        name = render.canonical(word.split(':')[0])
        if name not in render.FIELDS:
            raise ValueError(name)
        fields.append(name)
    return fields, delim


def bjobs(argv: Sequence[str]) -> int:
    """``bjobs [-a|-d] [-w|-W|-l] [-o "fields [delimiter='c']"] [-json] [-noheader] [-hms]
    [-u user|all] [ids]`` (FACTS L3, L5)."""
    flags = set()
    values: Dict[str, str] = {}
    ids: List[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _BJOBS_FLAGS:
            flags.add(a)
        elif a in _BJOBS_VALUES and i + 1 < len(argv):
            values[a] = argv[i + 1]
            i += 1
        elif a.startswith('-'):
            sys.stderr.write('%s: Illegal option.\nUsage: bjobs [-a] [-d] [-w | -W | -l] '
                             '[-o "fields"] [-json] [-noheader] [-u user] [job_ID ...]\n' % a)
            return 255
        else:
            ids.append(a)
        i += 1
    if '-json' in flags and (os.environ.get('LSF_SIM_NO_JSON') == '1'):
        sys.stderr.write('-json: Illegal option.\nUsage: bjobs [-a] [-d] [-w | -W | -l] '
                         '[-o "fields"] [-noheader] [-u user] [job_ID ...]\n')
        return 255
    fields: List[str] = []
    delim = None
    if '-o' in values:
        try:
            fields, delim = _fields(values['-o'])
        except ValueError as ex:
            sys.stderr.write('%s: Illegal field name.\n' % ex)
            return 255
    if '-json' in flags and not fields:
        sys.stderr.write('-json: must be used with -o.\n')
        return 255
    user = values.get('-u', getpass.getuser())
    given = bool(ids)
    if not given:
        ids = [j for j in state.all_job_ids()
               if user == 'all' or (state.record(j) or {}).get('user') == user]
    known, unknown = _with_master(lambda: jobs.views(ids, hms='-hms' in flags,
                                                     wide_times='-W' in flags))
    if not given:
        unknown = []
        if '-d' in flags:
            known = {k: v for k, v in known.items() if v['stat'] in jobs.FINAL}
        elif '-a' not in flags:
            known = {k: v for k, v in known.items() if v['stat'] not in jobs.FINAL}
    records = [known[i] for i in ids if i in known]
    _please_wait()
    err = ''.join(render.not_found(i) for i in unknown)
    if '-json' in flags:
        if os.environ.get('LSF_SIM_JSON_ERRORS') == '1' and unknown:
            recs = [{f.upper(): render._text(r, f) for f in fields} for r in records]
            recs += [{'JOBID': i, 'ERROR': 'Job <%s> is not found' % i} for i in unknown]
            sys.stdout.write(render.json_records(recs))
            err = ''
        else:
            sys.stdout.write(render.json_jobs(records, fields))
    elif records and fields:
        sys.stdout.write(render.custom(records, fields, delim or ' ',
                                       header='-noheader' not in flags))
    elif records and '-l' in flags:
        sys.stdout.write('\n'.join(_long(r) for r in records))
    elif records:
        sys.stdout.write(render.table(records, wide='-w' in flags, extended='-W' in flags))
    if not given and not records:
        err += (render.NO_JOB if ('-a' in flags or '-d' in flags) else render.NO_UNFINISHED) \
            + '\n'
    sys.stderr.write(err)
    consistent = os.environ.get('LSB_BJOBS_CONSISTENT_EXIT_CODE', 'N').upper() == 'Y'
    if consistent:
        return 0 if any(r['stat'] not in jobs.FINAL for r in records) else 255
    return 255 if unknown and len(ids) > 1 else 0


def _long(r: Dict[str, Any]) -> str:
    head = 'Job <%s>, User <%s>, Project <%s>, Status <%s>, Queue <%s>, Command <%s>' % (
        r['jobid'], r['user'], r['proj_name'], r['stat'], r['queue'], r['command'])
    events = [(jobs.long_time(r['_submit']), 'Submitted from host <%s>, CWD <%s>;'
               % (r['from_host'], r['sub_cwd']))]
    if r['_start'] is not None:
        events.append((jobs.long_time(r['_start']), 'Started on <%s>, Execution CWD <%s>;'
                       % ('>, <'.join(r['exec_host']), r['exec_cwd'])))
    if r['_end'] is not None and r['stat'] == 'DONE':
        events.append((jobs.long_time(r['_end']),
                       'Done successfully. The CPU time used is 0.0 seconds.'))
        events.append((jobs.long_time(r['_end']), 'Completed <done>.'))
    elif r['_end'] is not None and r['stat'] == 'EXIT':
        what = ('Exited with exit code %s.' % r['exit_code']) if r['exit_code'] else 'Exited.'
        events.append((jobs.long_time(r['_end']), what + ' The CPU time used is 0.0 seconds.'))
        events.append((jobs.long_time(r['_end']), 'Completed <exit>.'))
    return render.long_format(head, events)


# -- bkill ---------------------------------------------------------------------------------------

def bkill(argv: Sequence[str]) -> int:
    """``bkill [-s SIG] [-r] id ...`` (``0``: all of the user's jobs), FACTS L6."""
    sig: Optional[str] = None
    force = False
    ids: List[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == '-s' and i + 1 < len(argv):
            sig = argv[i + 1]
            i += 1
        elif argv[i] == '-r':
            force = True
        elif argv[i].startswith('-'):
            sys.stderr.write('%s: Illegal option.\n' % argv[i])
            return 255
        else:
            ids.append(argv[i])
        i += 1
    if ids == ['0']:
        ids = [j for j in state.all_job_ids()
               if (state.record(j) or {}).get('user') == getpass.getuser()]
    known, unknown = _with_master(lambda: jobs.views(ids))
    rc = 0
    for job_id in ids:
        if job_id in unknown:
            sys.stderr.write(render.bkill_unknown(job_id))
            rc = 255
            continue
        if known[job_id]['stat'] in jobs.FINAL:
            sys.stderr.write(render.bkill_finished(job_id))
            rc = 255
            continue
        if sig is None:
            state.job_file(job_id, '.kill').write_text('TERM_FORCE_OWNER' if force
                                                       else 'TERM_OWNER')
        cmd = ['scancel'] + (['--signal=' + sig.removeprefix('SIG'), '--full']
                             if sig else []) + [job_id]
        _with_master(lambda cmd=cmd: _scancel(cmd))
        sys.stdout.write(render.bkill_accepted(job_id, signaled=sig is not None))
    return rc


def _scancel(cmd: List[str]) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and 'Unable to contact' in p.stderr:
        raise jobs.SlurmDown(p.stderr)


# -- inside the job ------------------------------------------------------------------------------

def _slots() -> List[str]:
    nodes = os.environ.get('SLURM_JOB_NODELIST', '')
    p = subprocess.run(['scontrol', 'show', 'hostnames', nodes], capture_output=True,
                       text=True, timeout=60)
    hosts = p.stdout.split() if p.returncode == 0 and nodes else [socket.gethostname()]
    counts: List[int] = []
    per = os.environ.get('SLURM_TASKS_PER_NODE') or os.environ.get('SLURM_JOB_CPUS_PER_NODE')
    for part in (per or '1').split(','):
        m = re.fullmatch(r'(\d+)(?:\(x(\d+)\))?', part.strip())
        if m:
            counts += [int(m.group(1))] * int(m.group(2) or 1)
    slots = []
    for n, h in enumerate(hosts):
        slots += [h] * (counts[n] if n < len(counts) else 1)
    return slots


def jobenv(argv: Sequence[str]) -> int:
    """Prints the ``export`` lines of LSF's job environment (FACTS L8) for the Slurm job this
    runs in, and writes ``$LSB_DJOB_HOSTFILE`` and the job's hosts for ``bjobs``."""
    root, info = argv[0], json.loads(argv[1])
    os.environ['LSF_SIM_DIR'] = root
    job_id = os.environ.get('SLURM_JOB_ID', '0')
    slots = _slots()
    if info.get('nnodes'):
        # CSM (Summit): the launch node comes first with one slot
        slots = [info['from_host']] + slots
    hostfile = state.job_file(job_id, '.hostfile')
    hostfile.write_text(''.join(h + '\n' for h in slots))
    state.job_file(job_id, '.exec').write_text(' '.join(slots) + '\n')
    mcpu: List[str] = []
    for h in slots:
        if mcpu and mcpu[-2] == h:
            mcpu[-1] = str(int(mcpu[-1]) + 1)
        else:
            mcpu += [h, '1']
    env = {
        'LSB_JOBID': job_id, 'LSB_JOBINDEX': '0', 'LSB_JOBNAME': info['job_name'],
        'LSB_QUEUE': info['queue'], 'LSB_HOSTS': ' '.join(slots),
        'LSB_MCPU_HOSTS': ' '.join(mcpu), 'LSB_DJOB_HOSTFILE': str(hostfile),
        'LSB_DJOB_NUMPROC': str(len(slots)), 'LSB_MAX_NUM_PROCESSORS': str(len(slots)),
        'LS_SUBCWD': info['sub_cwd'], 'LSB_SUB_HOST': info['from_host'],
        'LSB_EXEC_CLUSTER': 'lsfsim', 'LSF_VERSION': '10.1',
    }
    path = os.environ.get('PATH', '').split(os.pathsep)
    if _BIN not in path:
        # the site's LSF commands (and jsrun) are on every node's PATH, as after -env none
        env['PATH'] = os.pathsep.join([_BIN] + [p for p in path if p])
    if info.get('output_file'):
        env['LSB_OUTPUTFILE'] = info['output_file'].replace('%J', job_id)
    if info.get('error_file'):
        env['LSB_ERRORFILE'] = info['error_file'].replace('%J', job_id)
    if info.get('project'):
        env['LSB_PROJECT_NAME'] = info['project']
    sys.stdout.write(''.join('export %s=%s\n' % (k, shlex.quote(v)) for k, v in env.items()))
    return 0


_JSRUN_VALUES = {'-n': 'nrs', '--nrs': 'nrs', '-a': 'tasks', '--tasks_per_rs': 'tasks',
                 '-r': 'per_host', '--rs_per_host': 'per_host', '-c': 'cpus',
                 '--cpu_per_rs': 'cpus', '-g': 'gpus', '--gpu_per_rs': 'gpus'}


def jsrun(argv: Sequence[str]) -> int:
    """``jsrun -n NRS -a TASKS [-r RS_PER_HOST] [-c CPUS] [-g GPUS] cmd args``: one Slurm step
    (``srun``) in the job's allocation, ranks told their ``JSM_NAMESPACE_*`` numbers."""
    v: Dict[str, int] = {'nrs': 1, 'tasks': 1}
    i = 0
    while i < len(argv) and argv[i].startswith('-'):
        key = _JSRUN_VALUES.get(argv[i])
        if key is None or i + 1 >= len(argv) or not argv[i + 1].isdigit():
            sys.stderr.write('jsrun: Error: bad option %s\n' % argv[i])
            return 1
        v[key] = int(argv[i + 1])
        i += 2
    cmd = list(argv[i:])
    if not cmd:
        sys.stderr.write('jsrun: Error: no program given\n')
        return 1
    ntasks = v['nrs'] * v['tasks']
    srun = ['srun', '--export=ALL', '--ntasks=%d' % ntasks]
    if 'per_host' in v:
        srun.append('--ntasks-per-node=%d' % (v['per_host'] * v['tasks']))
    if 'cpus' in v:
        srun.append('--cpus-per-task=%d' % v['cpus'])
    ranks = ('JSM_NAMESPACE_RANK=$SLURM_PROCID JSM_NAMESPACE_SIZE=$SLURM_NTASKS '
             'JSM_NAMESPACE_LOCAL_RANK=$SLURM_LOCALID OMPI_COMM_WORLD_RANK=$SLURM_PROCID '
             'OMPI_COMM_WORLD_SIZE=$SLURM_NTASKS; export JSM_NAMESPACE_RANK '
             'JSM_NAMESPACE_SIZE JSM_NAMESPACE_LOCAL_RANK OMPI_COMM_WORLD_RANK '
             'OMPI_COMM_WORLD_SIZE; exec "$@"')
    os.execvp('srun', srun + ['/bin/sh', '-c', ranks, 'jsrun'] + cmd)
    return 127


COMMANDS: Dict[str, Callable[[Sequence[str]], int]] = {
    'bsub': bsub, 'bjobs': bjobs, 'bkill': bkill, 'jsrun': jsrun, 'lsfsim-jobenv': jobenv,
}


def main(name: str) -> None:
    """Entry point of the ``bin/`` scripts."""
    try:
        rc = COMMANDS[name](sys.argv[1:])
    except BrokenPipeError:
        rc = 141
    sys.stdout.flush()
    raise SystemExit(rc)
