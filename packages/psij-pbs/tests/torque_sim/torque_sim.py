"""
A Torque simulator for the ``pbs_classic`` tests, layered on a real OpenPBS server.

Torque cannot be installed here, so its commands are played by this module on top of OpenPBS:
jobs really queue and run on the OpenPBS vnodes, and what the commands print follows Torque's
layout (see ``tests/samples/pbspro/torque_qstat_-f_text_multi_2015.out``, a real Torque
``qstat -f``):

- ``qsub SCRIPT``: Torque's ``-l nodes=N:ppn=P[:gpus=G]``, ``-l mem=`` (for the whole job) and
  ``-n`` (node-exclusive) become OpenPBS's ``select``/``place``; prints ``<seq>.<server>``.
- ``qstat -f ID...``: ``Job Id: ID``, then ``    name = value`` lines in Torque's order, long
  values wrapped at 78 columns with TAB continuation lines, a blank line after each job. Ended
  jobs are in state ``C`` with a lower-case ``exit_status`` (256 + N for signal N; a deleted or
  walltime-killed job ``271``, as Torque's mom kills with SIGTERM), and disappear after
  ``TORQUE_SIM_KEEP_COMPLETED`` seconds (Torque's ``keep_completed``, default 300). Unknown
  ids: ``qstat: Unknown Job Id Error ID`` on stderr, exit 153, the known jobs still printed.
- ``qstat --version``: ``Version: 6.1.3`` and a commit line.
- ``qdel ID``: nothing on success; ``qdel: Unknown Job Id Error ID`` (153); for an ended job
  ``qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE ID`` (168).
- ``qselect -u USER``: the ids of the user's jobs that have not ended.

``TORQUE_SIM_PBS_BIN`` (default ``/opt/pbs/bin``) names the OpenPBS commands.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

PBS_BIN = os.environ.get('TORQUE_SIM_PBS_BIN', '/opt/pbs/bin')
KEEP_COMPLETED = float(os.environ.get('TORQUE_SIM_KEEP_COMPLETED', '300'))
WRAP = 78


def _pbs(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.path.join(PBS_BIN, args[0]), *args[1:]], capture_output=True,
                          text=True, **kw)


# -- qsub ----------------------------------------------------------------------------------------

_NODES = re.compile(r'^#PBS\s+-l\s+nodes=(\d+)(?::ppn=(\d+))?(?::gpus=(\d+))?\s*$')
_MEM = re.compile(r'^#PBS\s+-l\s+mem=(\d+)kb\s*$')
_EXCL = re.compile(r'^#PBS\s+-n\s*$')


def translate_script(text: str) -> str:
    """A Torque script with its resource directives in OpenPBS's form."""
    lines = text.split('\n')
    nodes, ppn, gpus, mem, excl = 1, 1, 0, None, False
    out: List[str] = []
    insert_at = None
    for line in lines:
        m = _NODES.match(line)
        if m:
            nodes, ppn, gpus = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 0)
            insert_at = len(out)
            continue
        m = _MEM.match(line)
        if m:
            mem = int(m.group(1))
            continue
        if _EXCL.match(line):
            excl = True
            continue
        out.append(line)
    chunk = '%d:ncpus=%d:mpiprocs=%d' % (nodes, ppn, ppn)
    if gpus:
        chunk += ':ngpus=%d' % gpus
    if mem is not None:
        chunk += ':mem=%dkb' % max(1, -(-mem // nodes))
    place = ['vscatter'] if nodes > 1 else []
    if excl:
        place.append('excl')
    directives = ['#PBS -l select=' + chunk]
    if place:
        directives.append('#PBS -l place=' + ':'.join(place))
    pos = insert_at if insert_at is not None else 1
    return '\n'.join(out[:pos] + directives + out[pos:])


def qsub(args: List[str]) -> int:
    script = args[-1] if args else ''
    try:
        with open(script) as f:
            text = f.read()
    except OSError as ex:
        sys.stderr.write('qsub: script file:: %s\n' % ex.strerror)
        return 1
    fd, tmp = tempfile.mkstemp(prefix='torque-sim-', suffix='.sh')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(translate_script(text))
        p = _pbs('qsub', *args[:-1], tmp)
    finally:
        os.unlink(tmp)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


# -- qstat -f ------------------------------------------------------------------------------------

_ORDER = ['Job_Name', 'Job_Owner', 'resources_used', 'job_state', 'queue', 'server',
          'Account_Name', 'Checkpoint', 'ctime', 'depend', 'Error_Path', 'exec_host',
          'Hold_Types', 'Join_Path', 'Keep_Files', 'Mail_Points', 'Mail_Users', 'mtime',
          'Output_Path', 'Priority', 'qtime', 'Rerunable', 'Resource_List', 'session_id',
          'euser', 'egroup', 'queue_type', 'etime', 'exit_status', 'submit_args',
          'start_time', 'start_count', 'fault_tolerant', 'job_radix', 'submit_host']
_STATE = {'F': 'C', 'X': 'C', 'B': 'R', 'M': 'Q'}


def _wrap(line: str) -> List[str]:
    """Torque's qstat -f: a long line continues on lines starting with a TAB."""
    if len(line) <= WRAP:
        return [line]
    out = [line[:WRAP]]
    rest = line[WRAP:]
    while rest:
        out.append('\t' + rest[:WRAP - 8])
        rest = rest[WRAP - 8:]
    return out


def _exit_status(job: Dict[str, Any]) -> Optional[int]:
    code = job.get('Exit_status')
    if job.get('substate') == 91 or code == -29:
        return 256 + 15  # deleted or walltime-killed: Torque's mom ends the job with SIGTERM
    return int(code) if code is not None else None


def torque_attributes(job: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(name, value) pairs of a job, Torque's names and order, from OpenPBS's JSON."""
    job = dict(job)
    state = str(job.get('job_state', 'Q'))
    job['job_state'] = _STATE.get(state, state)
    if job['job_state'] == 'C':
        job['exit_status'] = _exit_status(job)
    job.pop('Exit_status', None)
    if 'stime' in job:
        job['start_time'] = job['stime']
    if 'run_count' in job:
        job['start_count'] = job['run_count']
    if 'Submit_arguments' in job:
        job['submit_args'] = job['Submit_arguments']
    if 'Submit_Host' in job:
        job['submit_host'] = job['Submit_Host']
    job['queue_type'] = 'E'
    job['fault_tolerant'] = 'False'
    job['job_radix'] = 0
    out: List[Tuple[str, str]] = []
    for name in _ORDER:
        value = job.get(name)
        if value is None:
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                if name == 'Resource_List' and k in ('select', 'place', 'ncpus', 'mpiprocs'):
                    continue
                out.append(('%s.%s' % (name, k), str(v)))
            continue
        if isinstance(value, bool):
            value = 'True' if value else 'False'
        out.append((name, str(value)))
    return out


def _ended_long_ago(job: Dict[str, Any], now: float) -> bool:
    if job.get('job_state') != 'F':
        return False
    obit = job.get('obittime') or job.get('mtime')
    try:
        t = time.mktime(time.strptime(str(obit), '%a %b %d %H:%M:%S %Y'))
    except ValueError:
        return False
    return now - t > KEEP_COMPLETED


def qstat(args: List[str]) -> int:
    if args == ['--version']:
        sys.stdout.write('Version: 6.1.3\nCommit: 8b2a4d8e6bd7cbd2cd7e5b1e0ec55b08e1b3d9b4\n')
        return 0
    if not args or args[0] != '-f':
        sys.stderr.write('torque_sim: only "qstat -f ID..." and "qstat --version" are '
                         'simulated\n')
        return 2
    ids = args[1:]
    p = _pbs('qstat', '-x', '-f', '-F', 'json', *ids)
    if p.returncode not in (0, 153, 35) or not p.stdout.strip():
        sys.stderr.write(p.stderr.replace('Unknown Job Id ', 'Unknown Job Id Error '))
        return p.returncode
    jobs: Dict[str, Any] = json.loads(p.stdout).get('Jobs', {})
    now = time.time()
    code = 0
    lines: List[str] = []
    for job_id in (ids or list(jobs)):
        full = job_id if job_id in jobs else next(
            (k for k in jobs if k.split('.')[0] == job_id.split('.')[0]), None)
        if full is None or _ended_long_ago(jobs[full], now):
            sys.stderr.write('qstat: Unknown Job Id Error %s\n' % job_id)
            code = 153
            continue
        lines.append('Job Id: %s' % full)
        for name, value in torque_attributes(jobs[full]):
            lines.extend(_wrap('    %s = %s' % (name, value)))
        lines.append('')
    sys.stdout.write(''.join(line + '\n' for line in lines))
    return code


# -- qdel, qselect -------------------------------------------------------------------------------

def qdel(args: List[str]) -> int:
    code = 0
    for job_id in args:
        p = _pbs('qdel', job_id)
        if p.returncode == 153:
            sys.stderr.write('qdel: Unknown Job Id Error %s\n' % job_id)
            code = 153
        elif p.returncode == 35:
            sys.stderr.write('qdel: Request invalid for state of job MSG=invalid state for job '
                             '- COMPLETE %s\n' % job_id)
            code = 168
        elif p.returncode != 0:
            sys.stderr.write(p.stderr)
            code = p.returncode
    return code


def qselect(args: List[str]) -> int:
    p = _pbs('qselect', *args)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


COMMANDS = {'qsub': qsub, 'qstat': qstat, 'qdel': qdel, 'qselect': qselect}


def main() -> None:
    """``torque_sim.py COMMAND ARGS...`` (the wrappers beside this file call it so)."""
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))


if __name__ == '__main__':
    main()
