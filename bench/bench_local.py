#!/usr/bin/env python3
"""Benchmark: psij's local executor against psij-python 0.9.11's, side by side.

Each round runs ``_bench_worker.py`` once per implementation, in a fresh process, alternating
which goes first, and the raw limit (a bare ``os.posix_spawn`` loop) before and after each
of them, so that each run has a bare loop next to it under the same load; the table shows the
medians over the rounds. The worker measures, on 1000 ``/bin/true`` jobs submitted at once and
awaited through the executor callback: jobs/s and the submit-loop rate; the exit -> callback
latency (the job's last act is writing a timestamp, jobs run one at a time); the time until
all processes of 50 cancelled ``sleep`` jobs are gone; thread wake-ups per second while idle
with and without running jobs (``/proc/self/task/*/status`` context-switch deltas, the main
thread excluded); threads; peak RSS.

psij-python runs from its own venv (``--psij-python``, default ``/tmp/psijpy-venv``); with
``--setup`` the venv is created (``pip install psij-python==0.9.11``) if missing. Usage::

    python bench/bench_local.py [--rounds 3] [--jobs 1000] [--setup]
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
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, '_bench_worker.py')
PSIJ_PYTHON_VERSION = '0.9.11'

# (key, label, target, higher is better)
ROWS = [
    ('jobs_per_s', 'throughput, 1000 x /bin/true (jobs/s)', '>= 10x', True),
    ('submit_per_s', 'submit loop (submits/s)', '', True),
    ('latency_p50_ms', 'exit -> callback latency p50 (ms)', '<= 0.3', False),
    ('latency_p95_ms', 'exit -> callback latency p95 (ms)', '<= 2', False),
    ('cancel_gone_ms', 'cancel 50 sleep jobs: processes gone (ms)', '<= 50', False),
    ('cancel_callbacks_ms', 'cancel 50 sleep jobs: all final callbacks (ms) [1]', '', False),
    ('idle_wakeups_per_s', 'wake-ups/s idle, no jobs', '0', False),
    ('busy_wakeups_per_s', 'wake-ups/s idle, 10 running jobs', '', False),
    ('threads_after_throughput', 'threads after 1000 jobs', 'constant', False),
    ('threads_with_50_jobs', 'threads with 50 jobs running', 'constant', False),
    ('rss_mb', 'peak RSS (MB)', '', False),
    ('helper_rss_mb', 'peak RSS of helper processes (MB) [2]', '', False),
]


def run_worker(python: str, args: List[str], env: Dict[str, str]) -> Optional[Dict[str, Any]]:
    p = subprocess.run([python, WORKER] + args, capture_output=True, text=True, env=env,
                       timeout=1800)
    if p.returncode != 0 or not p.stdout.strip():
        print('worker failed (%s): %s' % (python, p.stderr[-2000:]), file=sys.stderr)
        return None
    result: Dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def ensure_psij_python(venv: str, setup: bool) -> Optional[str]:
    py = os.path.join(venv, 'bin', 'python')
    if os.path.exists(py):
        return py
    if not setup:
        print('psij-python venv %s missing; run with --setup to create it' % venv,
              file=sys.stderr)
        return None
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    subprocess.run([py, '-m', 'pip', 'install', '-q', 'psij-python==%s' % PSIJ_PYTHON_VERSION],
                   check=True)
    return py


def _loadavg() -> str:
    try:
        with open('/proc/loadavg') as f:
            return f.read().split()[0]
    except OSError:
        return '?'


def median(results: List[Dict[str, Any]], key: str) -> Optional[float]:
    vals = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v: Optional[float]) -> str:
    if v is None:
        return 'n/a'
    if v >= 100:
        return '%.0f' % v
    if v >= 10:
        return '%.1f' % v
    return '%.2f' % v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--jobs', type=int, default=1000)
    ap.add_argument('--idle-seconds', type=float, default=2.0)
    ap.add_argument('--ours', default=sys.executable, help='interpreter with psij-core')
    ap.add_argument('--also', action='append', default=[], metavar='LABEL=PYTHON',
                    help='another interpreter to measure in the same rounds (e.g. a build of '
                    'main, for before/after figures side by side)')
    ap.add_argument('--psij-python-venv', default='/tmp/psijpy-venv')
    ap.add_argument('--setup', action='store_true', help='create the psij-python venv')
    ap.add_argument('--json', action='store_true', help='also print the raw results as JSON')
    a = ap.parse_args()

    theirs = ensure_psij_python(a.psij_python_venv, a.setup)
    state = tempfile.mkdtemp(prefix='psij-bench-state-')
    env = dict(os.environ, PSIJ_LOCAL_STATE_DIR=state)
    wargs = ['--jobs', str(a.jobs), '--idle-seconds', str(a.idle_seconds)]
    impls = [('psij (this repo)', a.ours)]
    for also in a.also:
        label, _, py = also.partition('=')
        impls.append((label, py))
    if theirs:
        impls.append(('psij-python %s' % PSIJ_PYTHON_VERSION, theirs))
    load_before = _loadavg()
    results: Dict[str, List[Dict[str, Any]]] = {name: [] for name, _ in impls}
    raw: List[Dict[str, Any]] = []
    # each implementation's throughput over the bare loop's measured just before and just
    # after it: on a shared machine the load changes between runs, and the pair sees the same
    of_bare: Dict[str, List[float]] = {name: [] for name, _ in impls}

    def raw_run() -> Optional[float]:
        raw_r = run_worker(a.ours, ['--raw', '--jobs', str(a.jobs)], env)
        if not raw_r:
            return None
        raw.append(raw_r)
        v: float = raw_r['raw_jobs_per_s']
        return v

    before = raw_run()
    for r in range(a.rounds):
        order = impls[r % len(impls):] + impls[:r % len(impls)]  # each goes first in turn
        for name, py in order:
            print('round %d/%d: %s' % (r + 1, a.rounds, name), file=sys.stderr)
            res = run_worker(py, wargs, env)
            after = raw_run()
            if res:
                results[name].append(res)
                if before and after and res.get('jobs_per_s'):
                    of_bare[name].append(100 * res['jobs_per_s'] / ((before + after) / 2))
            before = after

    names = [n for n, _ in impls]
    print('| metric | target | %s |%s' % (' | '.join(names), ' ratio |' if theirs else ''))
    print('|---|---|%s' % ('---|' * (len(names) + (1 if theirs else 0))))
    for key, label, target, higher in ROWS:
        vals = [median(results[n], key) for n in names]
        row = '| %s | %s | %s |' % (label, target, ' | '.join(fmt(v) for v in vals))
        if theirs:
            ours_v, their_v = vals[0], vals[-1]
            ratio = ''
            if ours_v and their_v:
                ratio = '%.1fx' % (ours_v / their_v if higher else their_v / ours_v)
            row += ' %s |' % ratio
        print(row)
    raw_v = median(raw, 'raw_jobs_per_s')
    print('| raw limit: bare os.posix_spawn loop (jobs/s) | | %s |%s'
          % (fmt(raw_v), ' |' * (len(names) - 1 + (1 if theirs else 0))))
    print('| throughput as %% of the bare loop run just before and after it [3] | >= 85 | %s |%s'
          % (' | '.join(fmt(statistics.median(of_bare[n]) if of_bare[n] else None)
                        for n in names), ' |' if theirs else ''))
    left = {n: max((r.get('cancel_left_after_5s', 0) for r in results[n]), default=0)
            for n in names}
    print()
    print('[1] psij-python reports CANCELED inside cancel(), before its processes are gone '
          '(and sometimes FAILED afterwards); psij reports it once they are gone.')
    print('[2] psij\'s local jobs are started by a keeper process (so that they outlive the '
          'submitter); its memory is not in the row above.')
    print('[3] median over the rounds of jobs/s divided by the mean of the two bare loops '
          'measured next to it (the same load).')
    print('The ratio column compares the first and the last column.')
    print('Medians of %d rounds, rotating order. Processes left 5 s after cancel: %s. '
          'Final states of cancelled jobs: %s.'
          % (a.rounds, ', '.join('%s %d' % kv for kv in left.items()),
             '; '.join('%s %s' % (n, sorted({s for r in results[n]
                                              for s in r.get('cancel_states', [])}))
                       for n in names)))
    print('Load average (1 min) before/after: %s / %s on %d CPUs: other work on the machine '
          'lowers both implementations and the raw limit alike.'
          % (load_before, _loadavg(), os.cpu_count() or 0))
    if a.json:
        print(json.dumps({'results': results, 'raw': raw, 'of_bare': of_bare}, indent=1))
    shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
