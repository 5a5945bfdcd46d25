"""Faults on a real OpenPBS server: server outage, outside qdel, walltime, purged history.

Skipped when no PBS server answers; failed instead with ``PSIJ_REQUIRE_PBS=1``. The outage
test stops and restarts pbs_server with ``ci/pbs/pbs-server-ctl.sh`` (root, the server of
``ci/pbs/setup-pbs.sh``); it is skipped where that is not possible. The walltime job is
submitted when the module starts and checked last (the mom enforces walltime only every ~10 s).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from pbs_helpers import REPO, executor, pbs_command, qstat_json, sh, wait_final, wait_state
from psij import Job, JobAttributes, JobState, JobStatus
from psij.exceptions import SubmitException

pytestmark = pytest.mark.usefixtures('pbs_server')

CTL = REPO / 'ci' / 'pbs' / 'pbs-server-ctl.sh'


@pytest.fixture(scope='module')
def walltime_job(pbs_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Job]:
    """A job with a 3 s walltime that would sleep 10 minutes."""
    ex = executor(tmp_path_factory.mktemp('walltime'))
    job = Job(sh('echo started; sleep 600', attributes=JobAttributes(
        duration=timedelta(seconds=3))))
    ex.submit(job)
    yield job
    job.cancel()


@pytest.fixture(autouse=True)
def _start_walltime_job_first(walltime_job: Job) -> None:
    pass


def _ctl(action: str) -> None:
    p = subprocess.run(['bash', str(CTL), action], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, 'pbs-server-ctl.sh %s failed: %s%s' % (action, p.stdout, p.stderr)


def test_server_down_for_60_s_while_30_jobs_run(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not Path('/opt/pbs/sbin/pbs_server').exists():
        pytest.skip('needs root and the server of ci/pbs/setup-pbs.sh to stop pbs_server')
    ex = executor(tmp_path / 'work')
    jobs: List[Job] = []
    seen: Dict[str, List[JobStatus]] = {}
    expected: Dict[str, int] = {}
    lock = threading.Lock()

    def record(job: Job, st: JobStatus) -> None:
        with lock:
            seen.setdefault(job.id, []).append(st)

    for i in range(30):
        code = (0, 0, 1, 7)[i % 4]
        # some end during the outage, some after it
        job = Job(sh('sleep %d; exit %d' % (5 + i % 3 * 30, code)))
        job.set_job_status_callback(record)
        expected[job.id] = code
        ex.submit(job)
        jobs.append(job)
    held = Job(sh('true', attributes=JobAttributes(custom_attributes={'pbs.h': True})))
    ex.submit(held)
    # stop the server only once every job has started (a job still being sent to its mom
    # when the server stops is requeued by PBS and runs again)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        states = [qstat_json(j.native_id or '') for j in jobs[:12]]
        if all(s['job_state'] in ('R', 'E', 'F') and s.get('substate') != 41 for s in states):
            break
        time.sleep(1)
    _ctl('stop')
    down = time.monotonic()
    try:
        # what a user sees meanwhile: transient errors, and jobs keep their state
        with pytest.raises(SubmitException) as ei:
            ex.submit(Job(sh('true')))
        assert ei.value.transient, ei.value
        with pytest.raises(SubmitException) as ei:
            held.cancel()
        assert ei.value.transient, ei.value
        time.sleep(max(0.0, 60 - (time.monotonic() - down)))
    finally:
        _ctl('start')
    held.cancel()
    assert wait_final(held).state is JobState.CANCELED
    for job in jobs:
        wait_final(job, timeout=400)
    wrong: List[object] = []
    for job in jobs:
        code = expected[job.id]
        final = seen[job.id][-1]
        want = JobState.COMPLETED if code == 0 else JobState.FAILED
        if final.state is not want or final.exit_code != code:
            wrong.append((job.native_id, code, final))
        if [s for s in seen[job.id] if s.state.final] != [final]:
            wrong.append((job.native_id, 'more than one final state', seen[job.id]))
        if final.message and 'left the' in final.message:
            wrong.append((job.native_id, 'reported lost', final))
    assert not wrong, wrong


def test_outside_qdel_is_canceled(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    end = time.monotonic() + 60
    while qstat_json(job.native_id or '').get('substate') != 42 and time.monotonic() < end:
        time.sleep(0.2)
    p = pbs_command('qdel', job.native_id or '')
    assert p.returncode == 0, p.stderr
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert st.message is not None and 'deleted' in st.message


def test_job_purged_from_history_keeps_its_exit_code(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work', keep_files=True)
    job = Job(sh('exit 4'))
    ex.submit(job)
    assert wait_final(job).exit_code == 4
    end = time.monotonic() + 60
    while qstat_json(job.native_id or '')['job_state'] != 'F' and time.monotonic() < end:
        time.sleep(0.3)
    p = pbs_command('qdel', '-x', job.native_id or '')  # purge the job's history record
    assert p.returncode == 0, p.stderr
    assert pbs_command('qstat', '-x', job.native_id or '').returncode == 153
    other = executor(tmp_path / 'work')
    follower = Job()
    other.attach(follower, job.native_id or '')
    st = wait_final(follower, timeout=60)
    assert (st.state, st.exit_code) == (JobState.FAILED, 4)


def test_walltime_exceeded(walltime_job: Job) -> None:
    st = wait_final(walltime_job)
    assert st.state is JobState.FAILED
    assert st.message is not None and st.message.startswith('walltime exceeded'), st
    assert st.exit_code is None
