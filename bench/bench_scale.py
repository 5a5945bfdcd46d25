"""Benchmark: how the client's cost grows with the number of jobs it follows (issue 24, item 5).

For each size N (default 1,000 / 10,000 / 50,000 jobs tracked at once), on ``local`` and on
``slurm``, each size in a fresh process (``--worker``), run ``--rounds`` times (medians shown):

- **memory per tracked job**: growth of the client's RSS from before the N `Job` objects are
  made until all N are submitted and followed, / N (the `Job` and `JobSpec` objects a program
  holds included); the part that submitting and following adds (after the jobs were made);
  and, on local, the growth of the keeper's RSS / N (the keeper is the helper process that
  starts local jobs and watches them: not the client, but memory the client's jobs cost);
- **CPU per polling cycle**: on Slurm, the client process's CPU time over ``--cycles`` status
  cycles / cycles, and the part of it spent in the status engine's two threads (they run in
  the client process: ``psij-slurm-status`` looks at the files jobs write every
  ``file_check_interval``, ``psij-slurm-poll`` runs the status commands and reads their
  answers). Local has no polling cycle (job ends come from the keeper as events): its row is
  the client's and the keeper's CPU per second while the N jobs run;
- **status commands per cycle**: ``squeue`` processes started per engine poll, counted by
  logging wrappers of the Slurm commands put in ``PSIJ_SLURM_COMMAND_DIR``; the expected number
  is ceil(N / ``ids_per_status_command``) (default 2,000); local runs none;
- **end -> callback p50**: ``--samples`` of the N jobs wait on a gate (a FIFO on local, a file
  on Slurm, whose jobs may run on other hosts), then write ``date +%s.%N`` and exit; they are
  released one at a time while all N are followed, and the delay from that time stamp to the
  job's final-state callback is taken.

On local the other jobs are ``/bin/sleep`` processes (canceled at the end); a size that does
not fit the machine is lowered to the largest that does (each job is a process, and the
keeper holds a pidfd for each: ``kernel.pid_max``, ``ulimit -u`` and ``ulimit -n`` bound N;
half of the free process ids are left to other work), and the table says so. On Slurm the other
jobs are held (``--hold``) array elements submitted with ``submit_many`` (a pending array is one
record for slurmctld, so ``MaxJobCount`` is not reached), with ``queue_polling_interval``
``--poll-interval`` (default 5 s) so that cycles come often; they are canceled (``scancel``
of each array) at the end. The Slurm part is skipped, with the reason, when ``scontrol ping``
does not answer.

Usage::

    python bench/bench_scale.py [--executor local|slurm|all] [--sizes 1000,10000,50000]
        [--rounds 2] [--cycles 5] [--samples 20] [--dir SHARED_DIR] [--json FILE]

Needs psij-core (and psij-slurm for Slurm).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import _bench_common as common

SLURM_COMMANDS = ('squeue', 'sacct', 'sbatch', 'scancel', 'scontrol')
"""The Slurm commands the executor runs, wrapped so that each call is logged."""
PROCESS_SHARE = 0.5
"""The share of the free process ids (and of ``ulimit -u``) local jobs may take."""
FD_RESERVE = 256
"""Descriptors of the keeper's ``ulimit -n`` not given to jobs' pidfds."""


# -- what the worker measures ---------------------------------------------------------------------

def _client_cpu() -> float:
    """CPU time (user + system) of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_kb(pid: Optional[int] = None) -> int:
    gc.collect()
    return common.status_kb('VmRSS', pid) or 0


def _wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError('timed out after %.0f s waiting for %s' % (timeout, what))
        time.sleep(0.2)


def _release_one_by_one(jobs: List[Any], release: Callable[[int], None],
                        timeout: float) -> int:
    """Releases the gated `jobs` one at a time, each after the previous one's final state;
    returns how many did not end within `timeout` each."""
    late = 0
    for i, job in enumerate(jobs):
        release(i)
        if job.wait(timeout=timeout) is None:
            late += 1
        time.sleep(0.05)
    return late


def _delays_ms(jobs: List[Any], stamps: Path, finals: common.FinalTimes) -> List[float]:
    return [1000 * d for d in common.stamped_delays(jobs, stamps, finals.ends)]


def _sample_jobs(n: int, tmp: Path, finals: common.FinalTimes,
                 gate: Callable[[int], str]) -> Tuple[List[Any], Path]:
    stamps = tmp / 'stamps'
    stamps.mkdir()
    pairs = common.stamping_jobs(n, stamps, 0, None, finals, gate=gate)
    return [job for job, _ in pairs], stamps


def local_worker(n: int, samples: int, idle: float, tmp: Path) -> Dict[str, Any]:
    """N local jobs followed at once: `samples` gated stamping jobs, the others sleep."""
    from psij import Job, JobExecutor, JobSpec, JobState

    # the keeper's journal of N jobs goes with the run, not into the user's state directory
    os.environ['PSIJ_LOCAL_STATE_DIR'] = str(tmp / 'state')
    ex = JobExecutor.get_instance('local')
    warm = Job(JobSpec('/bin/true'))  # starts the keeper and loads the code paths
    ex.submit(warm)
    warm.wait()
    keepers = common.keeper_pids()
    keeper = min(keepers) if keepers else None
    rss0, krss0 = _rss_kb(), _rss_kb(keeper) if keeper else 0

    gates = tmp / 'gates'
    gates.mkdir()
    samples = min(samples, n)
    for i in range(samples):
        os.mkfifo(gates / str(i))
    finals = common.FinalTimes()
    sample, stamps = _sample_jobs(samples, tmp, finals,
                                  lambda i: 'read _ <%s' % shlex.quote(str(gates / str(i))))
    sleepers = [Job(JobSpec('/bin/sleep', ['100000'], stdout_path=Path('/dev/null')))
                for _ in range(n - samples)]
    rss_made = _rss_kb()
    t0 = time.monotonic()
    refused = ex.submit_many(sleepers + sample)
    submit_s = time.monotonic() - t0
    for job in sleepers + sample:
        job.wait(timeout=600, target_states=[JobState.ACTIVE])
    active = sum(1 for job in sleepers + sample if job.status.state is JobState.ACTIVE)
    rss1, krss1 = _rss_kb(), _rss_kb(keeper) if keeper else 0

    cpu0, kcpu0, t0 = _client_cpu(), common.cpu_seconds(keeper), time.monotonic()
    time.sleep(idle)
    cpu1, kcpu1, elapsed = _client_cpu(), common.cpu_seconds(keeper), time.monotonic() - t0
    keeper_cpu = None if kcpu0 is None or kcpu1 is None else (kcpu1 - kcpu0) / elapsed

    def release(i: int) -> None:
        fd = os.open(gates / str(i), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b'\n')
        finally:
            os.close(fd)

    late = _release_one_by_one(sample, release, 60)
    delays = _delays_ms(sample, stamps, finals)
    threads = threading.active_count()
    for job in sleepers:
        ex.cancel(job)
    for job in sleepers:
        job.wait(timeout=600)
    return {'n': n, 'tracked': active, 'refused': len(refused), 'submit_s': submit_s,
            'kb_per_job': (rss1 - rss0) / n, 'tracking_kb_per_job': (rss1 - rss_made) / n,
            'keeper_kb_per_job': (krss1 - krss0) / n if keeper else None,
            'cpu_ms_per_s': 1000 * (cpu1 - cpu0) / elapsed,
            'keeper_cpu_ms_per_s': None if keeper_cpu is None else 1000 * keeper_cpu,
            'status_commands_per_cycle': 0.0, 'expected_commands': 0,
            'delay_p50_ms': statistics.median(delays) if delays else None,
            'delay_p90_ms': common.delay_figures(delays)['delay_p90'],
            'late': late, 'threads': threads}


def _thread_cpu(name: str) -> Optional[float]:
    for t in threading.enumerate():
        if t.name == name and t.native_id is not None:
            return common.cpu_seconds(tid=t.native_id)
    return None


def _ids_in_status_command(args: str) -> int:
    for word in args.split():
        if word.startswith('--jobs='):
            return len(word[len('--jobs='):].split(','))
    return 0


def slurm_worker(n: int, samples: int, cycles: int, poll_interval: float,
                 tmp: Path) -> Dict[str, Any]:
    """N Slurm jobs followed at once: `samples` gated stamping jobs that run, the others held
    array elements."""
    from psij import Job, JobAttributes, JobExecutor, JobSpec
    from psij_slurm.executor import SlurmExecutorConfig

    log = tmp / 'calls.log'
    real = {name: shutil.which(name) or name for name in SLURM_COMMANDS}
    common.write_logging_wrappers(tmp / 'bin', log, real)
    os.environ['PSIJ_SLURM_COMMAND_DIR'] = str(tmp / 'bin')
    cfg = SlurmExecutorConfig(work_directory=tmp / 'work', queue_polling_interval=poll_interval)
    ex = JobExecutor.get_instance('slurm', config=cfg)
    engine = ex._engine  # type: ignore[attr-defined]
    warm = Job(JobSpec('/bin/true', stdout_path=Path('/dev/null')))
    ex.submit(warm)  # starts the engine's threads and loads the code paths
    warm.wait(timeout=300)
    rss0 = _rss_kb()

    gates = tmp / 'gates'
    gates.mkdir()
    samples = min(samples, n)
    finals = common.FinalTimes()
    sample, stamps = _sample_jobs(
        samples, tmp, finals, lambda i: 'while [ ! -e %s ]; do sleep 0.1; done'
        % shlex.quote(str(gates / str(i))))
    held = [Job(JobSpec('/bin/true', stdout_path=Path('/dev/null'),
                        attributes=JobAttributes(custom_attributes={'slurm.hold': True})))
            for _ in range(n - samples)]
    rss_made = _rss_kb()
    t0 = time.monotonic()
    refused = ex.submit_many(held) + ex.submit_many(sample)
    submit_s = time.monotonic() - t0
    arrays = {(job.native_id or '').partition('_')[0] for job in held + sample} - {''}
    try:
        # the gated jobs that fit the cluster run and wait; the others wait for their turn
        _wait_until(lambda: engine.tracked() >= n - len(refused), 600, 'all jobs followed')
        tracked = engine.tracked()
        rss1 = _rss_kb()

        # the status cycles, from one poll to the cycles-th next (whole cycles only), once
        # a cycle went by (the work directory is listed at every look for a few seconds
        # after it changed: the submission, the gated jobs' starts)
        start = engine.polls
        _wait_until(lambda: engine.polls > start + 1, 10 * poll_interval + 600,
                    'two status cycles')
        # between two polls (a poll counts itself before its squeue processes start)
        _wait_until(lambda: not engine._polling, 600, 'the end of a status cycle')
        log.unlink(missing_ok=True)
        polls0, cpu0 = engine.polls, _client_cpu()
        th0 = {k: _thread_cpu('psij-slurm-' + k) for k in ('status', 'poll')}
        _wait_until(lambda: engine.polls >= polls0 + cycles,
                    cycles * (poll_interval + 600), '%d status cycles' % cycles)
        _wait_until(lambda: not engine._polling, 600, 'the end of a status cycle')
        polls, cpu1 = engine.polls - polls0, _client_cpu()
        th1 = {k: _thread_cpu('psij-slurm-' + k) for k in ('status', 'poll')}
        squeue = common.read_call_log(log, SLURM_COMMANDS)['squeue']

        late = _release_one_by_one(sample, lambda i: (gates / str(i)).touch(), 120)
        delays = _delays_ms(sample, stamps, finals)
    finally:
        ids = sorted(arrays)
        for i in range(0, len(ids), 200):
            subprocess.run([real['scancel'], *ids[i:i + 200]], capture_output=True)

    def per_cycle_ms(k: str) -> Optional[float]:
        a, b = th0[k], th1[k]
        return None if a is None or b is None else 1000 * (b - a) / polls

    return {'n': n, 'tracked': tracked, 'refused': len(refused), 'submit_s': submit_s,
            'arrays': len(arrays), 'kb_per_job': (rss1 - rss0) / n,
            'tracking_kb_per_job': (rss1 - rss_made) / n,
            'cpu_ms_per_cycle': 1000 * (cpu1 - cpu0) / polls,
            'status_thread_ms_per_cycle': per_cycle_ms('status'),
            'poll_thread_ms_per_cycle': per_cycle_ms('poll'),
            'status_commands_per_cycle': len(squeue) / polls,
            'expected_commands': math.ceil(tracked / cfg.ids_per_status_command),
            'max_ids_per_command': max((_ids_in_status_command(a) for a in squeue), default=0),
            'delay_p50_ms': statistics.median(delays) if delays else None,
            'delay_p90_ms': common.delay_figures(delays)['delay_p90'],
            'late': late, 'threads': threading.active_count()}


# -- the driver ----------------------------------------------------------------------------------

def _tasks_now() -> int:
    """Tasks (processes and threads) on the machine now (``/proc/loadavg``'s 4th field)."""
    with open('/proc/loadavg') as f:
        return int(f.read().split()[3].split('/')[1])


def local_capacity() -> Tuple[int, str]:
    """The most local jobs this machine takes for the benchmark, and what bounds it."""
    with open('/proc/sys/kernel/pid_max') as f:
        pid_max = int(f.read())
    free_pids = pid_max - _tasks_now()
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    bounds = [(int(PROCESS_SHARE * free_pids),
               'half of the %d free process ids (kernel.pid_max %d)' % (free_pids, pid_max))]
    if nproc != resource.RLIM_INFINITY:
        bounds.append((int(PROCESS_SHARE * nproc), 'half of ulimit -u %d' % nproc))
    if nofile != resource.RLIM_INFINITY:
        bounds.append((nofile - FD_RESERVE, 'the keeper\'s pidfds within ulimit -n %d'
                       % nofile))
    return min(bounds)


def slurm_problem() -> Optional[str]:
    """Why the Slurm part cannot run (`None` if a controller answers)."""
    if not shutil.which('scontrol'):
        return 'Slurm is not installed (no scontrol on PATH)'
    p = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True)
    if 'is UP' not in p.stdout:
        return 'scontrol ping: %s' % ((p.stdout + p.stderr).strip() or 'exit %d' % p.returncode)
    try:
        import psij_slurm  # noqa: F401
    except ImportError:
        return 'psij-slurm is not installed'
    return None


def run_worker(executor: str, n: int, a: argparse.Namespace) -> Optional[Dict[str, Any]]:
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', executor, '--sizes', str(n),
           '--samples', str(a.samples), '--cycles', str(a.cycles), '--idle', str(a.idle),
           '--poll-interval', str(a.poll_interval)] + (['--dir', str(a.dir)] if a.dir else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        print('worker %s %d failed: %s' % (executor, n, p.stderr[-3000:]), file=sys.stderr)
        return None
    result: Dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def _median(results: List[Dict[str, Any]], key: str) -> Optional[float]:
    vals = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _figure(key: str, spec: str = '%.1f') -> Callable[[Dict[str, Any]], str]:
    return lambda r: common.fmt_or_dash(r.get(key), spec)


LOCAL_ROWS: List[common.Figure] = [
    ('jobs followed (of N)', _figure('tracked', '%d')),
    ('client memory per job, KB (target <= 4)', _figure('kb_per_job')),
    ('... of which submitting and following, KB', _figure('tracking_kb_per_job')),
    ('keeper memory per job, KB [1]', _figure('keeper_kb_per_job')),
    ('client CPU while jobs run, ms/s [2]', _figure('cpu_ms_per_s', '%.2f')),
    ('keeper CPU while jobs run, ms/s', _figure('keeper_cpu_ms_per_s', '%.2f')),
    ('status commands per cycle', _figure('status_commands_per_cycle', '%.0f')),
    ('end -> callback p50, ms (target: flat)', _figure('delay_p50_ms', '%.2f')),
    ('end -> callback p90, ms', _figure('delay_p90_ms', '%.2f')),
    ('submit_many of all N, s', _figure('submit_s', '%.2f')),
]

SLURM_ROWS: List[common.Figure] = [
    ('jobs followed (arrays)', lambda r: '%s (%s)' % (common.fmt_or_dash(r.get('tracked'), '%d'),
                                                       common.fmt_or_dash(r.get('arrays'), '%d'))),
    ('client memory per job, KB (target <= 4)', _figure('kb_per_job')),
    ('... of which submitting and following, KB', _figure('tracking_kb_per_job')),
    ('client CPU per cycle, ms (target <= 20 per 10,000 jobs)', _figure('cpu_ms_per_cycle')),
    ('... status engine, files thread, ms [3]', _figure('status_thread_ms_per_cycle')),
    ('... status engine, poll thread, ms [3]', _figure('poll_thread_ms_per_cycle')),
    ('squeue per cycle (expected)', lambda r: '%s (%s)' % (
        common.fmt_or_dash(r.get('status_commands_per_cycle'), '%.2f'),
        common.fmt_or_dash(r.get('expected_commands'), '%d'))),
    ('most ids in one squeue', _figure('max_ids_per_command', '%d')),
    ('end -> callback p50, ms (target: flat)', _figure('delay_p50_ms', '%.0f')),
    ('end -> callback p90, ms', _figure('delay_p90_ms', '%.0f')),
    ('submit_many of all N, s', _figure('submit_s', '%.1f')),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--executor', choices=('local', 'slurm', 'all'), default='all')
    ap.add_argument('--sizes', default='1000,10000,50000', help='comma-separated job counts')
    ap.add_argument('--rounds', type=int, default=2, help='runs of each size (medians shown)')
    ap.add_argument('--samples', type=int, default=20, help='gated jobs timed end -> callback')
    ap.add_argument('--cycles', type=int, default=5, help='Slurm status cycles measured')
    ap.add_argument('--poll-interval', type=float, default=5.0,
                    help='the Slurm executor\'s queue_polling_interval (s)')
    ap.add_argument('--idle', type=float, default=5.0,
                    help='seconds of local CPU measurement while the jobs run')
    ap.add_argument('--json', type=Path, help='also write the raw results here')
    ap.add_argument('--dir', type=Path, help='where the runs\' files go (default: a new '
                    'temporary directory); on a cluster, a directory the compute nodes share')
    ap.add_argument('--worker', choices=('local', 'slurm'), help=argparse.SUPPRESS)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(',')]

    if a.worker:
        tmp = Path(tempfile.mkdtemp(prefix='psij-bench-scale-', dir=a.dir))
        try:
            if a.worker == 'local':
                res = local_worker(sizes[0], a.samples, a.idle, tmp)
            else:
                res = slurm_worker(sizes[0], a.samples, a.cycles, a.poll_interval, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(res))
        return 0

    raw: Dict[str, Dict[int, List[Dict[str, Any]]]] = {}
    executors = ['local', 'slurm'] if a.executor == 'all' else [a.executor]
    for executor in executors:
        print('## %s' % executor)
        notes = []
        runs: List[Tuple[str, int]] = []
        if executor == 'slurm':
            problem = slurm_problem()
            if problem is not None:
                print('Skipped: no Slurm to measure (%s).\n' % problem)
                continue
            runs = [('%d' % n, n) for n in sizes]
        else:
            cap, why = local_capacity()
            for n in sizes:
                if n <= cap:
                    runs.append(('%d' % n, n))
                else:
                    runs.append(('%d -> %d' % (n, cap), cap))
                    notes.append('%d local jobs do not fit this machine: measured with %d, the '
                                 'most that fit (%s).' % (n, cap, why))
        raw[executor] = {}
        results = []
        for _, n in runs:
            got = []
            for r in range(a.rounds):
                print('%s, %d jobs, round %d/%d' % (executor, n, r + 1, a.rounds),
                      file=sys.stderr)
                one = run_worker(executor, n, a)
                if one is not None:
                    got.append(one)
            raw[executor][n] = got
            keys = {k for res in got for k in res}
            results.append({k: _median(got, k) for k in keys})
        common.print_figure_table([label for label, _ in runs], results,
                                  LOCAL_ROWS if executor == 'local' else SLURM_ROWS)
        print()
        for note in notes:
            print(note)
        if executor == 'local':
            print('[1] the keeper, the helper process that starts local jobs, watches them and '
                  'outlives the client; not the client\'s memory.')
            print('[2] local has no polling cycle: ends come from the keeper as events; this is '
                  'the CPU the client and the keeper spend per second while the N jobs run.')
        else:
            print('[3] the status engine runs in the client process: its two threads\' share '
                  'of the row above (the files thread looks at the job files every 0.5 s; the '
                  'poll thread runs squeue and reads its answer). Polling interval %.0f s.'
                  % a.poll_interval)
        with open('/proc/loadavg') as f:
            load = f.read().split()[0]
        print('Medians of %d rounds; %d gated jobs timed end -> callback; load average (1 min) '
              'now %s on %d CPUs.\n' % (a.rounds, a.samples, load, os.cpu_count() or 0))
    if a.json:
        a.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
