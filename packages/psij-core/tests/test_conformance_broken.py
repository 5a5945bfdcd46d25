"""
Executors for the conformance kit's own tests: a correct one and deliberately broken ones.

All are the example executor of ``examples/psij-executor-example`` (imported from its
installed distribution, or else from the source tree) with one defect each, so each run
shows that the kit catches that defect and nothing else. Importing this module registers
them when ``PSIJ_CONFORMANCE_SELFTEST`` is set (the kit runs of test_conformance_kit.py set
it and pass ``--psij-import test_conformance_broken``), so that collecting this file in an
ordinary test run changes nothing. It holds no tests itself.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from psij import (
    Descriptor,
    InvalidJobException,
    Job,
    JobExecutor,
    JobSpec,
    JobState,
    JobStatus,
    SubmitException,
)

EXAMPLE_SRC = Path(__file__).resolve().parents[3] / 'examples' / 'psij-executor-example' / 'src'

try:
    from psij_executor_example import executor as example
except ImportError:  # not installed: use the source tree
    if not EXAMPLE_SRC.is_dir():
        if os.environ.get('PSIJ_CONFORMANCE_SELFTEST'):
            raise
        pytest.skip('the example executor is neither installed nor in the source tree',
                    allow_module_level=True)
    sys.path.insert(0, str(EXAMPLE_SRC))
    from psij_executor_example import executor as example

Base = example.ExampleJobExecutor

UNSUPPORTED = {
    'multi_process': 'one process per job',
    'multi_node': 'one host',
    'walltime': 'not enforced',
    'memory_limits': 'not enforced',
}


_BACKEND_VIEW: Dict[str, Dict[str, Any]] = {}
"""What each job's "backend" was given, by native id (see `scheduler_view`)."""


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """The kit's scheduler-view hook for these executors."""
    return _BACKEND_VIEW[native_id]


def queue_only_view(native_id: str) -> Dict[str, Any]:
    """A scheduler view showing the queue only (no walltime, no node_count)."""
    return {'queue': _BACKEND_VIEW[native_id]['queue']}


class Reference(Base):
    """The example executor, unchanged: it must pass the kit."""

    def submit(self, job: Job) -> None:
        super().submit(job)
        assert job.spec is not None and job.native_id is not None
        attrs = job.spec.attributes
        _BACKEND_VIEW[job.native_id] = {
            'queue': self._queue_given(job), 'account': attrs.account,
            'walltime': int(attrs.duration.total_seconds()), 'node_count': 1}

    def _queue_given(self, job: Job) -> Optional[str]:
        assert job.spec is not None
        return job.spec.attributes.queue_name


class DropsQueue(Reference):
    """Accepts a queue name and silently leaves it out: the backend uses its default."""

    def _queue_given(self, job: Job) -> Optional[str]:
        return None


class CompletedForNonZero(Base):
    """Reports COMPLETED whatever the exit code."""

    def _state_for(self, exit_code: int) -> JobState:
        return JobState.COMPLETED


class NoActiveWhileRunning(Base):
    """Reports ACTIVE only once the process has ended, and never for failed jobs."""

    def _set_job_status(self, job: Job, status: JobStatus) -> None:
        if status.state is JobState.ACTIVE and not getattr(job, '_broken_ended', False):
            return
        super()._set_job_status(job, status)

    def _finish(self, e: Any, state: JobState, exit_code: Optional[int],
                message: Optional[str] = None) -> None:
        if state is JobState.COMPLETED:
            setattr(e.job, '_broken_ended', True)
            self._set_job_status(e.job, JobStatus(JobState.ACTIVE))
            super()._finish(e, state, exit_code, message)
            return
        # a failed job goes straight to FAILED (STAGE_OUT would make the core fill in ACTIVE)
        with self._lock:
            if self._active.pop(str(e.job.native_id), None) is None:
                return
        self._set_job_status(e.job, JobStatus(state, exit_code=exit_code, message=message))


class DropsEmptyEnvironment(Base):
    """Drops environment variables whose value is empty."""

    def _environment(self, spec: JobSpec) -> Dict[str, str]:
        env = super()._environment(spec)
        for k, v in (spec.environment or {}).items():
            if v == '':
                env.pop(k, None)
        return env


class DropsEmptyArguments(Base):
    """Drops empty arguments."""

    def submit(self, job: Job) -> None:
        if job.spec is not None and job.spec.arguments:
            job.spec.arguments = [a for a in job.spec.arguments if a]
        super().submit(job)


class TwoFinalStates(Base):
    """After the real final state, calls the callbacks again with FAILED, bypassing Job."""

    def _finish(self, e: Any, state: JobState, exit_code: Optional[int],
                message: Optional[str] = None) -> None:
        super()._finish(e, state, exit_code, message)
        extra = JobStatus(JobState.FAILED, message='a second final state')
        if e.job._cb is not None:
            e.job._cb.job_status_changed(e.job, extra)
        self._notify_callback(e.job, extra)


class IgnoresCancel(Base):
    """cancel() does nothing."""

    def cancel(self, job: Job) -> None:
        pass


class NeverActive(Base):
    """A hung executor: jobs run, but nothing after QUEUED is ever reported."""

    def _set_job_status(self, job: Job, status: JobStatus) -> None:
        if status.state is JobState.QUEUED:
            super()._set_job_status(job, status)


class LosesEndsOfWaitingJobs(Base):
    """Never reports the end of a job that waits for a file (the kit's blocked jobs), as an
    executor that misses the end of long jobs would."""

    def _set_job_status(self, job: Job, status: JobStatus) -> None:
        args = ' '.join(job.spec.arguments or []) if job.spec is not None else ''
        # (the smoke job waits for a file too, but only until it is seen ACTIVE)
        if status.state.final and 'release=$2' in args and 'smoke-release' not in args:
            return
        super()._set_job_status(job, status)


class QueuesWithReason(Base):
    """Correct, on a busy "cluster": each job waits 3 s in the queue, and its QUEUED status
    says why; the later statuses are delivered, in order, after that."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: Dict[str, List[JobStatus]] = {}
        self._hold_lock = threading.Lock()

    def _set_job_status(self, job: Job, status: JobStatus) -> None:
        if status.state is JobState.QUEUED:
            status = JobStatus(JobState.QUEUED, message='waiting for resources (busy)')
            with self._hold_lock:
                self._held[job.id] = []
            threading.Timer(3.0, self._release, (job,)).start()
        with self._hold_lock:
            held = self._held.get(job.id)
            if held is not None and status.state is not JobState.QUEUED:
                held.append(status)
                return
        super()._set_job_status(job, status)

    def _release(self, job: Job) -> None:
        with self._hold_lock:
            held = self._held.pop(job.id, [])
        for st in held:
            super()._set_job_status(job, st)


class RaisesInSubmit(Base):
    """submit() always fails: its backend is unreachable."""

    def submit(self, job: Job) -> None:
        raise SubmitException('cannot reach the backend at example://nowhere')


class RunsInvalidJobs(Base):
    """Accepts an unknown launcher and runs the job anyway."""

    def _validate(self, job: Job, spec: JobSpec) -> None:
        try:
            super()._validate(job, spec)
        except InvalidJobException:
            spec.launcher = None


class ShellPastesArguments(Base):
    """Pastes the arguments into a shell line, double-quoted (the classic mistake)."""

    def submit(self, job: Job) -> None:
        spec = job.spec
        if spec is not None and spec.executable and spec.arguments:
            line = ' '.join('"%s"' % w for w in [spec.executable] + spec.arguments)
            spec.executable, spec.arguments = '/bin/sh', ['-c', line]
        super().submit(job)


class DropsStaging(Base):
    """Declares staging unsupported (see `EXTRA_UNSUPPORTED`) and runs the job without it."""

    def submit(self, job: Job) -> None:
        if job.spec is not None:
            job.spec.stage_in = job.spec.stage_out = job.spec.cleanup = None
        super().submit(job)


class MissingExecutableInvalid(Base):
    """Raises a bare InvalidJobException for a missing executable (psij-python programs
    catch SubmitException there)."""

    def submit(self, job: Job) -> None:
        exe = job.spec.executable if job.spec is not None else None
        if exe and exe.startswith('/') and not os.path.exists(exe):
            raise InvalidJobException('no such executable: %s' % exe)
        super().submit(job)


EXECUTORS = {
    'conformance-reference': Reference,
    'broken-completed-nonzero': CompletedForNonZero,
    'broken-no-active': NoActiveWhileRunning,
    'broken-drops-env': DropsEmptyEnvironment,
    'broken-drops-args': DropsEmptyArguments,
    'broken-two-finals': TwoFinalStates,
    'broken-ignores-cancel': IgnoresCancel,
    'broken-runs-invalid': RunsInvalidJobs,
    'broken-drops-queue': DropsQueue,
    'broken-shell-paste': ShellPastesArguments,
    'broken-never-active': NeverActive,
    'broken-raises-in-submit': RaisesInSubmit,
    'broken-loses-ends': LosesEndsOfWaitingJobs,
    'busy-queue-reference': QueuesWithReason,
    'broken-drops-staging': DropsStaging,
    'broken-missing-exe-invalid': MissingExecutableInvalid,
}
EXTRA_UNSUPPORTED = {'broken-drops-staging': {'staging': 'declared, yet dropped'}}


def _register() -> None:
    names = JobExecutor.get_executor_names()
    for name, cls in EXECUTORS.items():
        if name not in names:
            JobExecutor.register_executor(Descriptor(
                name=name, version='1.0', cls='%s.%s' % (__name__, cls.__name__),
                unsupported={**UNSUPPORTED, **EXTRA_UNSUPPORTED.get(name, {})}))


if os.environ.get('PSIJ_CONFORMANCE_SELFTEST'):
    _register()
