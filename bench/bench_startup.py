"""Start-up and construction figures, psij vs psij-python, measured side by side.

1. A fresh process running ``import psij; psij.JobExecutor.get_executor_names()``, minus a
   bare interpreter start-up (``python -c pass``), median of alternating runs; for psij with
   a warm discovery cache and with a cold one (a new empty cache directory every run, as
   after an install).
2. Constructing ``Job(JobSpec(executable='/bin/true'))``, median of several timeit batches.

Usage: python bench/bench_startup.py --reference /path/to/psij-python-venv/bin/python
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORT_CODE = 'import psij; psij.JobExecutor.get_executor_names()'
CONSTRUCT_CODE = '''
import timeit, statistics
from psij import Job, JobSpec
n = 20000
runs = [timeit.timeit("Job(JobSpec(executable='/bin/true'))", globals=globals(), number=n) / n
        for _ in range(7)]
print(statistics.median(runs) * 1e6)
'''


def spawn_time(python: str, code: str, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run([python, '-c', code], check=True, env=env)
    return time.perf_counter() - t0


def cold_env() -> dict[str, str]:
    """An environment whose discovery cache directory is new and empty."""
    import os
    import tempfile
    return dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix='psij-cold-'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--reference', help="psij-python's interpreter (a venv with psij-python)")
    ap.add_argument('--rounds', type=int, default=21)
    args = ap.parse_args()
    impls = {'psij': sys.executable}
    if args.reference:
        impls['psij-python'] = args.reference
    bare: dict[str, list[float]] = {k: [] for k in impls}
    full: dict[str, list[float]] = {k: [] for k in impls}
    cold: list[float] = []
    for py in impls.values():  # warm the page cache
        spawn_time(py, IMPORT_CODE)
    for _ in range(args.rounds):
        for k, py in impls.items():
            bare[k].append(spawn_time(py, 'pass'))
            full[k].append(spawn_time(py, IMPORT_CODE))
        cold.append(spawn_time(sys.executable, IMPORT_CODE, cold_env()))
    construct = {}
    for k, py in impls.items():
        out = subprocess.run([py, '-c', CONSTRUCT_CODE], check=True, capture_output=True,
                             text=True).stdout
        construct[k] = float(out.strip())
    print('| figure | ' + ' | '.join(impls) + ' | target |')
    print('|---|' + '---|' * (len(impls) + 1))
    print('| bare interpreter start-up (ms, median) | ' + ' | '.join(
        '%.1f' % (statistics.median(bare[k]) * 1e3) for k in impls) + ' | |')
    print('| import psij + get_executor_names (ms, median) | ' + ' | '.join(
        '%.1f' % (statistics.median(full[k]) * 1e3) for k in impls) + ' | |')
    print('| **above bare start-up (ms)** | ' + ' | '.join(
        '%.1f' % ((statistics.median(full[k]) - statistics.median(bare[k])) * 1e3)
        for k in impls) + ' | <= 15 (warm cache) |')
    print('| psij, cold discovery cache: above bare start-up (ms) | %.1f | %s<= 60 |' % (
        (statistics.median(cold) - statistics.median(bare['psij'])) * 1e3,
        '- | ' * (len(impls) - 1)))
    print('| **Job(JobSpec(executable=...)) (us)** | ' + ' | '.join(
        '%.2f' % construct[k] for k in impls) + ' | <= 10 |')
    print('\n%d alternating rounds; executors found: psij %s' % (
        args.rounds, subprocess.run([sys.executable, '-c', 'import psij; print(sorted('
                                     'psij.JobExecutor.get_executor_names()))'],
                                    capture_output=True, text=True).stdout.strip()))


if __name__ == '__main__':
    main()
