"""Benchmark of the ``slurm`` executor on a real cluster (``ci/slurm/start-slurm.sh``).

Measures, for N jobs (default 500) submitted at once:

- submission rate of ``executor.submit`` vs. bare ``sbatch`` of the same job script, each
  submit alternating with one bare ``sbatch`` so both see the same cluster; once with jobs
  that run and once with held jobs (``--hold``, canceled right after: the cost of submitting
  alone); target >= 90 %;
- status commands per polling cycle: the status engine's ``polls`` counter, and the real
  ``squeue`` / ``sacct`` processes started, counted by wrappers put first on ``PATH``, with
  the number of job ids each ``squeue`` named; target: 1 per cycle, whatever N;
- delay from a job's end (its last act writes ``date +%s.%N``) to its final-state callback,
  with the default polling settings (``queue_polling_interval`` 30 s, file checks every
  0.5 s); target: median <= 1 s; 10 % of the jobs exit 1 and are reported separately;
- threads of the process: with a few jobs and one executor, and with N jobs spread over
  several executor instances; target: the same.

Usage: ``python bench/bench_slurm.py [--jobs 500] [--executors 4] [--json FILE]``. Needs
psij-core and psij-slurm installed and a Slurm controller that answers.
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

import _bench_common as common

WRAPPED = ('squeue', 'sacct', 'sbatch', 'scancel')
REAL: Dict[str, str] = {}
"""The real commands behind the wrappers (for the benchmark's own calls, not counted)."""


def _wrap_commands(bindir: Path, log: Path) -> None:
    """Puts counting wrappers of the Slurm commands first on PATH."""
    for name in WRAPPED:
        real = shutil.which(name)
        if real is None:
            sys.exit('%s not found: is Slurm installed?' % name)
        REAL[name] = real
    common.write_logging_wrappers(bindir, log, REAL)
    os.environ['PATH'] = '%s:%s' % (bindir, os.environ['PATH'])


def _ids_in_squeue(args: str) -> int:
    for word in args.split():
        if word.startswith('--jobs='):
            return len(word[len('--jobs='):].split(','))
    return 0


def _drain(ids: List[str]) -> None:
    """Waits until Slurm has none of `ids` pending or running."""
    while True:
        p = subprocess.run([REAL['squeue'], '--noheader', '--states=PENDING,RUNNING,COMPLETING',
                            '--Format=JobID:|'], capture_output=True, text=True)
        left = {line.strip().rstrip('|') for line in p.stdout.splitlines()} & set(ids)
        if p.returncode == 0 and not left:
            return
        time.sleep(1)


def run_jobs(n: int, n_executors: int, tmp: Path, fail_every: int = 10,
             hold: bool = False) -> Dict[str, Any]:
    """
    Submits `n` jobs through `n_executors` executors (default settings) and waits for all.

    Each ``submit`` alternates with one bare ``sbatch`` of the same script, so that both see
    the same cluster (slurmctld slows down as job records pile up, and running jobs share the
    CPUs with the submitting process here). Held jobs (``slurm.hold`` / ``--hold``) are
    canceled with one ``scancel`` after the loop.
    """
    from psij import JobExecutor
    from psij_slurm.executor import SlurmExecutorConfig

    work = tmp / 'work'
    stamps = Path(tempfile.mkdtemp(prefix='stamps-', dir=tmp))
    bare = common.submitted_script(tmp, 'slurm', SlurmExecutorConfig)
    bare_cmd = ['sbatch', '--parsable'] + (['--hold'] if hold else []) + [str(bare)]
    cfg = SlurmExecutorConfig(work_directory=work)  # default intervals
    executors = [JobExecutor.get_instance('slurm', config=cfg) for _ in range(n_executors)]
    finals = common.FinalTimes()
    jobs = common.stamping_jobs(n, stamps, fail_every, {'slurm.hold': True} if hold else None,
                                finals)
    with common.ThreadPeak() as threads:
        psij_time, bare_time, bare_runs = common.submit_alternating(
            [job for job, _ in jobs], executors,
            lambda: subprocess.run(bare_cmd, capture_output=True, text=True, check=True))
        bare_ids = [p.stdout.strip().split(';')[0] for p in bare_runs]
        if hold:
            ids = [job.native_id or '' for job, _ in jobs] + bare_ids
            for i in range(0, len(ids), 200):
                subprocess.run(['scancel'] + ids[i:i + 200], check=False)
            executors[0]._engine.request_poll(0)  # type: ignore[attr-defined]
        for job, _ in jobs:
            job.wait()
    _drain(bare_ids)
    delays, wrong = common.delays_by_exit_code(jobs, stamps, finals.ends, check_codes=not hold)
    return {'submit_rate': n / psij_time, 'bare_rate': n / bare_time, 'delays': delays,
            'threads': threads.peak, 'wrong': wrong}


def main() -> None:
    """Runs the benchmark and prints a table."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--jobs', type=int, default=500)
    ap.add_argument('--executors', type=int, default=4)
    ap.add_argument('--small', type=int, default=10, help='jobs of the small run (threads)')
    ap.add_argument('--json', type=Path, help='also write the results here')
    args = ap.parse_args()

    p = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True)
    if 'is UP' not in p.stdout:
        sys.exit('no Slurm controller answers: %s' % (p.stdout + p.stderr).strip())
    tmp = Path(tempfile.mkdtemp(prefix='psij-bench-slurm-'))
    log = tmp / 'calls.log'
    _wrap_commands(tmp / 'bin', log)

    from psij.executors.batch.status_engine import StatusEngine

    engine = StatusEngine.for_scheduler('slurm')
    base_threads = threading.active_count()

    small = run_jobs(args.small, 1, tmp)
    held = run_jobs(args.jobs, args.executors, tmp, hold=True)
    bare_held = held['bare_rate']
    log.unlink(missing_ok=True)
    polls0 = engine.polls
    big = run_jobs(args.jobs, args.executors, tmp)
    polls = engine.polls - polls0
    calls = common.read_call_log(log, WRAPPED)
    log.unlink(missing_ok=True)
    bare = big['bare_rate']

    squeue = calls['squeue']
    sacct = calls['sacct']
    ids_per_call = [_ids_in_squeue(a) for a in squeue]

    rows = [
        ('jobs (executors)', '%d (%d)' % (args.jobs, args.executors), ''),
        ('submit rate, jobs that run: psij', '%.1f jobs/s' % big['submit_rate'], ''),
        ('submit rate, jobs that run: bare sbatch', '%.1f jobs/s' % bare, ''),
        ('psij / bare (jobs that run)', '%.0f %%' % (100 * big['submit_rate'] / bare),
         '>= 90 %'),
        ('submit rate, held jobs: psij', '%.1f jobs/s' % held['submit_rate'], ''),
        ('submit rate, held jobs: bare sbatch', '%.1f jobs/s' % bare_held, ''),
        ('psij / bare (held jobs)', '%.0f %%' % (100 * held['submit_rate'] / bare_held),
         '>= 90 %'),
        ('status cycles (engine polls)', str(polls), ''),
        ('squeue processes', str(len(squeue)), ''),
        ('sacct processes', str(len(sacct)), ''),
        ('status processes per cycle', '%.2f' % ((len(squeue) + len(sacct)) / max(1, polls)),
         '1'),
        ('job ids per squeue (max / median)', '%d / %d' % (
            max(ids_per_call, default=0), statistics.median(ids_per_call) if ids_per_call
            else 0), ''),
        ('end -> callback, exit 0: median (p90)', common.median_p90_s(big['delays'][0]), '<= 1 s'),
        ('end -> callback, exit 1: median (p90)', common.median_p90_s(big['delays'][1]), ''),
        ('wrong exit codes', str(big['wrong'] + small['wrong']), '0'),
        ('threads before any job', str(base_threads), ''),
        ('threads, %d jobs / 1 executor' % args.small, str(small['threads']), ''),
        ('threads, %d jobs / %d executors' % (args.jobs, args.executors), str(big['threads']),
         'same'),
    ]
    common.print_measure_table(rows)
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'squeue_calls': squeue,
                                         'sacct_calls': sacct}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
