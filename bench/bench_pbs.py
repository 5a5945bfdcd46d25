"""Benchmark of the ``pbs`` executor on a real OpenPBS server (``ci/pbs/setup-pbs.sh``), side by
side with psij-python 0.9.11's ``pbs`` executor on the same server.

For N jobs (default 300) submitted at once through E executor instances (default 4), each
implementation in its own process with its default polling settings:

- submission rate of ``executor.submit`` vs. a bare ``qsub`` loop of the same script, each
  submit alternating with one bare ``qsub`` so that both see the same server; target >= 90 %;
- ``qstat`` invocations: counted by a wrapper in the executor's command directory (ours) or
  first on ``PATH`` (psij-python), with the job ids each named and when it ran; target: one
  per polling cycle whatever N, never two within one second (qstat sleeps 200 ms when the
  same user ran it within the same second);
- delay from a job's end (its last act writes ``date +%s.%N``) to its final-state callback;
  target: median <= 1 s;
- threads of the process (sampled), with N jobs.

Usage: ``python bench/bench_pbs.py [--jobs 300] [--executors 4] [--psij-python-venv DIR]``.
Needs psij-core and psij-pbs installed here; psij-python in its own venv (default
/tmp/psijpy-venv, created by ``nox -s bench``).
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

PBS_BIN = Path(os.environ.get('PSIJ_PBS_COMMAND_DIR', '/opt/pbs/bin'))
WRAPPED = ('qsub', 'qstat', 'qdel', 'qselect')


def worker(impl: str, n: int, n_executors: int, tmp: Path) -> Dict[str, Any]:
    """Runs in the implementation's own interpreter; returns the figures as a dict."""
    import psij
    from psij import Job, JobSpec

    bindir, log = tmp / 'bin', tmp / 'calls.log'
    common.write_logging_wrappers(bindir, log, {name: PBS_BIN / name for name in WRAPPED},
                                  timestamps=True)
    stamps = tmp / 'stamps'
    stamps.mkdir()
    if impl == 'ours':
        from psij_pbs.executor import PBSExecutorConfig
        cfg: Any = PBSExecutorConfig(work_directory=tmp / 'work', command_directory=bindir)
    else:
        os.environ['PATH'] = '%s:%s' % (bindir, os.environ['PATH'])
        from psij.executors.batch.pbs import PBSExecutorConfig as OldConfig
        cfg = OldConfig(work_directory=tmp / 'work')
    executors = [psij.JobExecutor.get_instance('pbs', config=cfg) for _ in range(n_executors)]
    finals = common.FinalTimes(expected=n)
    # the bare loop submits the same kind of script: a job writing its end time
    bare = tmp / 'bare.sh'
    bare.write_text('#!/bin/sh\n#PBS -j oe\n#PBS -o /dev/null\n#PBS -l select=1:ncpus=1\n'
                    'date +%s.%N > /dev/null\n')
    jobs: List[Job] = []
    for i in range(n):
        job = Job(JobSpec('/bin/sh', ['-c', 'date +%%s.%%N > %s/%d' % (stamps, i)],
                          stdout_path=Path('/dev/null')))
        job.set_job_status_callback(finals)
        jobs.append(job)
    with common.ThreadPeak() as threads:
        t_ours, t_bare, _ = common.submit_alternating(
            jobs, executors, lambda: subprocess.run([str(bindir / 'qsub'), str(bare)],
                                                    capture_output=True, check=True, cwd=tmp))
        finals.done.wait(1800)
    ends = finals.ends
    if os.environ.get('BENCH_PBS_DEBUG'):
        for i, job in enumerate(jobs):
            f = stamps / str(i)
            sys.stderr.write('%s %s end=%s cb=%s\n' % (job.native_id, job.status.state,
                             f.read_text().strip() if f.exists() else None, ends.get(job.id)))
    delays = common.stamped_delays(jobs, stamps, ends)
    calls = [line.split(' ', 2) for line in log.read_text().splitlines()]
    qstats = [(float(c[1]), len([w for w in c[2].split() if '.' in w and w[0].isdigit()]))
              for c in calls if c[0] == 'qstat' and '--version' not in c[2]]
    gaps = [b[0] - a[0] for a, b in zip(qstats, qstats[1:], strict=False)]
    return {'impl': impl, 'jobs': n, 'finished': len(ends), 'states': common.state_counts(jobs),
            'submit_rate': n / t_ours, 'bare_rate': n / t_bare,
            'qstat_calls': len(qstats), 'max_ids_per_qstat': max((q[1] for q in qstats),
                                                                 default=0),
            'qstat_within_1s': sum(1 for g in gaps if g < 1.0),
            **common.delay_figures(delays),
            'threads_max': threads.peak}


def _run(python: str, impl: str, args: argparse.Namespace) -> Dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix='bench-pbs-%s-' % impl))
    p = subprocess.run([python, __file__, '--worker', impl, '--jobs', str(args.jobs),
                        '--executors', str(args.executors), '--tmp', str(tmp)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {'impl': impl, 'error': (p.stderr or p.stdout)[-2000:]}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jobs', type=int, default=300)
    ap.add_argument('--executors', type=int, default=4)
    ap.add_argument('--psij-python-venv', default=os.environ.get('PSIJ_PYTHON_VENV',
                                                                 '/tmp/psijpy-venv'))
    ap.add_argument('--worker', help=argparse.SUPPRESS)
    ap.add_argument('--tmp', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.jobs, args.executors, Path(args.tmp))))
        return
    results = [_run(sys.executable, 'ours', args)]
    ref = Path(args.psij_python_venv) / 'bin' / 'python'
    if ref.exists():
        results.append(_run(str(ref), 'psij-python', args))
    # threads must not grow with the number of jobs: the same with 10 jobs and 1 executor
    small = argparse.Namespace(**dict(vars(args), jobs=10, executors=1))
    few = {'ours': _run(sys.executable, 'ours', small)}
    if ref.exists():
        few['psij-python'] = _run(str(ref), 'psij-python', small)
    else:
        print('psij-python venv not found at %s: measuring psij only' % ref.parent.parent)
    print('\nPBS benchmark: %d jobs through %d executors, default polling settings'
          % (args.jobs, args.executors))
    for r in results:
        if 'error' in r:
            print('%s failed: %s' % (r['impl'], r['error']))
    ok = [r for r in results if 'error' not in r]
    rows: List[common.Figure] = [
        ('jobs finished / final states', lambda r: '%d %s' % (r['finished'], r['states'])),
        ('submit rate (jobs/s)', lambda r: common.fmt_or_dash(r['submit_rate'])),
        ('bare qsub loop (jobs/s)', lambda r: common.fmt_or_dash(r['bare_rate'])),
        ('submit rate / bare qsub',
         lambda r: common.fmt_or_dash(100 * r['submit_rate'] / r['bare_rate'], '%.0f %%')),
        ('qstat calls in all', lambda r: str(r['qstat_calls'])),
        ('most job ids in one qstat', lambda r: str(r['max_ids_per_qstat'])),
        ('qstat calls < 1 s after the previous', lambda r: str(r['qstat_within_1s'])),
        ('end -> final callback, median (s)',
         lambda r: common.fmt_or_dash(r['delay_median'], '%.2f')),
        ('end -> final callback, p90 (s)', lambda r: common.fmt_or_dash(r['delay_p90'], '%.2f')),
        ('threads (max sampled)', lambda r: str(r['threads_max'])),
        ('threads with 10 jobs, 1 executor', lambda r: str(few.get(r['impl'], {}).get(
            'threads_max', '-'))),
    ]
    common.print_figure_table([r['impl'] for r in ok], ok, rows)


if __name__ == '__main__':
    main()
