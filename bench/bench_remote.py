"""Benchmark of psij-remote: the far end's executors through one ssh connection, side by side
with the same executors called here, in one run.

Measures (medians of ``--repeat`` alternated rounds):

- local throughput: ``--jobs`` ``/bin/true`` jobs submitted one by one and all waited for,
  through ``get_instance('local')`` and through ``get_instance('local', url=URL)``; also the
  rate of the ``submit`` loop alone;
- what the hop adds to end -> final callback: ``--latency-jobs`` jobs that stamp their end
  time, one at a time, through both; the difference of the medians;
- ``submit_many`` of ``--bulk`` jobs to Slurm (when a Slurm controller answers): the seconds
  of the call on this host and over ssh;
- ssh processes and the client's threads while the remote jobs run.

The far end is the same machine (loopback): the URL's user must be able to write the stamp
directory (made world-writable here). Usage::

    python bench/bench_remote.py [--url ssh://psijremote@127.0.0.1:2222/~/venv]
        [--jobs 1000] [--latency-jobs 100] [--bulk 1000] [--repeat 3]

``PSIJ_SSH_CONFIG`` is set to ci/ssh's client configuration when it exists and is unset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from _bench_common import FinalTimes, ThreadPeak, print_measure_table, stamped_delays
from psij import Job, JobExecutor, JobSpec

CI_URL = 'ssh://psijremote@127.0.0.1:2222/~/venv'


def throughput(ex: JobExecutor, n: int) -> Tuple[float, float]:
    """(jobs/s of the submit loop, jobs/s submitted and all ended)."""
    jobs = [Job(JobSpec('/bin/true')) for _ in range(n)]
    t0 = time.perf_counter()
    for j in jobs:
        ex.submit(j)
    t1 = time.perf_counter()
    for j in jobs:
        j.wait()
    t2 = time.perf_counter()
    return n / (t1 - t0), n / (t2 - t0)


def latency(ex: JobExecutor, n: int, stamps: Path) -> List[float]:
    """End -> final callback delays (s) of `n` jobs run one at a time."""
    cb = FinalTimes()
    jobs = []
    for i in range(n):
        job = Job(JobSpec('/bin/sh', ['-c', 'sleep 0.02; date +%%s.%%N > %s' % (stamps / str(i))]))
        job.set_job_status_callback(cb)
        ex.submit(job)
        job.wait()
        jobs.append(job)
    return stamped_delays(jobs, stamps, cb.ends)


def ssh_processes() -> int:
    out = subprocess.run(['ps', '-o', 'comm=', '--ppid', str(os.getpid())],
                         capture_output=True, text=True).stdout
    return out.split().count('ssh')


def slurm_up() -> bool:
    if not shutil.which('scontrol'):
        return False
    return 'is UP' in subprocess.run(['scontrol', 'ping'], capture_output=True,
                                     text=True).stdout


def bulk(ex: JobExecutor, n: int) -> float:
    jobs = [Job(JobSpec('/bin/true')) for _ in range(n)]
    t0 = time.perf_counter()
    refused = ex.submit_many(jobs)
    dt = time.perf_counter() - t0
    assert not refused, refused[:3]
    for j in jobs:
        j.wait()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--url', default=CI_URL)
    ap.add_argument('--jobs', type=int, default=1000)
    ap.add_argument('--latency-jobs', type=int, default=100)
    ap.add_argument('--bulk', type=int, default=1000)
    ap.add_argument('--repeat', type=int, default=3)
    args = ap.parse_args()
    if not os.environ.get('PSIJ_SSH_CONFIG') and Path('/etc/psij-sshd/ssh_config').exists():
        os.environ['PSIJ_SSH_CONFIG'] = '/etc/psij-sshd/ssh_config'
    here = JobExecutor.get_instance('local')
    there = JobExecutor.get_instance('local', url=args.url)
    throughput(here, 50), throughput(there, 50)  # warm up both (keepers, connection)
    rates: Dict[str, List[Tuple[float, float]]] = {'here': [], 'there': []}
    with ThreadPeak() as peak:
        for _ in range(args.repeat):
            rates['here'].append(throughput(here, args.jobs))
            rates['there'].append(throughput(there, args.jobs))
            ssh = ssh_processes()
    stamps = Path(tempfile.mkdtemp(prefix='psij-bench-remote-'))
    stamps.chmod(0o777)
    try:
        lat_here = latency(here, args.latency_jobs, stamps)
        for f in stamps.iterdir():
            f.unlink()
        lat_there = latency(there, args.latency_jobs, stamps)
    finally:
        shutil.rmtree(stamps, ignore_errors=True)
    rows: List[Tuple[str, str, str]] = []

    def med(key: str, i: int) -> float:
        return statistics.median(r[i] for r in rates[key])
    rows.append(('local submit loop, here / over ssh (jobs/s)',
                 '%.0f / %.0f' % (med('here', 0), med('there', 0)), ''))
    rows.append(('local submitted and ended, here / over ssh (jobs/s)',
                 '%.0f / %.0f = %.2f' % (med('here', 1), med('there', 1),
                                         med('there', 1) / med('here', 1)), '>= 0.5'))
    mh, mt = statistics.median(lat_here) * 1e3, statistics.median(lat_there) * 1e3
    rows.append(('end -> final callback p50, here / over ssh (ms)',
                 '%.2f / %.2f (hop adds %.2f)' % (mh, mt, mt - mh), 'hop <= 20 ms'))
    rows.append(('ssh processes / client threads at most', '%d / %d' % (ssh, peak.peak),
                 '1 / constant'))
    if slurm_up() and args.bulk:
        s_here = JobExecutor.get_instance('slurm')
        s_there = JobExecutor.get_instance('slurm', url=args.url)
        b_here = bulk(s_here, args.bulk)
        b_there = bulk(s_there, args.bulk)
        rows.append(('slurm submit_many(%d), here / over ssh (s)' % args.bulk,
                     '%.2f / %.2f = %.2fx' % (b_here, b_there, b_there / b_here), '<= 2x'))
        rows.append(('ssh processes after a second executor', str(ssh_processes()), '1'))
    print_measure_table(rows)




if __name__ == '__main__':
    main()
