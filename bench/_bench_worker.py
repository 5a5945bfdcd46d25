"""One benchmark round against whatever ``psij`` the running interpreter imports.

Run by ``bench_local.py`` in both our venv and psij-python's; prints one JSON object. It uses
only the public PSI/J API and the standard library, so the same code measures both
implementations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Set

import _bench_common as common


def _tasks() -> List[int]:
    return [int(t) for t in os.listdir('/proc/self/task')]


def _switches(exclude: Set[int]) -> int:
    """Voluntary + involuntary context switches of all our threads but `exclude`: each one is
    a wake-up (or preemption) of a thread."""
    total = 0
    for tid in _tasks():
        if tid in exclude:
            continue
        try:
            with open('/proc/self/task/%d/status' % tid) as f:
                for line in f:
                    if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _helper_rss_mb() -> Optional[float]:
    """Peak RSS of the executor's helper processes, if it has any."""
    peaks = [common.status_kb('VmHWM', pid) for pid in common.keeper_pids()]
    found = [kb for kb in peaks if kb is not None]
    return sum(found) / 1024 if found else None


def _alive(pid: int) -> bool:
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except (FileNotFoundError, ProcessLookupError):
        return False


class Finals:
    """Counts final states reported through the executor callback."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.target = -1
        self.done = threading.Event()
        self.times: Dict[str, int] = {}

    def expect(self, n: int) -> None:
        with self.lock:
            self.count = 0
            self.target = n
            self.done.clear()
            self.times = {}

    def __call__(self, job: Any, st: Any) -> None:
        if not st.state.final:
            return
        now = time.time_ns()
        with self.lock:
            self.times[job.id] = now
            self.count += 1
            if self.count == self.target:
                self.done.set()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--jobs', type=int, default=1000)
    ap.add_argument('--latency-jobs', type=int, default=200)
    ap.add_argument('--cancel-jobs', type=int, default=50)
    ap.add_argument('--idle-seconds', type=float, default=2.0)
    ap.add_argument('--raw', action='store_true', help='measure only the bare posix_spawn loop')
    a = ap.parse_args()
    if a.raw:
        print(json.dumps(raw_spawn(a.jobs)))
        return

    import psij

    ex = psij.JobExecutor.get_instance('local')
    finals = Finals()
    ex.set_job_status_callback(finals)
    res: Dict[str, Any] = {'impl': 'psij %s' % getattr(psij, '__version__', '?')}
    main_tid = threading.get_native_id()

    # Warm up: first-use costs (thread start, imports) are not what we measure.
    finals.expect(5)
    for _ in range(5):
        ex.submit(psij.Job(psij.JobSpec('/bin/true')))
    finals.done.wait(60)

    # Idle wake-ups with no job at all.
    s0 = _switches({main_tid})
    time.sleep(a.idle_seconds)
    res['idle_wakeups_per_s'] = (_switches({main_tid}) - s0) / a.idle_seconds

    # Throughput: N jobs submitted at once, awaited through the executor callback.
    n = a.jobs
    jobs = [psij.Job(psij.JobSpec('/bin/true')) for _ in range(n)]
    finals.expect(n)
    t0 = time.perf_counter()
    for j in jobs:
        ex.submit(j)
    t1 = time.perf_counter()
    ok = finals.done.wait(600)
    t2 = time.perf_counter()
    res['jobs_per_s'] = n / (t2 - t0) if ok else 0.0
    res['submit_per_s'] = n / (t1 - t0)
    res['threads_after_throughput'] = len(_tasks())
    res['rss_mb'] = (common.status_kb('VmHWM') or 0) / 1024
    res['helper_rss_mb'] = _helper_rss_mb()

    # Exit -> callback latency: the job's last act is writing a timestamp.
    tmp = tempfile.mkdtemp(prefix='psij-bench-')
    lat: List[float] = []
    for i in range(a.latency_jobs):
        out = os.path.join(tmp, 'ts%d' % i)
        job = psij.Job(psij.JobSpec('/bin/date', ['+%s%N'], stdout_path=out))
        finals.expect(1)
        ex.submit(job)
        finals.done.wait(60)
        with open(out) as f:
            ts = int(f.read().strip())
        lat.append((finals.times[job.id] - ts) / 1e6)
        os.unlink(out)
    os.rmdir(tmp)
    lat.sort()
    res['latency_p50_ms'] = statistics.median(lat)
    res['latency_p95_ms'] = lat[int(0.95 * (len(lat) - 1))]

    # Wake-ups while jobs run (10 sleeping jobs), threads with many jobs in flight.
    sleepers = [psij.Job(psij.JobSpec('/bin/sleep', ['1000'])) for _ in range(10)]
    for j in sleepers:
        ex.submit(j)
    for j in sleepers:
        j.wait(target_states=psij.JobState.ACTIVE)
    s0 = _switches({main_tid})
    time.sleep(a.idle_seconds)
    res['busy_wakeups_per_s'] = (_switches({main_tid}) - s0) / a.idle_seconds

    # Cancel: time until every process of the jobs is gone, and until all callbacks ran.
    more = [psij.Job(psij.JobSpec('/bin/sleep', ['1000'])) for _ in range(a.cancel_jobs - 10)]
    for j in more:
        ex.submit(j)
    cancel = sleepers + more
    for j in cancel:
        j.wait(target_states=psij.JobState.ACTIVE)
    time.sleep(0.2)  # let wrapper scripts (if any) start their children
    res['threads_with_%d_jobs' % len(cancel)] = len(_tasks())
    pids = common.descendants(os.getpid()) - common.keeper_pids()
    finals.expect(len(cancel))
    t0 = time.perf_counter()
    for j in cancel:
        j.cancel()
    t_cb = None
    gone = None
    deadline = t0 + 5.0
    while time.perf_counter() < deadline:
        if t_cb is None and finals.done.is_set():
            t_cb = time.perf_counter()
        if gone is None and not any(_alive(p) for p in pids):
            gone = time.perf_counter()
        if t_cb is not None and gone is not None:
            break
        time.sleep(0.0002)  # let the executor's threads have the GIL
    left = [p for p in pids if _alive(p)]
    res['cancel_gone_ms'] = None if gone is None else (gone - t0) * 1000
    res['cancel_callbacks_ms'] = None if t_cb is None else (t_cb - t0) * 1000
    res['cancel_left_after_5s'] = len(left)
    states = [j.status.state.name for j in cancel]
    res['cancel_states'] = sorted(set(states))
    for p in left:
        try:
            os.kill(p, 9)
        except OSError:
            pass
    print(json.dumps(res))
    os._exit(0)  # do not wait for executors' non-daemon threads, if any


def raw_spawn(n: int) -> Dict[str, Any]:
    """The raw limit: a bare ``os.posix_spawn`` loop of /bin/true, then reaping them all."""
    null = os.open(os.devnull, os.O_RDWR)
    fa = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
          (os.POSIX_SPAWN_DUP2, null, 2)]
    env = dict(os.environ)
    t0 = time.perf_counter()
    pids = [os.posix_spawn('/bin/true', ['/bin/true'], env, file_actions=fa, setsid=True)
            for _ in range(n)]
    for p in pids:
        os.waitpid(p, 0)
    return {'raw_jobs_per_s': n / (time.perf_counter() - t0)}


if __name__ == '__main__':
    main()
