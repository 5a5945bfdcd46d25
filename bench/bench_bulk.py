"""Benchmark of ``submit_many`` (native job arrays) against one ``submit`` per job.

For an executor (``slurm`` by default; ``pbs``, ``flux`` where their schedulers answer):

- submission time of N jobs (default 1000) through ``submit_many`` and through N ``submit``
  calls, alternated ``--repeat`` times (median and ratio); the jobs are held (``--hold``
  where the scheduler has it: ``slurm.hold``, ``pbs.h``; Flux: urgency 0) so that only
  submission is measured, then canceled;
- scheduler submit commands run (counted by a wrapper in the executor's command directory,
  for the batch executors): ``submit_many`` target 1 per ``MaxArraySize`` (1001) jobs;
- attaching the N held jobs from a new executor instance: ``attach_many`` vs. N ``attach``
  calls (time, and status commands run: ``attach_many`` target 1 per 2,000 jobs);
- one run of N jobs that do run, through ``submit_many``, with mixed exit codes (0, 1, 2, 3):
  every job's final state and exit code checked, the time until all ended, and the threads of
  the process.

Usage: ``python bench/bench_bulk.py [--executor slurm] [--jobs 1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from psij import Job, JobExecutor, JobSpec, JobState

SUBMIT = {'slurm': ('sbatch', ['squeue', 'scancel', 'sacct', 'scontrol']),
          'pbs': ('qsub', ['qstat', 'qdel', 'qselect', 'qmgr'])}
STATUS = {'slurm': 'squeue', 'pbs': 'qstat'}
DEFAULT_DIRS = {'pbs': '/opt/pbs/bin'} if os.path.isdir('/opt/pbs/bin') else {}
HOLD = {'slurm': {'slurm.hold': True}, 'pbs': {'pbs.h': True}}


def _wrap(bindir: Path, names: List[str], others: List[str], real_dir: str | None) -> Path:
    """A command directory where `names` are counted (``calls.NAME``) and `others` linked."""
    bindir.mkdir(parents=True)
    for o in others:
        real = shutil.which(o, path=real_dir) if real_dir else shutil.which(o)
        if real:
            (bindir / o).symlink_to(real)
    for name in names:
        real = shutil.which(name, path=real_dir) if real_dir else shutil.which(name)
        if real is None:
            sys.exit('%s not found' % name)
        w = bindir / name
        w.write_text('#!/bin/sh\necho x >>%s/calls.%s\nexec %s "$@"\n' % (bindir, name, real))
        w.chmod(0o755)
    return bindir


def _calls(bindir: Path | None, name: str) -> int:
    if bindir is None or not (bindir / ('calls.' + name)).exists():
        return -1 if bindir is None else 0
    return len((bindir / ('calls.' + name)).read_text().splitlines())


def _bindir(name: str, work: Path, counted: List[str]) -> Path | None:
    if name not in SUBMIT:
        return None
    sub, others = SUBMIT[name]
    real_dir = os.environ.get('PSIJ_%s_COMMAND_DIR' % name.upper()) or DEFAULT_DIRS.get(name)
    return _wrap(Path(tempfile.mkdtemp(dir=work)) / 'bin', counted,
                 [c for c in [sub] + others if c not in counted], real_dir)


def _executor(name: str, work: Path, bindir: Path | None,
              first_poll: float = 2) -> JobExecutor:
    if name == 'flux':
        return JobExecutor.get_instance('flux')
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutorConfig
    cfg = BatchSchedulerExecutorConfig(work_directory=work, command_directory=bindir,
                                       queue_polling_interval=max(2, first_poll),
                                       initial_queue_polling_delay=first_poll,
                                       file_check_interval=0.5)
    return JobExecutor.get_instance(name, config=cfg)


def _spec(name: str, i: int, code: int, hold: bool) -> JobSpec:
    spec = JobSpec('/bin/sh', ['-c', 'exit "$1"', 'sh', str(code)],
                   environment={'PSIJ_BENCH_INDEX': str(i)})
    if hold and name in HOLD:
        spec.attributes.custom_attributes = dict(HOLD[name])
    if hold and name == 'flux':
        spec.attributes.custom_attributes = {'flux.urgency': 0}
    return spec


def _cancel_all(jobs: List[Job]) -> None:
    for j in jobs:
        try:
            j.cancel()
        except Exception as ex:  # keep cleaning up
            print('cancel of %s failed: %s' % (j.native_id, ex))
    for j in jobs:
        j.wait(timeout=300)


def _submit_round(name: str, n: int, work: Path, many: bool) -> Tuple[float, int]:
    bindir = _bindir(name, work, [SUBMIT[name][0]] if name in SUBMIT else [])
    ex = _executor(name, work / ('w%d' % time.monotonic_ns()), bindir)
    jobs = [Job(_spec(name, i, 0, True)) for i in range(n)]
    t = time.perf_counter()
    if many:
        refused = ex.submit_many(jobs)
        assert not refused, refused[0].status
    else:
        for j in jobs:
            ex.submit(j)
    dt = time.perf_counter() - t
    calls = _calls(bindir, SUBMIT[name][0]) if name in SUBMIT else -1
    if many:
        _ATTACH.append(_attach_round(name, jobs, ex, work))
    _cancel_all(jobs)
    return dt, calls


_ATTACH: List[Tuple[float, int, float, int]] = []


def _attach_round(name: str, jobs: List[Job], submitter: JobExecutor,
                  work: Path) -> Tuple[float, int, float, int]:
    """Attaches `jobs` (held) from two new executor instances, with attach_many and with a
    loop of attach: times and status commands run by each during the attach."""
    wd = getattr(submitter, 'work_directory', work)
    out: List[float] = []
    for many in (True, False):
        status = [STATUS[name]] if name in STATUS else []
        bindir = _bindir(name, work, status)
        # the engine's own polls of the attached jobs come after the attach (first_poll)
        ex = _executor(name, wd, bindir, first_poll=600)
        pairs = [(Job(), j.native_id or '') for j in jobs]
        t = time.perf_counter()
        if many:
            refused = ex.attach_many(pairs)
            assert not refused, refused[0]
        else:
            for job, nid in pairs:
                ex.attach(job, nid)
        out.append(time.perf_counter() - t)
        out.append(_calls(bindir, status[0]) if status else -1)
        wrong = [job for job, _ in pairs if job.status.state is not JobState.QUEUED]
        assert not wrong, 'attached held job %s is %s' % (wrong[0].native_id, wrong[0].status)
    return out[0], int(out[1]), out[2], int(out[3])


def _run_round(name: str, n: int, work: Path) -> Dict[str, Any]:
    real_dir = os.environ.get('PSIJ_%s_COMMAND_DIR' % name.upper()) or DEFAULT_DIRS.get(name)
    ex = _executor(name, work / 'run', Path(real_dir) if real_dir else None)
    codes = [i % 4 for i in range(n)]
    jobs = [Job(_spec(name, i, c, False)) for i, c in enumerate(codes)]
    threads0 = threading.active_count()
    t = time.perf_counter()
    refused = ex.submit_many(jobs)
    submit = time.perf_counter() - t
    peak = threading.active_count()
    wrong = 0
    for j, c in zip(jobs, codes, strict=True):
        st = j.wait(timeout=3600)
        peak = max(peak, threading.active_count())
        want = JobState.COMPLETED if c == 0 else JobState.FAILED
        if st is None or st.state is not want or st.exit_code != c:
            wrong += 1
            if wrong <= 5:
                print('  wrong: %s %s (expected %s, %d)' % (j.native_id, st, want, c))
    return {'refused': len(refused), 'submit_s': submit, 'all_ended_s': time.perf_counter() - t,
            'wrong': wrong, 'threads_before': threads0, 'threads_peak': peak}


def _print_comparison(a: argparse.Namespace, many: List[float], single: List[float],
                      many_calls: int, single_calls: int) -> None:
    m, s = statistics.median(many), statistics.median(single)
    print('%s, %d held jobs: submit_many median %.3f s (%s submit commands), one submit per '
          'job median %.3f s (%s submit commands); ratio %.1fx' % (
              a.executor, a.jobs, m, many_calls, s, single_calls, s / m))


def _print_attach() -> None:
    if not _ATTACH:
        return
    m = statistics.median(a[0] for a in _ATTACH)
    s = statistics.median(a[2] for a in _ATTACH)
    print('attach of the held jobs from a new executor: attach_many median %.3f s (%d status '
          'commands), one attach per job median %.3f s (%d status commands); ratio %.1fx'
          % (m, _ATTACH[-1][1], s, _ATTACH[-1][3], s / m))


def _run_and_print(a: argparse.Namespace, work: Path) -> None:
    res = _run_round(a.executor, a.run_jobs or a.jobs, work)
    print('%s, %d running jobs through submit_many: submitted in %.3f s, all ended after '
          '%.1f s, %d refused, %d with a wrong state or exit code, threads %d before, '
          '%d at most' % (a.executor, a.run_jobs or a.jobs, res['submit_s'],
                          res['all_ended_s'], res['refused'], res['wrong'],
                          res['threads_before'], res['threads_peak']))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--executor', default='slurm')
    p.add_argument('--jobs', type=int, default=1000)
    p.add_argument('--repeat', type=int, default=3,
                   help='rounds of the comparison (0: only the run of real jobs)')
    p.add_argument('--run-jobs', type=int, default=0,
                   help='jobs in the run of real jobs (default: --jobs)')
    p.add_argument('--no-run', action='store_true', help='skip the run of real jobs')
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='psij-bench-bulk-', dir=os.path.expanduser('~')))
    many: List[float] = []
    single: List[float] = []
    many_calls = single_calls = 0
    for r in range(a.repeat):
        dt, many_calls = _submit_round(a.executor, a.jobs, work, True)
        many.append(dt)
        dt, single_calls = _submit_round(a.executor, a.jobs, work, False)
        single.append(dt)
        print('round %d: submit_many %.3f s, %d x submit %.3f s' % (r + 1, many[-1], a.jobs,
                                                                  single[-1]))
    if a.repeat > 0:
        _print_comparison(a, many, single, many_calls, single_calls)
        _print_attach()
    if not a.no_run:
        _run_and_print(a, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
