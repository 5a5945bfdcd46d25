"""
What the checks are built from: job recipes in POSIX shell, a recorder of status callbacks,
the rules a job's history must follow, and `Kit`, the per-check helper.

The jobs only need ``/bin/sh`` and a few POSIX utilities on the compute nodes; every file a
job writes goes to the kit's work directory, which must be visible to the compute nodes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import pytest

from psij import Job, JobExecutor, JobSpec, JobState, JobStatus
from psij.conformance.options import KitOptions
from psij.job import JobStatusCallback

SH = '/bin/sh'

SchedulerView = Callable[[str], Dict[str, Any]]
"""Returns the scheduler's view of a job, given its native id (see `ResourceChecks`)."""

# A job that marks that it started, then waits until the kit creates the release file (giving
# up after `limit` tenths of a second, with exit code 99), writing a count to the started file
# about twice a second while it waits (its heartbeat: the kit sees whether it still runs), then
# marks that it ends (the started file's name + ENDED_SUFFIX) and exits with `code`. The end
# mark tells the kit from when on the executor must have a final state to report.
BLOCK_SCRIPT = r'''started=$1 release=$2 code=$3 limit=$4
: > "$started"
i=0
while [ ! -e "$release" ]; do
  i=$((i + 1))
  if [ "$i" -gt "$limit" ]; then code=99; break; fi
  if [ $((i % 5)) -eq 0 ]; then echo "$i" > "$started"; fi
  sleep 0.1 2>/dev/null || sleep 1
done
: > "$started.ended"
exit "$code"'''
ENDED_SUFFIX = '.ended'

# Writes each argument after the first, NUL-terminated, to the file named by the first.
ARGS_SCRIPT = r'''out=$1
shift
for a do printf '%s\0' "$a"; done > "$out"'''

# Each rank creates its own file in the directory named by $1, holding its node's name and
# whether it can read $PSIJ_NODEFILE. Emulated clusters run several nodes on one host, so the
# scheduler's own per-node name comes before the host name: PSIJ_NODE_NAME if the site sets
# it; in a Flux job, the broker's host name (Flux test instances emulate several nodes on one
# host, and a Flux nested in a Slurm job inherits SLURMD_NODENAME); Slurm's SLURMD_NODENAME.
RANK_SCRIPT = r'''f=$(mktemp "$1/rank.XXXXXXXX") || exit 3
if [ -z "${PSIJ_NODE_NAME:-}" ] && [ -n "${FLUX_JOB_ID:-}" ] && [ -n "${FLUX_URI:-}" ]; then
  for _f in flux "${FLUX_EXEC_PATH%/libexec/flux/cmd}/bin/flux"; do
    PSIJ_NODE_NAME=$("$_f" getattr hostname 2>/dev/null) && break
  done
fi
{
  echo "${PSIJ_NODE_NAME:-${SLURMD_NODENAME:-$(uname -n)}}"
  if [ -r "${PSIJ_NODEFILE:-}" ]; then echo nodefile; cat "$PSIJ_NODEFILE"; fi
} > "$f"'''

CHAIN = (JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP)
"""The non-final states in the order a job passes them."""


def sh(script: str, *args: Union[str, Path]) -> Tuple[str, List[str]]:
    """(executable, arguments) that run `script` with `args` as ``$1``, ``$2``..."""
    return SH, ['-c', script, 'psij-conformance'] + [str(a) for a in args]


def env_dump_script(names: Iterable[str]) -> str:
    """A script writing ``NAME=value`` (or ``NAME unset``), NUL-terminated, for each name to
    the file named by ``$1``. The names must be plain identifiers."""
    lines = ['{']
    for n in names:
        assert n.isidentifier() and n.isascii(), n
        lines.append('if [ "${%s+x}" = x ]; then printf "%%s\\0" "%s=$%s"; '
                     'else printf "%%s\\0" "%s unset"; fi' % (n, n, n, n))
    lines.append('} > "$1"')
    return '\n'.join(lines)


def read_nul_list(path: Path) -> List[str]:
    """Reads a file of NUL-terminated UTF-8 strings."""
    data = path.read_bytes()
    assert data.endswith(b'\0') or data == b'', 'unterminated data in %s: %r' % (path, data)
    return [x.decode('utf-8', 'surrogateescape') for x in data.split(b'\0')[:-1]]


# -- callbacks ------------------------------------------------------------------------------------

# A scheduler reports an end only after a status cycle, which on a busy machine takes far
# longer than a process takes to stop on a signal: an end counts as lost after this many
# times --psij-stuck-timeout (a canceled job that keeps running, after one).
END_GRACE_FACTOR = 3

class Recorder:
    """
    Records every status callback, job-level and executor-level, for every job.

    It notices a callback that starts while another one for the same job is still running.
    """

    def __init__(self) -> None:
        """Creates an empty recorder."""
        self._lock = threading.Lock()
        self.events: Dict[str, List[Tuple[str, JobStatus]]] = {}
        self.overlaps: List[str] = []
        self._busy: Set[str] = set()
        self.job_callback = _Side(self, 'job')
        """Pass to `Job.set_job_status_callback`."""
        self.executor_callback = _Side(self, 'executor')
        """Pass to `JobExecutor.set_job_status_callback`."""

    def record(self, side: str, job: Job, status: JobStatus) -> None:
        """Records one callback."""
        with self._lock:
            if job.id in self._busy:
                self.overlaps.append('%s callback for %s entered while another callback for '
                                     'the same job was running' % (side, status.state))
            self._busy.add(job.id)
            self.events.setdefault(job.id, []).append((side, status))
        # yield the processor so that an executor delivering callbacks concurrently is caught
        time.sleep(0)
        with self._lock:
            self._busy.discard(job.id)

    def states(self, job: Job, side: str = 'job') -> List[JobState]:
        """The states delivered to one side for one job, in delivery order."""
        with self._lock:
            return [s.state for sd, s in self.events.get(job.id, []) if sd == side]

    def statuses(self, job: Job, side: str = 'job') -> List[JobStatus]:
        """The statuses delivered to one side for one job, in delivery order."""
        with self._lock:
            return [s for sd, s in self.events.get(job.id, []) if sd == side]


class _Side(JobStatusCallback):
    def __init__(self, recorder: Recorder, side: str) -> None:
        self.recorder = recorder
        self.side = side

    def job_status_changed(self, job: Job, job_status: JobStatus) -> None:
        self.recorder.record(self.side, job, job_status)


def history_problems(recorder: Recorder, job: Job, final: Optional[JobState] = None,
                     ran: bool = True, executor_side: bool = True) -> List[str]:
    """
    Checks a job's delivered states against the specification; returns what is wrong.

    The rules: non-final states arrive in the order of `CHAIN`, without gaps or repeats,
    starting at ``QUEUED``; exactly one final state arrives, last; ``COMPLETED`` comes only
    after the whole chain; a job whose executable ran was ``ACTIVE``; the executor's callback
    sees the same states as the job's; no two callbacks for the job overlapped.

    :param final: the final state expected, if known.
    :param ran: whether the job's executable is known to have run.
    :param executor_side: whether the executor-level callback was installed for this job.
    """
    problems = []
    states = recorder.states(job)
    finals = [s for s in states if s.final]
    if len(finals) != 1:
        problems.append('expected exactly one final state, got %d' % len(finals))
    elif states[-1] is not finals[0]:
        problems.append('states were reported after the final state %s' % finals[0])
    if final is not None and finals and finals[0] is not final:
        problems.append('expected final state %s, got %s' % (final, finals[0]))
    chain = [s for s in states if not s.final]
    if chain != list(CHAIN[:len(chain)]):
        problems.append('non-final states must be a prefix of %s, in order, without gaps or '
                        'repeats' % ', '.join(map(str, CHAIN)))
    if finals and finals[0] is JobState.COMPLETED and chain != list(CHAIN):
        problems.append('COMPLETED must follow the whole chain %s' % ', '.join(map(str, CHAIN)))
    if ran and JobState.ACTIVE not in chain:
        problems.append('the job ran but was never reported ACTIVE')
    if executor_side:
        ex_states = recorder.states(job, 'executor')
        if ex_states != states:
            problems.append('the executor callback saw %s' % ex_states)
    if recorder.overlaps:
        problems.extend(recorder.overlaps)
    if problems:
        problems.insert(0, 'job %s (native id %s) was reported %s'
                        % (job.id, job.native_id, ' -> '.join(map(str, states)) or 'nothing'))
    return problems


# -- the per-check helper -------------------------------------------------------------------------

@dataclass
class BlockedJob:
    """A submitted job that runs until released; see `Kit.submit_blocked`."""

    job: Job
    started: Path
    release_file: Path

    def release(self) -> None:
        """Lets the job end."""
        self.release_file.touch()


@dataclass
class RunState:
    """What the checks of one run learned about the executor, so that later checks can give
    up at once instead of waiting out their timeout for the same defect again."""

    cancel_ignored: Optional[str] = None
    """How the first check that saw a cancel ignored describes it, or `None`."""


_SLICE = 0.5
"""Seconds between two looks at a stuck job while `Kit.wait` waits."""


class Kit:
    """
    What a check uses: the executor under test, the recorder, a directory of its own and the
    per-check deadline.

    Every job made with `spec` carries the site's launcher, queue, account, reservation and
    custom attributes, and runs in the check's directory.
    """

    def __init__(self, options: KitOptions, executor: JobExecutor, recorder: Recorder,
                 directory: Path, unsupported: Dict[str, str],
                 scheduler_view: Optional[SchedulerView],
                 make_executor: Callable[[], JobExecutor],
                 run_state: Optional[RunState] = None, check: str = '') -> None:
        """Prepares a check; the deadline starts now.

        :param run_state: shared by the checks of a run (see `RunState`).
        :param check: the check's name, for the messages of later checks.
        """
        self.options = options
        self.executor = executor
        self.recorder = recorder
        self.dir = directory
        self.unsupported = unsupported
        self.scheduler_view = scheduler_view
        self._make_executor = make_executor
        self.deadline = time.monotonic() + options.timeout
        self.jobs: List[Job] = []
        self.blocked: List[BlockedJob] = []
        self.executors: List[JobExecutor] = [executor]
        self.run_state = run_state if run_state is not None else RunState()
        self.check = check
        self._counter = 0
        self._canceled: Dict[str, float] = {}
        self._ended_seen: Dict[str, float] = {}
        self._beats: Dict[str, Tuple[Optional[str], float]] = {}

    # -- paths and specs -----------------------------------------------------------------------

    def path(self, name: str) -> Path:
        """A path in the check's directory (not created)."""
        return self.dir / name

    def unique(self, prefix: str) -> Path:
        """A new, unused path in the check's directory."""
        self._counter += 1
        return self.dir / ('%s-%d' % (prefix, self._counter))

    def spec(self, executable: str, arguments: Optional[Sequence[str]] = None,
             **kwargs: Any) -> JobSpec:
        """A `JobSpec` with the site's settings applied; `kwargs` are `JobSpec` fields."""
        o = self.options
        kwargs.setdefault('directory', self.dir)
        if o.launcher and 'launcher' not in kwargs:
            kwargs['launcher'] = o.launcher
        spec = JobSpec(executable=executable, arguments=list(arguments or []), **kwargs)
        attrs = spec.attributes
        if o.queue and attrs.queue_name is None:
            attrs.queue_name = o.queue
        if o.account and attrs.account is None:
            attrs.account = o.account
        if o.reservation and attrs.reservation_id is None:
            attrs.reservation_id = o.reservation
        for k, v in o.attr.items():
            if attrs.get_custom_attribute(k) is None:
                attrs.set_custom_attribute(k, v)
        return spec

    def sh_spec(self, script: str, *args: Union[str, Path], **kwargs: Any) -> JobSpec:
        """A spec running a shell script (see `sh`)."""
        exe, argv = sh(script, *args)
        return self.spec(exe, argv, **kwargs)

    def blocking_spec(self, code: int = 0, **kwargs: Any) -> Tuple[JobSpec, Path, Path]:
        """A spec for a job that runs until released; (spec, started file, release file)."""
        started = self.unique('started')
        release = self.unique('release')
        limit = int(self.options.timeout * 10) + 10
        spec = self.sh_spec(BLOCK_SCRIPT, started, release, str(code), str(limit), **kwargs)
        return spec, started, release

    # -- submitting and waiting ----------------------------------------------------------------

    def submit(self, spec_or_job: Union[JobSpec, Job],
               executor: Optional[JobExecutor] = None) -> Job:
        """Submits a job with the recorder as its callback."""
        job = spec_or_job if isinstance(spec_or_job, Job) else Job(spec_or_job)
        job.set_job_status_callback(self.recorder.job_callback)
        self.jobs.append(job)
        (executor or self.executor).submit(job)
        return job

    def submit_blocked(self, code: int = 0, **kwargs: Any) -> BlockedJob:
        """Submits a job that runs until `BlockedJob.release` is called, then exits `code`."""
        spec, started, release = self.blocking_spec(code, **kwargs)
        b = BlockedJob(self.submit(spec), started, release)
        self.blocked.append(b)
        return b

    def remaining(self) -> float:
        """Seconds left before the check's deadline."""
        return max(0.0, self.deadline - time.monotonic())

    def wait(self, job: Job, target: Union[JobState, Sequence[JobState], None] = None) \
            -> JobStatus:
        """
        Waits for `target` (a final state if `None`); fails the check at the deadline, or
        earlier once it is clear that the job's final state will not come: a blocked job whose
        process still runs ``stuck_timeout`` seconds after `cancel`, or whose process ended
        ``stuck_timeout`` seconds ago without a final state.
        """
        while True:
            st = job.wait(timeout=min(self.remaining(), _SLICE), target_states=target)
            if st is not None:
                return st
            if self.remaining() <= 0:
                pytest.fail('job %s (native id %s) did not reach %s within the per-check '
                            'timeout of %ss; its status is %s'
                            % (job.id, job.native_id, target or 'a final state',
                               self.options.timeout, job.status), pytrace=False)
            self._fail_if_stuck(job)

    def _fail_if_stuck(self, job: Job) -> None:
        now = time.monotonic()
        grace = self.options.stuck_timeout
        canceled = self._canceled.get(job.id)
        if canceled is not None and self.run_state.cancel_ignored is not None:
            pytest.fail('job %s (native id %s) is still %s after cancel(); giving up at once: '
                        'the executor already ignored a cancel: %s'
                        % (job.id, job.native_id, job.status.state,
                           self.run_state.cancel_ignored), pytrace=False)
        b = next((b for b in self.blocked if b.job is job), None)
        if b is None:
            return  # nothing tells whether the job still runs: the per-check deadline applies
        beat = self._heartbeat(job, b.started, now)
        if canceled is not None and beat > canceled + grace:
            what = ('in %s: job %s (native id %s) still ran %.0f s after cancel() (its '
                    'heartbeat in %s goes on) and is reported %s; expected CANCELED (the kit '
                    'waits --psij-stuck-timeout=%s s for the process to stop)'
                    % (self.check or 'a check', job.id, job.native_id, beat - canceled,
                       b.started, job.status.state, grace))
            self.run_state.cancel_ignored = what
            pytest.fail('the executor ignored a cancel: ' + what, pytrace=False)
        ended = Path(str(b.started) + ENDED_SUFFIX)
        if job.id not in self._ended_seen:
            if ended.exists():
                self._ended_seen[job.id] = now
        elif now - self._ended_seen[job.id] > END_GRACE_FACTOR * grace:
            pytest.fail('job %s (native id %s): its process ended (it wrote %s) more than '
                        '%s s ago (%s x --psij-stuck-timeout), but the executor still reports '
                        '%s' % (job.id, job.native_id, ended, END_GRACE_FACTOR * grace,
                                END_GRACE_FACTOR, job.status), pytrace=False)

    def _heartbeat(self, job: Job, started: Path, now: float) -> float:
        """When the blocked job's heartbeat last changed, as far as the kit has seen."""
        try:
            value = started.read_text()
        except OSError:
            value = None
        last = self._beats.get(job.id)
        if last is None or last[0] != value:
            self._beats[job.id] = (value, now if last is not None else 0.0)
        return self._beats[job.id][1]

    def cancel(self, job: Job) -> None:
        """Cancels `job`; if it is a blocked job whose process still runs ``stuck_timeout``
        seconds later, `wait` fails: the cancel was ignored."""
        self._canceled.setdefault(job.id, time.monotonic())
        job.cancel()

    def run(self, spec: JobSpec) -> JobStatus:
        """Submits a job and waits for its final status."""
        return self.wait(self.submit(spec))

    def settle(self) -> None:
        """
        Runs one more job to its end, so that anything the executor still had to report about
        earlier jobs has been reported (an executor reports a job's states in order, and a
        later job's final state after the earlier ones it already knew).
        """
        job = Job(self.sh_spec('exit 0'))
        self.executor.submit(job)
        self.jobs.append(job)
        self.wait(job)

    def check_history(self, job: Job, final: Optional[JobState] = None, ran: bool = True,
                      executor_side: bool = True) -> None:
        """Asserts that `job`'s callbacks followed the rules (see `history_problems`)."""
        problems = history_problems(self.recorder, job, final, ran, executor_side)
        assert not problems, '\n'.join(problems)

    def new_executor(self) -> JobExecutor:
        """A new instance of the executor under test, with the recorder as its callback."""
        ex = self._make_executor()
        ex.set_job_status_callback(self.recorder.executor_callback)
        self.executors.append(ex)
        return ex

    def helper_command(self, module: str, *args: str) -> List[str]:
        """The command line of a helper process (``python -m module``) that uses the executor
        under test: ``--executor``, ``--url`` and ``--import`` options, then `args`."""
        o = self.options
        cmd = [sys.executable, '-m', module, '--executor', str(o.executor)]
        if o.url:
            cmd += ['--url', o.url]
        for m in o.import_:
            cmd += ['--import', m]
        return cmd + list(args)

    def skip_unless(self, capability: str) -> None:
        """Skips the check, with the declared reason, if `capability` was declared missing."""
        reason = self.unsupported.get(capability)
        if reason is not None:
            pytest.skip('unsupported capability %s: %s' % (capability, reason))

    def close(self) -> None:
        """Releases blocked jobs and cancels whatever is still running."""
        for b in self.blocked:
            try:
                b.release()
            except OSError:
                pass
        for job in self.jobs:
            if not job.status.final and job.executor is not None:
                try:
                    job.cancel()
                except Exception:
                    pass


def environ_sentinel() -> Tuple[str, str]:
    """A variable the kit sets in its own environment, to see whether jobs inherit it."""
    name, value = 'PSIJ_CONFORMANCE_SENTINEL', 'inherited from the submitting process'
    os.environ[name] = value
    return name, value
