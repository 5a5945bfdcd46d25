"""Benchmark of the ``flux`` executor on a real instance, side by side with psij-python's.

Measures, for N trivial jobs (default 500) submitted at once, with psij-flux (default: submit()
returns once the job is queued for the executor's submitter; and with
``FluxExecutorConfig(async_submit=False)``: once Flux accepted it) and with psij-python 0.9.11's
``flux`` executor (in its own venv), against the same Flux instance:

- the rate of a loop of ``submit()`` calls (target >= 1,000/s), and the time until all N jobs
  were final (target: no later than psij-python's);

- submission rate: N / (time from the first ``submit()`` until Flux accepted the last job),
  where "accepted" is Flux's own ``t_submit`` of each job (``flux jobs --json``), not the
  moment ``submit()`` returned (psij-python submits asynchronously);
- delay from a job's end (its last act writes ``date +%s.%N``) to its final-state callback:
  median and p95; target <= 50 ms and no worse than psij-python's;
- threads of the process (``/proc/self/task``): peak with 5 jobs and with N jobs; target: the
  same;
- one job's ``submit()`` -> ``ACTIVE`` callback on an idle instance (median of 5).

Both runs use the same job: ``/bin/sh -c 'date +%s.%N > FILE'`` with explicit resources
(``process_count=1, cpu_cores_per_process=1``): psij-python 0.9.11 passes no task or core
count to Flux 0.88 otherwise.

Usage: ``python bench/bench_flux.py [--jobs 500] [--psij-python /tmp/psijpy-venv/bin/python]
[--json FILE]``, with ``FLUX_URI`` set (``. /run/flux-psij/env``). psij-python's venv::

    python3 -m venv /tmp/psijpy-venv
    /tmp/psijpy-venv/bin/pip install psij-python==0.9.11 cffi ply pyyaml

The Flux bindings are given to psij-python's process with ``PYTHONPATH`` (the
``site-packages`` of the Flux installation); psij-flux finds them itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

from _bench_common import ThreadPeak

# -- the worker: runs in either implementation's interpreter, public PSI/J API only -------------


def _threads() -> int:
    return len(os.listdir('/proc/self/task'))


def _flux_records(ids: List[str]) -> Dict[str, Dict[str, Any]]:
    flux = shutil.which('flux') or '/opt/flux/bin/flux'
    out: Dict[str, Dict[str, Any]] = {}
    for i in range(0, len(ids), 400):
        chunk = ids[i:i + 400]
        p = subprocess.run([flux, 'jobs', '--json'] + chunk, capture_output=True, text=True)
        data = json.loads(p.stdout)
        recs = data['jobs'] if 'jobs' in data else [data]
        for r in recs:
            out[str(r['id'])] = r
    return out


def _round(n: int, tmp: Path) -> Dict[str, Any]:
    from psij import Job, JobExecutor, JobSpec, JobState, ResourceSpecV1

    if os.environ.get('PSIJ_BENCH_FLUX_SYNC') == '1':
        from psij_flux.executor import FluxExecutorConfig
        ex = JobExecutor.get_instance('flux', config=FluxExecutorConfig(async_submit=False))
    else:
        ex = JobExecutor.get_instance('flux')
    lock = threading.Lock()
    final_at: Dict[str, float] = {}
    active_at: Dict[str, float] = {}
    done = threading.Event()
    expected = [n]

    def cb(job: Any, st: Any) -> None:
        now = time.time()
        with lock:
            if st.state is JobState.ACTIVE:
                active_at.setdefault(job.id, now)
            if st.final and job.id not in final_at:
                final_at[job.id] = now
                if len(final_at) >= expected[0]:
                    done.set()

    ex.set_job_status_callback(cb)

    def spec(i: int) -> Any:
        return JobSpec('/bin/sh', ['-c', 'date +%s.%N > "$0"', str(tmp / ('end.%d' % i))],
                       resources=ResourceSpecV1(process_count=1, cpu_cores_per_process=1))

    # warm-up and threads with a few jobs
    with ThreadPeak(interval=0.01, count=_threads) as few:
        warm = [Job(spec(100000 + i)) for i in range(5)]
        expected[0] = 5
        for j in warm:
            ex.submit(j)
        done.wait(120)
    done.clear()
    final_at.clear()

    # one job's submit -> ACTIVE, idle instance
    to_active = []
    for _ in range(5):
        j = Job(JobSpec('/bin/sh', ['-c', 'sleep 0.2'],
                        resources=ResourceSpecV1(process_count=1, cpu_cores_per_process=1)))
        expected[0] = 1
        t0 = time.time()
        ex.submit(j)
        done.wait(120)
        done.clear()
        final_at.clear()
        to_active.append(active_at[j.id] - t0)

    # N jobs at once
    jobs = [Job(spec(i)) for i in range(n)]
    expected[0] = n
    with ThreadPeak(interval=0.01, count=_threads) as many:
        t0 = time.time()
        for j in jobs:
            ex.submit(j)
        t_returned = time.time()
        finished = done.wait(600)
    recs = _flux_records([str(j.native_id) for j in jobs])
    assert len(recs) == n, 'flux jobs knows %d of the %d jobs' % (len(recs), n)
    accepted = max(float(r['t_submit']) for r in recs.values())
    delays = []
    for i, j in enumerate(jobs):
        end = float((tmp / ('end.%d' % i)).read_text())
        delays.append(final_at[j.id] - end)
    delays.sort()
    return {
        'jobs': n, 'all_final': finished,
        'submit_rate': n / (accepted - t0),
        'submit_returned_rate': n / (t_returned - t0),
        'all_final_s': max(final_at.values()) - t0 if final_at else float('nan'),
        'delay_median_ms': statistics.median(delays) * 1000,
        'delay_p95_ms': delays[int(0.95 * (len(delays) - 1))] * 1000,
        'threads_few': few.peak, 'threads_many': many.peak,
        'submit_to_active_ms': statistics.median(to_active) * 1000,
        'completed': sum(1 for j in jobs if j.status.state is JobState.COMPLETED),
    }


def worker(n: int) -> None:
    """Prints one JSON object with the figures of this interpreter's ``psij``."""
    with tempfile.TemporaryDirectory(prefix='bench-flux-') as d:
        res = _round(n, Path(d))
    import psij
    res['psij'] = getattr(psij, '__file__', '?')
    print(json.dumps(res), flush=True)
    os._exit(0)  # executor threads are daemons in one implementation, not in the other


# -- the driver --------------------------------------------------------------------------------

def _run_worker(python: str, n: int, env: Dict[str, str]) -> Dict[str, Any]:
    p = subprocess.run([python, os.path.abspath(__file__), '--worker', '--jobs', str(n)],
                       capture_output=True, text=True, env=env, timeout=1200)
    if p.returncode != 0 or not p.stdout.strip():
        sys.exit('worker %s failed (exit %d):\n%s\n%s' % (python, p.returncode, p.stdout,
                                                           p.stderr[-4000:]))
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Runs both implementations and prints a table."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jobs', type=int, default=500)
    ap.add_argument('--psij-python', default='/tmp/psijpy-venv/bin/python',
                    help="python of a venv with psij-python 0.9.11 ('' to skip it)")
    ap.add_argument('--flux-site-packages', default='/opt/flux/lib/python3.11/site-packages')
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--json', type=Path, help='also write the results here')
    args = ap.parse_args()
    if args.worker:
        worker(args.jobs)
        return
    if not os.environ.get('FLUX_URI'):
        sys.exit('FLUX_URI is not set: start Flux (ci/flux/setup-flux.sh), '
                 'then . /run/flux-psij/env')
    results: Dict[str, Dict[str, Any]] = {}
    ours_env = dict(os.environ)
    ours_env.pop('PYTHONPATH', None)  # psij-flux finds the bindings itself
    results['psij-flux'] = _run_worker(sys.executable, args.jobs, ours_env)
    ours_env['PSIJ_BENCH_FLUX_SYNC'] = '1'
    results['psij-flux sync'] = _run_worker(sys.executable, args.jobs, ours_env)
    if args.psij_python:
        env = dict(os.environ)
        env['PYTHONPATH'] = args.flux_site_packages
        results['psij-python 0.9.11'] = _run_worker(args.psij_python, args.jobs, env)
    rows = [
        ('submission rate, until Flux accepted all (jobs/s)', 'submit_rate', '%.0f', ''),
        ('a loop of submit() calls (calls/s)', 'submit_returned_rate', '%.0f', '>= 1000'),
        ('all jobs final, from the first submit() (s)', 'all_final_s', '%.2f',
         '<= psij-python'),
        ('job end -> final callback, median (ms)', 'delay_median_ms', '%.1f', '<= 50'),
        ('job end -> final callback, p95 (ms)', 'delay_p95_ms', '%.1f', ''),
        ('threads, 5 jobs', 'threads_few', '%d', 'same'),
        ('threads, %d jobs' % args.jobs, 'threads_many', '%d', 'same'),
        ('1 job submit -> ACTIVE (ms, median of 5)', 'submit_to_active_ms', '%.1f', ''),
        ('jobs COMPLETED', 'completed', '%d', str(args.jobs)),
    ]
    names = list(results)
    w = max(len(r[0]) for r in rows)
    print('| %-*s | %s | target |' % (w, 'measure (%d trivial jobs)' % args.jobs,
                                        ' | '.join('%18s' % n for n in names)))
    print('|%s|%s--------|' % ('-' * (w + 2), ''.join('-' * 20 + '|' for _ in names)))
    for label, key, fmt, target in rows:
        print('| %-*s | %s | %s |' % (w, label, ' | '.join('%18s' % (fmt % results[n][key])
                                                           for n in names), target))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
