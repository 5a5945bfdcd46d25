"""Benchmark of the ``rp`` executor on a real RADICAL-Pilot pilot, side by side with
psij-python's.

For N short tasks (default 500) submitted at once to a pilot on ``local.localhost`` that is
already up (one warm-up job ran first), with psij-rp and with psij-python 0.9.11's ``rp``
executor (in its own venv, with radical.pilot), on the same pilot size (psij-python's is fixed
at 32 cores for 15 minutes; ours is configured to match):

- throughput: N / (time from the first ``submit()`` to the last final-state callback);
- delay from a task's end (its last act is ``date +%s.%N``, written to its stdout file) to
  its final-state callback: median and p95;
- pilot start: from the executor's creation to the warm-up job's final callback;
- CPU seconds used while the N tasks ran: by the executor's own process (``client cpu``: its
  threads and RADICAL-Pilot's client threads), and by that process and all its descendants
  (RP's client components, the agent, the tasks: ``tree cpu``), which compete for the cores.

Each executor runs in a process of its own (``--child``), from its own Python.

Usage: ``python bench/bench_rp.py [--jobs 500] [--psij-python /tmp/rpvenv/bin/python]
[--json FILE]``. psij-python's venv::

    python3 -m venv /tmp/rpvenv && /tmp/rpvenv/bin/pip install psij-python==0.9.11 radical.pilot

psij-python's pilot needs the same environment as ours (``VIRTUAL_ENV`` and the venv's
``bin`` on ``PATH``, which psij-rp sets itself): without them its agent does not start.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Tuple

CORES = 32  # psij-python's fixed pilot size
RUNTIME = 15


def _cpu_times() -> Tuple[float, Dict[int, float]]:
    """CPU seconds of this process, and of each of its descendants (by pid)."""
    import psutil  # type: ignore[import-untyped,unused-ignore]  # radical.pilot's dependency

    me = psutil.Process()
    tree: Dict[int, float] = {}
    for p in [me] + me.children(recursive=True):
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        tree[p.pid] = t.user + t.system + t.children_user + t.children_system
    own = me.cpu_times()
    return own.user + own.system, tree


def _child(impl: str, n: int, workdir: pathlib.Path) -> Dict[str, Any]:
    from psij import Job, JobExecutor, JobSpec, JobState, JobStatus
    from psij.job_executor_config import JobExecutorConfig

    t_start = time.time()
    if impl == 'ours':
        from psij_rp.executor import RPExecutorConfig
        config: JobExecutorConfig = RPExecutorConfig(cores=CORES, runtime=RUNTIME,
                                                     work_directory=str(workdir / 'work'))
    else:
        config = JobExecutorConfig()  # psij-python's rp fails at once without a config
    ex = JobExecutor.get_instance('rp', config=config)
    finals: Dict[str, float] = {}
    done = threading.Event()
    lock = threading.Lock()
    expected = [1]

    def cb(job: Job, status: JobStatus) -> None:
        if status.state.final:
            now = time.time()
            with lock:
                if job.id not in finals:
                    finals[job.id] = now
                    if len(finals) >= expected[0]:
                        done.set()

    ex.set_job_status_callback(cb)
    ex.submit(Job(JobSpec('/bin/true')))
    if not done.wait(600):
        raise SystemExit('%s: the warm-up job did not end in 600 s' % impl)
    pilot_start = time.time() - t_start
    states: Dict[str, int] = {}
    with lock:
        finals.clear()
        expected[0] = n
        done.clear()
    jobs = [Job(JobSpec('/bin/date', ['+%s.%N'], stdout_path=workdir / ('out.%d' % i)))
            for i in range(n)]
    cpu0, tree0 = _cpu_times()
    t0 = time.time()
    for j in jobs:
        ex.submit(j)
    if not done.wait(1800):
        raise SystemExit('%s: %d of %d jobs ended in 1800 s' % (impl, len(finals), n))
    t1 = max(finals.values())
    cpu1, tree1 = _cpu_times()
    # a descendant that ended meanwhile is not counted (its parent's children_* times have it
    # once the parent reaped it)
    tree_cpu = sum(t - tree0.get(pid, 0.0) for pid, t in tree1.items())
    delays: List[float] = []
    for i, j in enumerate(jobs):
        st = j.status.state
        states[str(st)] = states.get(str(st), 0) + 1
        if st is JobState.COMPLETED:
            try:
                end = float((workdir / ('out.%d' % i)).read_text().strip())
            except (OSError, ValueError):
                continue
            delays.append(finals[j.id] - end)
    if impl == 'ours':
        ex.close()  # type: ignore[attr-defined]
    else:  # psij-python's executor has no close: end its pilot and session ourselves
        ex._session.close(terminate=True, download=False)  # type: ignore[attr-defined]
    delays.sort()
    return {'impl': impl, 'jobs': n, 'pilot_start_s': pilot_start,
            'throughput_per_s': n / (t1 - t0), 'makespan_s': t1 - t0,
            'delay_median_ms': 1000 * statistics.median(delays) if delays else None,
            'delay_p95_ms': 1000 * delays[int(0.95 * (len(delays) - 1))] if delays else None,
            'delays_measured': len(delays), 'states': states,
            'client_cpu_s': cpu1 - cpu0, 'tree_cpu_s': tree_cpu}


def _run(python: str, impl: str, n: int) -> Dict[str, Any]:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='bench-rp-%s-' % impl))
    env = dict(os.environ)
    venv = pathlib.Path(python).parent.parent
    env['VIRTUAL_ENV'] = str(venv)
    env['PATH'] = '%s:%s' % (venv / 'bin', env.get('PATH', ''))
    env['HOME'] = str(workdir)  # psij-python's pilot sandbox goes to $HOME
    p = subprocess.run([python, os.path.abspath(__file__), '--child', impl, '--jobs', str(n),
                        '--workdir', str(workdir)], cwd=workdir, env=env,
                       capture_output=True, text=True, timeout=3600)
    for line in p.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])  # type: ignore[no-any-return]
    raise SystemExit('%s failed (exit %d):\n%s\n%s' % (impl, p.returncode, p.stdout[-3000:],
                                                      p.stderr[-3000:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--jobs', type=int, default=500)
    ap.add_argument('--psij-python', default='/tmp/rpvenv/bin/python',
                    help='python of a venv with psij-python 0.9.11 and radical.pilot')
    ap.add_argument('--ours', default=sys.executable,
                    help='python of a venv with psij-core and psij-rp')
    ap.add_argument('--psij-python-first', action='store_true',
                    help='run psij-python first (to see what the order costs)')
    ap.add_argument('--json')
    ap.add_argument('--child', choices=['ours', 'psij-python'])
    ap.add_argument('--workdir')
    a = ap.parse_args()
    if a.child:
        r = _child(a.child, a.jobs, pathlib.Path(a.workdir))
        print('RESULT ' + json.dumps(r), flush=True)
        os._exit(0)  # psij-python's session has no close: do not wait for its threads
    runs = [(a.ours, 'ours')]
    if os.path.exists(a.psij_python):
        runs.append((a.psij_python, 'psij-python'))
    else:
        print('no psij-python venv at %s: ours only' % a.psij_python)
    if a.psij_python_first:
        runs.reverse()
    results = [_run(python, impl, a.jobs) for python, impl in runs]
    print('%d tasks of /bin/date on a %d-core local.localhost pilot' % (a.jobs, CORES))
    print('%-12s %12s %10s %14s %12s %10s %12s %10s  %s' % (
        'executor', 'pilot start', 'tasks/s', 'makespan', 'end->final', 'p95', 'client cpu',
        'tree cpu', 'states'))
    for r in results:
        print('%-12s %10.1f s %10.1f %12.1f s %9.0f ms %7.0f ms %10.1f s %8.1f s  %s' % (
            r['impl'], r['pilot_start_s'], r['throughput_per_s'], r['makespan_s'],
            r['delay_median_ms'] or float('nan'), r['delay_p95_ms'] or float('nan'),
            r['client_cpu_s'], r['tree_cpu_s'], r['states']))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
