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
from typing import Any, Dict, List, Tuple

WRAPPED = ('squeue', 'sacct', 'sbatch', 'scancel')
REAL: Dict[str, str] = {}
"""The real commands behind the wrappers (for the benchmark's own calls, not counted)."""


def _wrap_commands(bindir: Path, log: Path) -> None:
    """Puts counting wrappers of the Slurm commands first on PATH."""
    bindir.mkdir(parents=True, exist_ok=True)
    for name in WRAPPED:
        real = shutil.which(name)
        if real is None:
            sys.exit('%s not found: is Slurm installed?' % name)
        REAL[name] = real
        w = bindir / name
        w.write_text('#!/bin/sh\nprintf "%%s %%s\\n" %s "$*" >>%s\nexec %s "$@"\n'
                     % (name, log, real))
        w.chmod(0o755)
    os.environ['PATH'] = '%s:%s' % (bindir, os.environ['PATH'])


def _calls(log: Path) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {n: [] for n in WRAPPED}
    if log.exists():
        for line in log.read_text().splitlines():
            name, _, args = line.partition(' ')
            out.setdefault(name, []).append(args)
    return out


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


def bare_script(tmp: Path) -> Path:
    """The script psij writes for the benchmark's jobs, for the bare ``sbatch`` loop."""
    import io

    from psij import Job, JobExecutor, JobSpec
    from psij_slurm.executor import SlurmExecutorConfig

    work = Path(tempfile.mkdtemp(prefix='bare-', dir=tmp))
    ex = JobExecutor.get_instance('slurm', config=SlurmExecutorConfig(work_directory=work))
    job = Job(JobSpec('/bin/sh', ['-c', 'date +%s.%N >/dev/null; exit 0'],
                      stdout_path=Path('/dev/null')))
    ex._check_job(job)
    buf = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job),  # type: ignore[attr-defined]
                              buf)
    script = work / 'bare.sh'
    script.write_text(buf.getvalue())
    return script


class _ThreadSampler:
    def __init__(self) -> None:
        self.max = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.max = max(self.max, threading.active_count() - 1)  # not counting the sampler
            time.sleep(0.05)

    def __enter__(self) -> _ThreadSampler:
        self._t.start()
        return self

    def __exit__(self, *a: object) -> None:
        self._stop.set()
        self._t.join()


def run_jobs(n: int, n_executors: int, tmp: Path, fail_every: int = 10,
             hold: bool = False) -> Dict[str, Any]:
    """
    Submits `n` jobs through `n_executors` executors (default settings) and waits for all.

    Each ``submit`` alternates with one bare ``sbatch`` of the same script, so that both see
    the same cluster (slurmctld slows down as job records pile up, and running jobs share the
    CPUs with the submitting process here). Held jobs (``slurm.hold`` / ``--hold``) are
    canceled with one ``scancel`` after the loop.
    """
    from psij import Job, JobAttributes, JobExecutor, JobSpec, JobStatus
    from psij_slurm.executor import SlurmExecutorConfig

    work = tmp / 'work'
    stamps = Path(tempfile.mkdtemp(prefix='stamps-', dir=tmp))
    bare = bare_script(tmp)
    bare_cmd = ['sbatch', '--parsable'] + (['--hold'] if hold else []) + [str(bare)]
    cfg = SlurmExecutorConfig(work_directory=work)  # default intervals
    executors = [JobExecutor.get_instance('slurm', config=cfg) for _ in range(n_executors)]
    ends: Dict[str, float] = {}
    lock = threading.Lock()

    def cb(job: Job, st: JobStatus) -> None:
        if st.state.final:
            with lock:
                ends[job.id] = time.time()

    jobs: List[Tuple[Job, int]] = []
    for i in range(n):
        code = 1 if fail_every and i % fail_every == fail_every - 1 else 0
        stamp = stamps / str(i)
        # the job's last act: record when it ended
        script = 'date +%%s.%%N >%s; exit %d' % (stamp, code)
        attrs = JobAttributes(custom_attributes={'slurm.hold': True} if hold else None)
        job = Job(JobSpec('/bin/sh', ['-c', script], stdout_path=Path('/dev/null'),
                          attributes=attrs))
        job.set_job_status_callback(cb)
        jobs.append((job, code))
    bare_ids: List[str] = []
    psij_time = bare_time = 0.0
    with _ThreadSampler() as threads:
        for i, (job, _) in enumerate(jobs):
            t0 = time.perf_counter()
            executors[i % n_executors].submit(job)
            t1 = time.perf_counter()
            p = subprocess.run(bare_cmd, capture_output=True, text=True, check=True)
            bare_time += time.perf_counter() - t1
            psij_time += t1 - t0
            bare_ids.append(p.stdout.strip().split(';')[0])
        if hold:
            ids = [job.native_id or '' for job, _ in jobs] + bare_ids
            for i in range(0, len(ids), 200):
                subprocess.run(['scancel'] + ids[i:i + 200], check=False)
            executors[0]._engine.request_poll(0)  # type: ignore[attr-defined]
        for job, _ in jobs:
            job.wait()
    _drain(bare_ids)
    delays: Dict[int, List[float]] = {0: [], 1: []}
    wrong = 0
    for i, (job, code) in enumerate(jobs):
        if not hold and job.status.exit_code != code:
            wrong += 1
        try:
            end = float((stamps / str(i)).read_text())
        except (OSError, ValueError):
            continue
        delays[code].append(ends[job.id] - end)
    return {'submit_rate': n / psij_time, 'bare_rate': n / bare_time, 'delays': delays,
            'threads': threads.max, 'wrong': wrong}


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
    calls = _calls(log)
    log.unlink(missing_ok=True)
    bare = big['bare_rate']

    squeue = calls['squeue']
    sacct = calls['sacct']
    ids_per_call = [_ids_in_squeue(a) for a in squeue]
    d0 = sorted(big['delays'][0])
    d1 = sorted(big['delays'][1])

    def med(v: List[float]) -> str:
        return '%.2f s' % statistics.median(v) if v else 'n/a'

    def pct(v: List[float], q: float) -> str:
        return '%.2f s' % v[min(len(v) - 1, int(q * len(v)))] if v else 'n/a'

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
        ('end -> callback, exit 0: median (p90)', '%s (%s)' % (med(d0), pct(d0, 0.9)),
         '<= 1 s'),
        ('end -> callback, exit 1: median (p90)', '%s (%s)' % (med(d1), pct(d1, 0.9)), ''),
        ('wrong exit codes', str(big['wrong'] + small['wrong']), '0'),
        ('threads before any job', str(base_threads), ''),
        ('threads, %d jobs / 1 executor' % args.small, str(small['threads']), ''),
        ('threads, %d jobs / %d executors' % (args.jobs, args.executors), str(big['threads']),
         'same'),
    ]
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print('| %-*s | %-*s | target |' % (w, 'measure', v, 'value'))
    print('|%s|%s|--------|' % ('-' * (w + 2), '-' * (v + 2)))
    for name, value, target in rows:
        print('| %-*s | %-*s | %s |' % (w, name, v, value, target))
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'squeue_calls': squeue,
                                         'sacct_calls': sacct}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
