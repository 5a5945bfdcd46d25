"""Benchmark of the asyncio API against the sync API, on the local executor.

N jobs (default 10,000 ``/bin/true``) are run three ways, alternated ``--repeat`` times:

- sync: ``submit`` of every job, then ``wait`` of each in turn (one thread);
- sync with a thread per waiting job (what psij-python users do to wait concurrently), in
  a pool of ``--threads`` (default 64) threads;
- asyncio: from one event loop, a task per job doing ``await executor.submit_async(job)`` then
  ``await job.wait_async()``.

Prints jobs per second (median of the rounds), the ratio async/sync, and the most threads
the process had during each way.

Usage: ``python bench/bench_async.py [--jobs 10000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List

from _bench_common import ThreadPeak
from psij import Job, JobExecutor, JobSpec


def _jobs(n: int) -> List[Job]:
    return [Job(JobSpec('/bin/true')) for _ in range(n)]


def run_sync(ex: JobExecutor, n: int, threads: int) -> float:
    jobs = _jobs(n)
    t = time.perf_counter()
    for j in jobs:
        ex.submit(j)
    for j in jobs:
        j.wait()
    return time.perf_counter() - t


def run_threads(ex: JobExecutor, n: int, threads: int) -> float:
    jobs = _jobs(n)
    t = time.perf_counter()

    def one(j: Job) -> None:
        ex.submit(j)
        j.wait()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, jobs))
    return time.perf_counter() - t


def run_async(ex: JobExecutor, n: int, threads: int) -> float:
    jobs = _jobs(n)

    async def one(j: Job) -> None:
        await ex.submit_async(j)
        await j.wait_async()

    async def main() -> None:
        await asyncio.gather(*(one(j) for j in jobs))

    t = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--jobs', type=int, default=10000)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--threads', type=int, default=64)
    a = p.parse_args()
    ex = JobExecutor.get_instance('local')
    ways: Dict[str, Callable[[JobExecutor, int, int], float]] = {
        'sync (submit, then wait each)': run_sync,
        'sync, %d waiting threads' % a.threads: run_threads,
        'asyncio (submit_async, wait_async)': run_async}
    times: Dict[str, List[float]] = {k: [] for k in ways}
    peaks: Dict[str, int] = {k: 0 for k in ways}
    run_sync(ex, 200, a.threads)  # warm-up: the executor's threads exist from here on
    base = threading.active_count()
    for _ in range(a.repeat):
        for name, fn in ways.items():
            with ThreadPeak(interval=0.02, count_sampler=True) as pk:
                times[name].append(fn(ex, a.jobs, a.threads))
            peaks[name] = max(peaks[name], pk.peak)
    print('%d local jobs (/bin/true), %d rounds; threads before: %d' % (a.jobs, a.repeat, base))
    rates = {}
    for name in ways:
        med = statistics.median(times[name])
        rates[name] = a.jobs / med
        print('  %-40s %8.0f jobs/s (median %.2f s)   threads at most %d' % (
            name, rates[name], med, peaks[name]))
    names = list(ways)
    print('  asyncio / sync: %.2fx; asyncio / threads: %.2fx' % (
        rates[names[2]] / rates[names[0]], rates[names[2]] / rates[names[1]]))


if __name__ == '__main__':
    main()
