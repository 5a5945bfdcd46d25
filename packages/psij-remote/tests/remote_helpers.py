"""What psij-remote's tests share: the executor of the test host, waits, and the far end's
processes."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Callable, List

from conftest import URL, USER
from psij import Job, JobExecutor, JobSpec, JobState
from psij.conformance.executor_test_helpers import wait_final, wait_state

__all__ = ['URL', 'USER', 'executor', 'wait_final', 'wait_state', 'until', 'sh', 'history',
           'remote_psij', 'ssh_children']


def executor(name: str = 'local', url: str = URL) -> JobExecutor:
    """A remote executor of the test host."""
    return JobExecutor.get_instance(name, url=url)


def sh(script: str, *args: str, **kw: object) -> JobSpec:
    """A job running `script` with `args` as $1, $2..."""
    return JobSpec('/bin/sh', ['-c', script, 'psij-remote-test', *args], **kw)  # type: ignore


def until(cond: Callable[[], bool], timeout: float = 60.0, what: str = 'condition') -> None:
    """Waits for `cond` under a deadline."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError('timed out after %.0f s waiting for %s' % (timeout, what))
        time.sleep(0.05)


def history(job: Job) -> List[JobState]:
    """The states `job` was seen in by a callback set now (call before submitting)."""
    seen: List[JobState] = []
    job.set_job_status_callback(lambda j, st: seen.append(st.state))
    return seen


def remote_psij(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``psij ARGS`` run on the host itself, as psijremote (from its venv)."""
    home = os.path.expanduser('~' + USER)
    return subprocess.run(['runuser', '-u', USER, '--', home + '/venv/bin/psij', *args],
                          capture_output=True, text=True, check=check, timeout=120,
                          cwd='/tmp')


def ssh_children() -> List[int]:
    """Pids of the ssh processes this process started."""
    out = subprocess.run(['ps', '-o', 'pid=,comm=', '--ppid', str(os.getpid())],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.split()[1:] == ['ssh']]
