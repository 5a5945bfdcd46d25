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
from typing import Any, Dict, List, Tuple

SIM_BIN = Path(__file__).resolve().parent.parent / 'packages' / 'psij-lsf' / 'tests' / \
    'lsf_sim' / 'bin'
WRAPPED = ('bsub', 'bjobs', 'bkill')
REAL: Dict[str, str] = {name: str(SIM_BIN / name) for name in WRAPPED}
"""The simulator's commands behind the wrappers (for the benchmark's own calls, not counted)."""


def _wrap_commands(bindir: Path, log: Path) -> None:
    """Puts counting wrappers of the LSF commands first on PATH, the simulator behind them."""
    bindir.mkdir(parents=True, exist_ok=True)
    for name in WRAPPED:
        w = bindir / name
        w.write_text('#!/bin/sh\nprintf "%%s %%s\\n" %s "$*" >>%s\nexec %s "$@"\n'
                     % (name, log, REAL[name]))
        w.chmod(0o755)
    os.environ['PATH'] = '%s:%s:%s' % (bindir, SIM_BIN, os.environ['PATH'])


def _calls(log: Path) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {n: [] for n in WRAPPED}
    if log.exists():
        for line in log.read_text().splitlines():
            name, _, args = line.partition(' ')
            out.setdefault(name, []).append(args)
    return out


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


def bare_script(tmp: Path) -> Path:
    """The script psij writes for the benchmark's jobs, for the bare ``bsub`` loop."""
    import io

    from psij import Job, JobExecutor, JobSpec
    from psij_lsf.executor import LsfExecutorConfig

    work = Path(tempfile.mkdtemp(prefix='bare-', dir=tmp))
    ex = JobExecutor.get_instance('lsf', config=LsfExecutorConfig(work_directory=work))
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
            self.max = max(self.max, threading.active_count() - 1)  # not the sampler
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

    Each ``submit`` alternates with one bare ``bsub < script`` so that both see the same
    cluster. Held jobs (``lsf.H`` / ``-H``) are killed with one ``bkill`` per 200 ids after
    the loop.
    """
    from psij import Job, JobAttributes, JobExecutor, JobSpec, JobStatus
    from psij_lsf.executor import LsfExecutorConfig

    work = tmp / 'work'
    stamps = Path(tempfile.mkdtemp(prefix='stamps-', dir=tmp))
    bare = bare_script(tmp)
    bare_cmd = ['bsub'] + (['-H'] if hold else [])
    cfg = LsfExecutorConfig(work_directory=work)  # default intervals
    executors = [JobExecutor.get_instance('lsf', config=cfg) for _ in range(n_executors)]
    ends: Dict[str, float] = {}
    lock = threading.Lock()

    def cb(job: Job, st: JobStatus) -> None:
        if st.state.final:
            with lock:
                ends[job.id] = time.time()

    jobs: List[Tuple[Job, int]] = []
    for i in range(n):
        code = 1 if fail_every and i % fail_every == fail_every - 1 else 0
        script = 'date +%%s.%%N >%s; exit %d' % (stamps / str(i), code)
        attrs = JobAttributes(custom_attributes={'lsf.H': True} if hold else None)
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
            with open(bare) as f:
                p = subprocess.run(bare_cmd, stdin=f, capture_output=True, text=True,
                                   check=True)
            bare_time += time.perf_counter() - t1
            psij_time += t1 - t0
            bare_ids.append(p.stdout.split('<')[1].split('>')[0])
        if hold:
            ids = [job.native_id or '' for job, _ in jobs] + bare_ids
            for i in range(0, len(ids), 200):
                subprocess.run([REAL['bkill']] + ids[i:i + 200], capture_output=True,
                               check=False)
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
    calls = _calls(log)
    log.unlink(missing_ok=True)

    status = [a for a in calls['bjobs'] if _bjobs_is_status(a)]
    ids_per_call = [_ids_in_bjobs(a) for a in status]
    d0 = sorted(big['delays'][0])
    d1 = sorted(big['delays'][1])

    def med(v: List[float]) -> str:
        return '%.2f s' % statistics.median(v) if v else 'n/a'

    def pct(v: List[float], q: float) -> str:
        return '%.2f s' % v[min(len(v) - 1, int(q * len(v)))] if v else 'n/a'

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
        args.json.write_text(json.dumps({'rows': rows, 'bjobs_calls': calls['bjobs']},
                                        indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
