"""What the benchmark scripts share: a thread-count sampler, call-logging wrappers of scheduler
commands, the recording of final-state callbacks, the loop alternating psij's ``submit`` with a
bare submission, the end -> callback delays of jobs that stamp their end, and the formatting of
the tables they print.

The scripts run as ``python bench/bench_X.py``, so this directory is first on ``sys.path`` and
they import this module by name (``import _bench_common as common``). Standard library only,
with psij imported inside the functions that need it: the PBS and Flux benchmarks also import
this module in psij-python's interpreter, for their worker.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
)

T = TypeVar('T')


class ThreadPeak:
    """
    The most threads the process had while the ``with`` block ran, in `peak`.

    A daemon thread samples `count` every `interval` seconds; the first value is `count()` when
    the object is made, before the sampler starts. The sampler's own thread is left out of each
    sample (one less than `count()`), unless `count_sampler`.
    """

    def __init__(self, interval: float = 0.05, count: Callable[[], int] = threading.active_count,
                 count_sampler: bool = False) -> None:
        self.peak = count()
        self._interval = interval
        self._count = count
        self._sampler = 0 if count_sampler else 1
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._count() - self._sampler)

    def __enter__(self) -> ThreadPeak:
        self._t.start()
        return self

    def __exit__(self, *a: object) -> None:
        self._stop.set()
        self._t.join()


def status_kb(field: str, pid: Optional[int] = None) -> Optional[int]:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``...) of process `pid` (this
    one if `None`); `None` if the process or the field is gone."""
    try:
        with open('/proc/%s/status' % ('self' if pid is None else pid)) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid: Optional[int] = None, tid: Optional[int] = None) -> Optional[float]:
    """User + system CPU time of process `pid` (this one if `None`), or of its thread `tid`
    only, from ``/proc`` (clock-tick resolution); `None` if it is gone."""
    path = '/proc/%s' % ('self' if pid is None else pid)
    if tid is not None:
        path += '/task/%d' % tid
    try:
        with open(path + '/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def descendants(root: int) -> Set[int]:
    """All live descendants of `root` (through /proc/<pid>/task/<tid>/children)."""
    out: Set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                    kids = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
            for k in kids:
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def keeper_pids() -> Set[int]:
    """This process's helper processes (psij's keeper, which starts local jobs), which are not
    jobs."""
    out = set()
    for pid in descendants(os.getpid()):
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                if b'_keeper' in f.read():
                    out.add(pid)
        except OSError:
            continue
    return out


def write_logging_wrappers(bindir: Path, log: Path, commands: Mapping[str, str | Path],
                           timestamps: bool = False) -> None:
    """
    Writes in `bindir` (made if missing) one ``/bin/sh`` wrapper per entry of `commands` (name
    -> the real command): it appends ``NAME ARGS`` to `log` (``NAME EPOCH ARGS`` with
    `timestamps`, EPOCH from ``date +%s.%N``), then execs the real command.
    """
    bindir.mkdir(parents=True, exist_ok=True)
    fields, stamp = ('%s %s %s', ' "$(date +%s.%N)"') if timestamps else ('%s %s', '')
    for name, real in commands.items():
        w = bindir / name
        w.write_text('#!/bin/sh\nprintf "%s\\n" %s%s "$*" >>%s\nexec %s "$@"\n'
                     % (fields, name, stamp, log, real))
        w.chmod(0o755)


def read_call_log(log: Path, names: Iterable[str]) -> Dict[str, List[str]]:
    """The arguments of each call logged by `write_logging_wrappers` (without `timestamps`), by
    command: each of `names` is there, with no calls if it was not run or `log` is missing."""
    out: Dict[str, List[str]] = {n: [] for n in names}
    if log.exists():
        for line in log.read_text().splitlines():
            name, _, args = line.partition(' ')
            out.setdefault(name, []).append(args)
    return out


class FinalTimes:
    """
    A job status callback that records when (``time.time()``) each job reached a final state,
    in `ends` by job id, and sets `done` once `expected` jobs have (never if `expected` is 0).

    Only uses ``job.id`` and ``status.state.final``, so it serves psij-python's jobs too.
    """

    def __init__(self, expected: int = 0) -> None:
        self.ends: Dict[str, float] = {}
        self.done = threading.Event()
        self._expected = expected
        self._lock = threading.Lock()

    def __call__(self, job: Any, status: Any) -> None:
        if status.state.final:
            with self._lock:
                self.ends[job.id] = time.time()
                if len(self.ends) == self._expected:
                    self.done.set()


def submit_alternating(jobs: Sequence[Any], executors: Sequence[Any],
                       submit_bare: Callable[[], T]) -> Tuple[float, float, List[T]]:
    """
    Submits `jobs` through `executors` in turn, each ``submit`` followed by one bare
    submission, ``submit_bare()``, so that both see the same scheduler.

    :return: the seconds spent in the ``submit`` calls, those spent in the bare submissions,
        and what each bare submission returned.
    """
    psij_time = bare_time = 0.0
    bare: List[T] = []
    for i, job in enumerate(jobs):
        t0 = time.perf_counter()
        executors[i % len(executors)].submit(job)
        t1 = time.perf_counter()
        r = submit_bare()
        bare_time += time.perf_counter() - t1
        psij_time += t1 - t0
        bare.append(r)
    return psij_time, bare_time, bare


def submitted_script(tmp: Path, executor: str, config_class: Callable[..., Any]) -> Path:
    """
    The script psij's `executor` (configured by ``config_class(work_directory=...)``, a new
    directory under `tmp`) writes for the benchmark's trivial job, saved as ``bare.sh`` there:
    what the bare submission loops submit.
    """
    import io

    from psij import Job, JobExecutor, JobSpec

    work = Path(tempfile.mkdtemp(prefix='bare-', dir=tmp))
    ex = JobExecutor.get_instance(executor, config=config_class(work_directory=work))
    job = Job(JobSpec('/bin/sh', ['-c', 'date +%s.%N >/dev/null; exit 0'],
                      stdout_path=Path('/dev/null')))
    ex._check_job(job)
    buf = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job),  # type: ignore[attr-defined]
                              buf)
    script = work / 'bare.sh'
    script.write_text(buf.getvalue())
    return script


def stamping_jobs(n: int, stamps: Path, fail_every: int,
                  custom_attributes: Optional[Dict[str, object]],
                  callback: Callable[[Any, Any], None],
                  gate: Optional[Callable[[int], str]] = None) -> List[Tuple[Any, int]]:
    """
    `n` psij jobs whose last act writes their end time (``date +%s.%N``) to ``stamps/INDEX``,
    every `fail_every`-th one exiting 1 and the others 0 (all 0 if `fail_every` is 0), each
    with `custom_attributes` and `callback`: (job, its exit code) pairs. With `gate`, job
    INDEX first runs the shell code ``gate(INDEX)`` (e.g. waits until the benchmark lets it
    end).
    """
    from psij import Job, JobAttributes, JobSpec

    jobs: List[Tuple[Any, int]] = []
    for i in range(n):
        code = 1 if fail_every and i % fail_every == fail_every - 1 else 0
        # the job's last act: record when it ended
        script = 'date +%%s.%%N >%s; exit %d' % (stamps / str(i), code)
        if gate is not None:
            script = gate(i) + '; ' + script
        attrs = JobAttributes(custom_attributes=dict(custom_attributes)
                              if custom_attributes is not None else None)
        job = Job(JobSpec('/bin/sh', ['-c', script], stdout_path=Path('/dev/null'),
                          attributes=attrs))
        job.set_job_status_callback(callback)
        jobs.append((job, code))
    return jobs


def delays_by_exit_code(jobs: Sequence[Tuple[Any, int]], stamps: Path, ends: Mapping[str, float],
                        check_codes: bool = True) -> Tuple[Dict[int, List[float]], int]:
    """
    For `stamping_jobs` that ended: the delays from each job's end (its stamp) to its
    final-state callback (`ends`), by expected exit code (0 and 1), jobs without a readable
    stamp left out; and how many jobs had another exit code than expected (0 unless
    `check_codes`).
    """
    delays: Dict[int, List[float]] = {0: [], 1: []}
    wrong = 0
    for i, (job, code) in enumerate(jobs):
        if check_codes and job.status.exit_code != code:
            wrong += 1
        try:
            end = float((stamps / str(i)).read_text())
        except (OSError, ValueError):
            continue
        delays[code].append(ends[job.id] - end)
    return delays, wrong


def stamped_delays(jobs: Sequence[Any], stamps: Path, ends: Mapping[str, float]) -> List[float]:
    """The delays from each job's end (the time written to ``stamps/INDEX``) to its final-state
    callback (`ends`), for the jobs that have both."""
    delays = []
    for i, job in enumerate(jobs):
        f = stamps / str(i)
        if job.id in ends and f.exists() and f.read_text().strip():
            delays.append(ends[job.id] - float(f.read_text()))
    return delays


def state_counts(jobs: Iterable[Any]) -> Dict[str, int]:
    """How many of `jobs` are in each state, by the state's name."""
    states: Dict[str, int] = {}
    for job in jobs:
        states[str(job.status.state)] = states.get(str(job.status.state), 0) + 1
    return states


def delay_figures(delays: Sequence[float]) -> Dict[str, Optional[float]]:
    """``delay_median`` and ``delay_p90`` of `delays` (None where there are too few)."""
    return {'delay_median': statistics.median(delays) if delays else None,
            'delay_p90': statistics.quantiles(delays, n=10)[-1] if len(delays) > 1 else None}


def median_p90_s(v: Iterable[float]) -> str:
    """The median and the 90th percentile of `v` in seconds, as ``'0.12 s (0.30 s)'``
    (``'n/a (n/a)'`` if `v` is empty)."""
    s = sorted(v)
    if not s:
        return 'n/a (n/a)'
    return '%.2f s (%.2f s)' % (statistics.median(s), s[min(len(s) - 1, int(0.9 * len(s)))])


def print_measure_table(rows: Sequence[Tuple[str, str, str]]) -> None:
    """Prints (measure, value, target) rows as a Markdown table with aligned columns."""
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print('| %-*s | %-*s | target |' % (w, 'measure', v, 'value'))
    print('|%s|%s|--------|' % ('-' * (w + 2), '-' * (v + 2)))
    for name, value, target in rows:
        print('| %-*s | %-*s | %s |' % (w, name, v, value, target))


Figure = Tuple[str, Callable[[Dict[str, Any]], str]]
"""A row of `print_figure_table`: its label, and how to show it from one column's results."""


def fmt_or_dash(v: Any, spec: str = '%.1f') -> str:
    """`v` formatted with `spec`, ``'-'`` if it is None."""
    return '-' if v is None else spec % v


def print_figure_table(columns: Sequence[str], results: Sequence[Dict[str, Any]],
                       rows: Sequence[Figure]) -> None:
    """Prints a Markdown table with a column per entry of `results` (headed by `columns`) and
    a row per figure."""
    print('| figure | %s |' % ' | '.join(columns))
    print('|---|' + '---|' * len(columns))
    for name, f in rows:
        print('| %s | %s |' % (name, ' | '.join(f(r) for r in results)))
