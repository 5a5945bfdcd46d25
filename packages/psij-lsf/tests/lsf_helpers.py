"""Helpers shared by the tests that run jobs on the LSF simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

from psij import Job, JobSpec, JobState, JobStatus
from psij_lsf.executor import LsfExecutorConfig, LsfJobExecutor

# generous bounds against hangs only; nothing asserts how long anything took
WAIT = 240.0
PYTHON = '/usr/bin/python3' if Path('/usr/bin/python3').exists() else sys.executable


def executor(work: Path, **kw: Any) -> LsfJobExecutor:
    """An LSF executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work)
    args.update(kw)
    return LsfJobExecutor(config=LsfExecutorConfig(**args))


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


def sh(script: str, **kw: Any) -> JobSpec:
    """A job running `script` with /bin/sh."""
    return JobSpec('/bin/sh', ['-c', script], **kw)


def history(job: Job) -> List[JobStatus]:
    """Records every status the job goes through."""
    seen: List[JobStatus] = []
    job.set_job_status_callback(lambda j, s: seen.append(s))
    return seen


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    """Runs a (simulated) LSF command."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)


def bjobs_json(native_id: str, fields: str) -> Dict[str, str]:
    """``bjobs -a -o FIELDS -json ID`` as {FIELD: value} for the job."""
    import json
    p = run('bjobs', '-a', '-hms', '-o', fields, '-json', native_id)
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)['RECORDS']
    assert len(recs) == 1, p.stdout
    return {str(k): str(v) for k, v in recs[0].items()}
