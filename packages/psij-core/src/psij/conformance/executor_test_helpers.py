"""
Helpers for an executor's own tests (ours share them; a third party's may too): waiting for a
job without hanging or passing on a `None`, and a ``/bin/sh`` job.

The bounds are generous and only guard against hangs: tests never assert how long anything
took.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List

from psij.exceptions import InvalidJobException
from psij.job import Job
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus

WAIT = 240.0
"""Seconds `wait_final` and `wait_state` wait by default."""

PYTHON = '/usr/bin/python3' if Path('/usr/bin/python3').exists() else sys.executable
"""A Python interpreter that compute nodes have too (the system's, where there is one)."""


def wait_final(job: Job, timeout: float = WAIT) -> JobStatus:
    """The job's final status; fails the test if it does not end within `timeout`."""
    st = job.wait(timeout=timeout)
    assert st is not None and st.state.final, 'job %s (%s) did not end: %s' % (
        job.id, job.native_id, job.status)
    return st


def wait_state(job: Job, state: JobState, timeout: float = WAIT) -> JobStatus:
    """Waits until the job reaches `state` (or a later one); fails the test if it does not
    within `timeout`."""
    st = job.wait(timeout=timeout, target_states=[state])
    assert st is not None, 'job %s did not reach %s: %s' % (job.native_id, state, job.status)
    return st


def sh(script: str, **kw: Any) -> JobSpec:
    """A job running `script` with /bin/sh (`kw`: the other `JobSpec` arguments)."""
    return JobSpec('/bin/sh', ['-c', script], **kw)


NOT_JOB_IDS = ['', '-u', '-uroot', '--jobs=1', '1 2', '1,2', '1\n2', '1\t', '1\x00']
"""Strings no scheduler's job id looks like: options, lists, blanks, control characters."""


def check_native_id_forms(executor: Any, good: List[str], bad: List[str]) -> None:
    """
    Checks that `executor` (on the batch framework) takes each of `good` as a job id and
    refuses each of `bad` and of `NOT_JOB_IDS` with an `InvalidJobException` from `attach`,
    leaving the job ``NEW`` and unbound.
    """
    for native_id in good:
        executor.check_native_id(native_id)
    for native_id in bad + NOT_JOB_IDS:
        job = Job()
        try:
            executor.attach(job, native_id)
        except InvalidJobException as ex:
            assert repr(native_id) in str(ex), ex
        else:
            raise AssertionError('attach() took %r as a job id' % (native_id,))
        assert job.status.state is JobState.NEW and job.executor is None
        assert job.native_id is None
