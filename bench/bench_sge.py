"""Benchmark of the ``sge`` executor on a real Grid Engine cell (``ci/sge/setup-sge.sh``).

For N jobs (default 200) submitted at once through E executor instances (default 4), with the
executor's default polling settings, of which every tenth is deleted with ``cancel()`` once it
runs (such jobs record no exit code, so their end must come from ``qacct``):

- submission rate of ``executor.submit`` vs. a bare ``qsub`` loop of the same script, each
  submit alternating with one bare ``qsub`` so that both see the same master; target >= 90 %;
- ``qstat``/``qacct`` invocations, counted by wrappers in the executor's command directory,
  against the status engine's polling cycles: one ``qstat`` per cycle whatever N (the same
  with 10 jobs), ``qacct`` only in cycles where jobs without an exit-code file left ``qstat``
  and never naming a job that recorded its exit code;
- delay from a job's end (its last act writes ``date +%s.%N``) to its final-state callback;
  target: median <= 1 s;
- threads of the process (sampled), with N jobs and with 10.

Usage: ``python bench/bench_sge.py [--jobs 200] [--executors 4]``. Needs psij-core and psij-sge
installed; the Grid Engine commands in ``PSIJ_SGE_COMMAND_DIR`` (default /usr/bin).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import _bench_common as common

SGE_BIN = Path(os.environ.get('PSIJ_SGE_COMMAND_DIR', '/usr/bin'))
WRAPPED = ('qsub', 'qstat', 'qdel', 'qacct')


def worker(n: int, n_executors: int, tmp: Path) -> Dict[str, Any]:
    """Runs the benchmark in this process; returns the figures as a dict."""
    import psij
    from psij import Job, JobSpec, JobState
    from psij.executors.batch.status_engine import StatusEngine
    from psij_sge.executor import SGEExecutorConfig

    bindir, log = tmp / 'bin', tmp / 'calls.log'
    common.write_logging_wrappers(bindir, log, {name: SGE_BIN / name for name in WRAPPED},
                                  timestamps=True)
    stamps = tmp / 'stamps'
    stamps.mkdir()
    cfg = SGEExecutorConfig(work_directory=tmp / 'work', command_directory=bindir)
    executors = [psij.JobExecutor.get_instance('sge', config=cfg) for _ in range(n_executors)]
    finals = common.FinalTimes(expected=n)
    bare = tmp / 'bare.sh'
    bare.write_text('#!/bin/bash\n#$ -S /bin/bash\n#$ -j y\n#$ -o /dev/null\n#$ -cwd\n'
                    'date +%s.%N > /dev/null\n')
    jobs: List[Job] = []
    to_cancel: List[Job] = []
    for i in range(n):
        cancel = i % 10 == 9
        script = 'sleep 600' if cancel else 'date +%%s.%%N > %s/%d' % (stamps, i)
        job = Job(JobSpec('/bin/sh', ['-c', script], stdout_path=Path('/dev/null')))
        job.set_job_status_callback(finals)
        jobs.append(job)
        if cancel:
            to_cancel.append(job)
    polls0 = StatusEngine.for_scheduler('sge').polls
    with common.ThreadPeak() as threads:
        t_ours, t_bare, _ = common.submit_alternating(
            jobs, executors, lambda: subprocess.run([str(bindir / 'qsub'), '-terse', str(bare)],
                                                    capture_output=True, check=True, cwd=tmp))
        for job in to_cancel:
            job.wait(timeout=1800, target_states=[JobState.ACTIVE])
            job.cancel()
        finals.done.wait(1800)
    polls = StatusEngine.for_scheduler('sge').polls - polls0
    ends = finals.ends
    delays = common.stamped_delays(jobs, stamps, ends)
    calls = [line.split(' ', 2) for line in log.read_text().splitlines()]
    qstats = [c for c in calls if c[0] == 'qstat' and c[2].startswith('-xml')]
    qaccts = [c for c in calls if c[0] == 'qacct']
    with_ec = {j.native_id for j in jobs if j not in to_cancel}
    named = [w for c in qaccts for w in c[2].split() if w.isdigit()]
    return {'jobs': n, 'finished': len(ends), 'states': common.state_counts(jobs),
            'submit_rate': n / t_ours, 'bare_rate': n / t_bare,
            'polls': polls, 'qstat_calls': len(qstats), 'qacct_calls': len(qaccts),
            'qacct_batched': sum(1 for c in qaccts if '*' in c[2]),
            'qacct_naming_jobs_with_ec': len([w for w in named if w in with_ec]),
            'canceled': len(to_cancel),
            **common.delay_figures(delays),
            'threads_max': threads.peak}


def _run(n: int, n_executors: int) -> Dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix='bench-sge-'))
    p = subprocess.run([sys.executable, __file__, '--worker', '--jobs', str(n),
                        '--executors', str(n_executors), '--tmp', str(tmp)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {'error': (p.stderr or p.stdout)[-2000:]}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or '').split('\n')[0])
    ap.add_argument('--jobs', type=int, default=200)
    ap.add_argument('--executors', type=int, default=4)
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--tmp', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.jobs, args.executors, Path(args.tmp))))
        return
    results = {'%d jobs, %d executors' % (args.jobs, args.executors):
               _run(args.jobs, args.executors),
               '10 jobs, 1 executor': _run(10, 1)}
    print('\nGrid Engine benchmark (%s), default polling settings (qstat every 30 s; job '
          'files every 0.5 s)' % SGE_BIN)
    for name, r in results.items():
        if 'error' in r:
            print('%s failed: %s' % (name, r['error']))
    ok = {k: r for k, r in results.items() if 'error' not in r}
    rows: List[common.Figure] = [
        ('jobs finished / final states', lambda r: '%d %s' % (r['finished'], r['states'])),
        ('submit rate (jobs/s)', lambda r: common.fmt_or_dash(r['submit_rate'])),
        ('bare qsub loop (jobs/s)', lambda r: common.fmt_or_dash(r['bare_rate'])),
        ('submit rate / bare qsub',
         lambda r: common.fmt_or_dash(100 * r['submit_rate'] / r['bare_rate'], '%.0f %%')),
        ('status cycles (engine polls)', lambda r: str(r['polls'])),
        ('qstat -xml calls', lambda r: str(r['qstat_calls'])),
        ('qstat calls per cycle',
         lambda r: common.fmt_or_dash(r['qstat_calls'] / max(1, r['polls']), '%.2f')),
        ('jobs without exit-code file (canceled)', lambda r: str(r['canceled'])),
        ('qacct calls (batched -j \'*\')', lambda r: '%d (%d)' % (r['qacct_calls'],
                                                                   r['qacct_batched'])),
        ('qacct calls naming a job with an exit-code file',
         lambda r: str(r['qacct_naming_jobs_with_ec'])),
        ('end -> final callback, median (s)',
         lambda r: common.fmt_or_dash(r['delay_median'], '%.2f')),
        ('end -> final callback, p90 (s)', lambda r: common.fmt_or_dash(r['delay_p90'], '%.2f')),
        ('threads (max sampled)', lambda r: str(r['threads_max'])),
    ]
    common.print_figure_table(list(ok), list(ok.values()), rows)


if __name__ == '__main__':
    main()
