"""Benchmark of the ``lsf`` executor on the LSF simulator (``packages/psij-lsf/tests/lsf_sim``,
layered over the real Slurm cluster of ``ci/slurm/start-slurm.sh``).

Measures, for N jobs (default 200) submitted at once through several executor instances:

- submission rate of ``executor.submit`` vs. a bare ``bsub < script`` loop of the same job
  script, each submit alternating with one bare ``bsub`` so both see the same cluster; once
  with jobs that run and once with held jobs (``-H``, killed right after: the cost of
  submitting alone); target >= 90 %;
- ``bjobs`` invocations per polling cycle: the status engine's ``polls`` counter and the real
  ``bjobs`` processes started, counted by wrappers put first on ``PATH``, with the number of
  job ids each one named; target: 1 per cycle, whatever N;
- delay from a job's end (its last act writes ``date +%s.%N``) to its final-state callback,
  with the default polling settings (``queue_polling_interval`` 30 s, file checks every
  0.5 s); target: median <= 1 s; 10 % of the jobs exit 1 (their final state waits for one
  ``bjobs``, which says why they failed) and are reported separately;
- threads of the process: with a few jobs and one executor, and with N jobs over several
  executors; target: the same.

The simulator's commands are Python scripts (each ``bsub`` is a Python start plus an
``sbatch``), so absolute rates are the simulator's, not LSF's; the ratios and counts are what
this measures.

Usage: ``python bench/bench_lsf.py [--jobs 200] [--executors 4] [--json FILE]``. Needs
psij-core and psij-lsf installed and a Slurm controller that answers.
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

SIM_BIN = Path(__file__).resolve().parent.parent / 'packages' / 'psij-lsf' / 'tests' / \
    'lsf_sim' / 'bin'
WRAPPED = ('bsub', 'bjobs', 'bkill')
REAL: Dict[str, str] = {name: str(SIM_BIN / name) for name in WRAPPED}
"""The simulator's commands behind the wrappers (for the benchmark's own calls, not counted)."""


def _wrap_commands(bindir: Path, log: Path) -> None:
    """Puts counting wrappers of the LSF commands first on PATH, the simulator behind them."""
    common.write_logging_wrappers(bindir, log, REAL)
    os.environ['PATH'] = '%s:%s:%s' % (bindir, SIM_BIN, os.environ['PATH'])


def _ids_in_bjobs(args: str) -> int:
    return sum(1 for w in args.split() if w.isdigit())


def _bjobs_is_status(args: str) -> bool:
    return '-u' not in args.split()  # list() asks by user, the status command by ids


def _drain(ids: List[str]) -> None:
    """Waits until none of `ids` is pending or running."""
    while ids:
        p = subprocess.run([REAL['bjobs'], '-o', 'jobid stat', '-json'] + ids,
                           capture_output=True, text=True)
        if '"STAT":"RUN"' not in p.stdout and '"STAT":"PEND"' not in p.stdout:
            return
        time.sleep(1)


def run_jobs(n: int, n_executors: int, tmp: Path, fail_every: int = 10,
             hold: bool = False) -> Dict[str, Any]:
    """
    Submits `n` jobs through `n_executors` executors (default settings) and waits for all.

    Each ``submit`` alternates with one bare ``bsub < script`` so that both see the same
    cluster. Held jobs (``lsf.H`` / ``-H``) are killed with one ``bkill`` per 200 ids after
    the loop.
    """
    from psij import JobExecutor
    from psij_lsf.executor import LsfExecutorConfig

    work = tmp / 'work'
    stamps = Path(tempfile.mkdtemp(prefix='stamps-', dir=tmp))
    bare = common.submitted_script(tmp, 'lsf', LsfExecutorConfig)
    bare_cmd = ['bsub'] + (['-H'] if hold else [])
    cfg = LsfExecutorConfig(work_directory=work)  # default intervals
    executors = [JobExecutor.get_instance('lsf', config=cfg) for _ in range(n_executors)]
    finals = common.FinalTimes()
    jobs = common.stamping_jobs(n, stamps, fail_every, {'lsf.H': True} if hold else None, finals)

    def submit_bare() -> subprocess.CompletedProcess[str]:
        with open(bare) as f:
            return subprocess.run(bare_cmd, stdin=f, capture_output=True, text=True,
                                  check=True)

    with common.ThreadPeak() as threads:
        psij_time, bare_time, bare_runs = common.submit_alternating(
            [job for job, _ in jobs], executors, submit_bare)
        bare_ids = [p.stdout.split('<')[1].split('>')[0] for p in bare_runs]
        if hold:
            ids = [job.native_id or '' for job, _ in jobs] + bare_ids
            for i in range(0, len(ids), 200):
                subprocess.run([REAL['bkill']] + ids[i:i + 200], capture_output=True,
                               check=False)
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
    ap.add_argument('--jobs', type=int, default=200)
    ap.add_argument('--executors', type=int, default=4)
    ap.add_argument('--small', type=int, default=10, help='jobs of the small run (threads)')
    ap.add_argument('--json', type=Path, help='also write the results here')
    args = ap.parse_args()

    p = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True)
    if 'is UP' not in p.stdout:
        sys.exit('no Slurm controller answers: %s' % (p.stdout + p.stderr).strip())
    tmp = Path(tempfile.mkdtemp(prefix='psij-bench-lsf-'))
    os.environ['LSF_SIM_DIR'] = str(tmp / 'lsf-sim')
    log = tmp / 'calls.log'
    _wrap_commands(tmp / 'bin', log)

    from psij.executors.batch.status_engine import StatusEngine

    engine = StatusEngine.for_scheduler('lsf')
    base_threads = threading.active_count()

    small = run_jobs(args.small, 1, tmp)
    held = run_jobs(args.jobs, args.executors, tmp, hold=True)
    log.unlink(missing_ok=True)
    polls0 = engine.polls
    big = run_jobs(args.jobs, args.executors, tmp)
    polls = engine.polls - polls0
    calls = common.read_call_log(log, WRAPPED)
    log.unlink(missing_ok=True)

    status = [a for a in calls['bjobs'] if _bjobs_is_status(a)]
    ids_per_call = [_ids_in_bjobs(a) for a in status]

    def ratio(r: Dict[str, Any]) -> str:
        return '%.0f %%' % (100 * r['submit_rate'] / r['bare_rate'])

    rows = [
        ('jobs (executors)', '%d (%d)' % (args.jobs, args.executors), ''),
        ('submit rate, jobs that run: psij', '%.1f jobs/s' % big['submit_rate'], ''),
        ('submit rate, jobs that run: bare bsub', '%.1f jobs/s' % big['bare_rate'], ''),
        ('psij / bare (jobs that run)', ratio(big), '>= 90 %'),
        ('submit rate, held jobs: psij', '%.1f jobs/s' % held['submit_rate'], ''),
        ('submit rate, held jobs: bare bsub', '%.1f jobs/s' % held['bare_rate'], ''),
        ('psij / bare (held jobs)', ratio(held), '>= 90 %'),
        ('status cycles (engine polls)', str(polls), ''),
        ('bjobs processes (status)', str(len(status)), ''),
        ('bjobs processes per cycle', '%.2f' % (len(status) / max(1, polls)), '1'),
        ('job ids per bjobs (max / median)', '%d / %d' % (
            max(ids_per_call, default=0),
            statistics.median(ids_per_call) if ids_per_call else 0), ''),
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
        args.json.write_text(json.dumps({'rows': rows, 'bjobs_calls': calls['bjobs']},
                                        indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
