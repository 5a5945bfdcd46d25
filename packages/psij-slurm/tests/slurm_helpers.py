"""Helpers shared by the tests that run jobs on a real Slurm cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from psij import Job, JobSpec, JobState, JobStatus
from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor

# generous bounds against hangs only; nothing asserts how long anything took
WAIT = 240.0
PYTHON = '/usr/bin/python3' if Path('/usr/bin/python3').exists() else sys.executable


def executor(work: Path, **kw: Any) -> SlurmJobExecutor:
    """A Slurm executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work)
    args.update(kw)
    return SlurmJobExecutor(config=SlurmExecutorConfig(**args))


def wait_final(job: Job, timeout: float = WAIT) -> JobStatus:
    """The job's final status; fails the test if it does not end within `timeout`."""
    st = job.wait(timeout=timeout)
    assert st is not None and st.state.final, 'job %s (%s) did not end: %s' % (
        job.id, job.native_id, job.status)
    return st


def wait_state(job: Job, state: JobState, timeout: float = WAIT) -> JobStatus:
    """Waits until the job reaches `state` (or a later one)."""
    st = job.wait(timeout=timeout, target_states=[state])
    assert st is not None, 'job %s did not reach %s: %s' % (job.native_id, state, job.status)
    return st


def scontrol_show(native_id: str) -> Dict[str, str]:
    """``scontrol show job -o ID`` as {key: value} (values without blanks)."""
    p = subprocess.run(['scontrol', 'show', 'job', '-o', native_id], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out: Dict[str, str] = {}
    for word in p.stdout.split():
        k, sep, v = word.partition('=')
        if sep:
            out[k] = v
    return out


def sh(script: str, **kw: Any) -> JobSpec:
    """A job running `script` with /bin/sh."""
    return JobSpec('/bin/sh', ['-c', script], **kw)


def require_enforced(problem: Optional[str]) -> None:
    """
    Skips the test when the cluster does not enforce what it checks (`problem` says which
    setting is missing, from :mod:`psij_slurm.site_config`); fails it instead with
    ``PSIJ_REQUIRE_SLURM=1``, as CI, which configures its own cluster, sets.
    """
    if problem is None:
        return
    msg = ('this Slurm cluster does not enforce what the test checks: %s (or run with '
           'PSIJ_REQUIRE_SLURM=1 to make this a failure)' % problem)
    if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
        pytest.fail('PSIJ_REQUIRE_SLURM=1 but ' + msg, pytrace=False)
    pytest.skip(msg)
