"""
The smoke stage: one trivial job end to end, with a short deadline, before the other checks.

The smoke job runs until the kit sees it ACTIVE (then the kit lets it end with exit code 0),
or for three quarters of the smoke deadline at most. An executor that cannot run it (submit
raises, the job never becomes ACTIVE, is not reported ACTIVE while it runs (QUEUED ->
COMPLETED: the core fills in ACTIVE only after the end), never ends, ends with the wrong state
or exit code, or ``wait()`` does not return) would otherwise make every check wait out its own
timeout for the same defect: over an hour for the whole kit. The smoke job's failure is
reported once, by ``SmokeChecks``, saying what was expected and what was seen; every other
job check then fails at once, pointing to it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from psij import Job, JobState
from psij.conformance.harness import Kit

SMOKE_CHECK = 'SmokeChecks.test_smoke_job'
"""The check that reports the smoke job's failure."""

EXPECTED = ('submit() returns a native id; the job is reported ACTIVE while it runs (it runs '
            'until the kit sees it ACTIVE), then COMPLETED with exit code 0; wait() returns '
            'that status')


@dataclass
class SmokeResult:
    """What the smoke job did."""

    problem: Optional[str] = None
    """What went wrong (one line), or `None` if the job did everything expected."""
    seen: List[str] = field(default_factory=list)
    """What was observed, step by step."""
    seconds: float = 0.0
    """From submit to the end of the smoke stage."""

    @property
    def ok(self) -> bool:
        """Whether the executor passed the smoke stage."""
        return self.problem is None

    def report(self) -> str:
        """The failure, as the smoke check reports it: expected, seen, the problem."""
        return ('the smoke job failed: %s\nexpected: %s\nseen:\n  %s'
                % (self.problem, EXPECTED, '\n  '.join(self.seen) or '(nothing)'))


def run_smoke(kit: Kit) -> SmokeResult:
    """Runs the smoke job through `kit` (whose deadline is the smoke deadline)."""
    res = SmokeResult()
    t0 = time.monotonic()
    limit = kit.options.smoke_timeout
    # it ends once seen ACTIVE (released), else by itself after three quarters of the
    # deadline (at least 10 s, in ticks of 0.1 s)
    started, release = kit.unique('smoke-started'), kit.unique('smoke-release')
    # a script file, run with plain word arguments: the smoke job needs no argument fidelity
    # (the hostile-input checks judge that, with clearer messages)
    script = kit.unique('smoke-script')
    script.write_text(_SCRIPT)
    unreleased = kit.unique('smoke-unreleased')
    spec = kit.spec('/bin/sh', [str(script), str(started), str(release),
                                str(_run_for(limit)), str(unreleased)])
    job = Job(spec)
    try:
        res.problem = _run(kit, job, res, limit, release, unreleased)
    finally:
        res.seconds = time.monotonic() - t0
        res.seen.append('%.1f s in all (--psij-smoke-timeout=%s)' % (res.seconds, limit))
    return res


# The smoke job: runs until the release file exists or for $3 seconds (by the clock, however
# slow the machine), then exits 0; if it was not released, it writes the file $4 first (so an
# ACTIVE reported only as the job ends, however close to the end it is seen, is told apart).
_SCRIPT = r'''started=$1 release=$2
: > "$started"
sleep "$3" &
timer=$!
while [ ! -e "$release" ] && kill -0 "$timer" 2>/dev/null; do
  sleep 0.1 2>/dev/null || sleep 1
done
kill "$timer" 2>/dev/null
[ -e "$release" ] || : > "$4"
exit 0
'''


def _run_for(limit: float) -> int:
    """How long (seconds) the smoke job runs unless it is let end: three quarters of the
    smoke deadline, at least 10 s."""
    return max(10, int(limit * 0.75))


def _submit(kit: Kit, job: Job, limit: float) -> Optional[BaseException]:
    """Submits in a helper thread, so that a submit() that hangs cannot hang the kit; returns
    what submit() raised, or `TimeoutError` if it did not return within `limit`."""
    raised: List[BaseException] = []

    def target() -> None:
        try:
            kit.submit(job)
        except BaseException as ex:  # whatever the executor raises is the finding
            raised.append(ex)

    t = threading.Thread(target=target, name='psij-conformance-smoke-submit', daemon=True)
    t.start()
    t.join(limit)
    if t.is_alive():
        return TimeoutError('submit() did not return within %s s' % limit)
    return raised[0] if raised else None


class _Releaser(threading.Thread):
    """Lets the job end as soon as it is reported ACTIVE (not after its end: the core fills in
    a skipped ACTIVE only with the final state)."""

    def __init__(self, job: Job, release: Path, until: float) -> None:
        super().__init__(name='psij-conformance-smoke-release', daemon=True)
        self.job, self.release, self.until = job, release, until
        self.seen_active: Optional[float] = None
        """When the job was seen ACTIVE (monotonic), if it was."""

    def run(self) -> None:
        while time.monotonic() < self.until:
            state = self.job.status.state
            if state is JobState.ACTIVE:
                self.seen_active = time.monotonic()
                self.release.touch()
                return
            if state.final:
                return
            self.job.wait(timeout=0.05, target_states=[JobState.ACTIVE])


def _run(kit: Kit, job: Job, res: SmokeResult, limit: float, release: Path,
         unreleased: Path) -> Optional[str]:
    t0 = time.monotonic()
    ex = _submit(kit, job, limit)
    if isinstance(ex, TimeoutError):
        res.seen.append(str(ex))
        return str(ex)
    if ex is not None:
        res.seen.append('submit() raised %s: %s' % (type(ex).__name__, ex))
        return 'submit() of a trivial job raised %s: %s' % (type(ex).__name__, ex)
    res.seen.append('submit() returned; native id %r' % job.native_id)
    releaser = _Releaser(job, release, t0 + max(limit, kit.options.timeout))
    releaser.start()
    st = job.wait(timeout=max(0.0, limit - (time.monotonic() - t0)))
    if st is None and job.status.state is JobState.QUEUED and job.status.message:
        # the scheduler says why the job waits (a busy cluster): the executor works, so the
        # job gets the per-check timeout rather than the smoke deadline
        res.seen.append('still QUEUED after %s s, the scheduler says %r: waiting up to the '
                        'per-check timeout (%s s)' % (limit, job.status.message,
                                                      kit.options.timeout))
        st = job.wait(timeout=max(0.0, kit.options.timeout - (time.monotonic() - t0)))
    releaser.join(1.0)
    if releaser.seen_active is not None:
        res.seen.append('reported ACTIVE after %.1f s; the job was let end'
                        % (releaser.seen_active - t0))
    states = kit.recorder.states(job)
    res.seen.append('states reported: %s' % (' -> '.join(map(str, states)) or 'none'))
    if st is None:
        res.seen.append('wait() returned None at the deadline; the status is %s' % job.status)
        if job.status.state.final:
            return ('wait() did not return within %s s although the job is %s'
                    % (limit, job.status.state))
        if JobState.ACTIVE not in states:
            return ('the job was never reported ACTIVE within %s s (it stayed %s%s)'
                    % (limit, job.status.state, '; if the scheduler is busy, give it longer '
                       'with --psij-smoke-timeout' if job.status.state is JobState.QUEUED
                       else ''))
        return 'the job did not end within %s s (it is still %s)' % (limit, job.status.state)
    res.seen.append('wait() returned %s (exit code %s%s)'
                    % (st.state, st.exit_code, ', message %r' % st.message if st.message else ''))
    if not job.native_id:
        return 'the job has no native id'
    if releaser.seen_active is None or unreleased.exists():
        return ('the job was never reported ACTIVE while it ran (it ran until the kit would '
                'see it ACTIVE, at most %d s, then ended %s; ACTIVE came only with its end, if '
                'at all: report ACTIVE when the job starts)' % (_run_for(limit),
                                                                 st.state))
    if st.state is not JobState.COMPLETED or st.exit_code != 0:
        return ('expected COMPLETED with exit code 0 for the smoke job, got %s with exit code '
                '%s%s'
                % (st.state, st.exit_code, ' (%s)' % st.message if st.message else ''))
    if JobState.ACTIVE not in states:
        return 'the job ended COMPLETED but was never reported ACTIVE'
    return None
