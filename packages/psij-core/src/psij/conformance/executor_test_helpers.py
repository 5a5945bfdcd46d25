"""
Helpers for an executor's own tests (ours share them; a third party's may too): waiting for a
job without hanging or passing on a `None`, and a ``/bin/sh`` job.

The bounds are generous and only guard against hangs: tests never assert how long anything
took.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
