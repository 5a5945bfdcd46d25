"""Faults on a real Grid Engine cell: master outage, outside qdel, h_rt, error state (Eqw).

Skipped when no Grid Engine master answers; failed instead with ``PSIJ_REQUIRE_SGE=1``. The
outage test stops and restarts sge_qmaster with ``ci/sge/sge-qmaster-ctl.sh`` (root, the cell of
``ci/sge/setup-sge.sh``); it is skipped where that is not possible. The h_rt job is submitted
when the module starts and checked last.
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
from psij import Job, JobAttributes, JobState, JobStatus
from psij.exceptions import SubmitException
from sge_helpers import REPO, executor, qstat_state, sge_command, sh, wait_final, wait_state

pytestmark = pytest.mark.usefixtures('sge_cell')

CTL = REPO / 'ci' / 'sge' / 'sge-qmaster-ctl.sh'


@pytest.fixture(scope='module')
def h_rt_job(sge_cell: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Job]:
    """A job with a 3 s h_rt that would sleep 10 minutes."""
    ex = executor(tmp_path_factory.mktemp('h_rt'))
    job = Job(sh('echo started; sleep 600', attributes=JobAttributes(
        duration=timedelta(seconds=3))))
    ex.submit(job)
    yield job
    job.cancel()


@pytest.fixture(autouse=True)
def _start_h_rt_job_first(h_rt_job: Job) -> None:
    pass


def _ctl(action: str) -> None:
    p = subprocess.run(['bash', str(CTL), action], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, 'sge-qmaster-ctl.sh %s failed: %s%s' % (action, p.stdout,
                                                                     p.stderr)


def _slots() -> int:
    p = sge_command('qconf', '-sq', 'all.q')
    for line in p.stdout.splitlines():
        if line.startswith('slots'):
            return int(line.split()[-1].split('=')[-1].strip(']'))
    return 4


def test_qmaster_down_for_60_s_while_30_jobs_run(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not Path('/usr/sbin/sge_qmaster').exists():
        pytest.skip('needs root and the cell of ci/sge/setup-sge.sh to stop sge_qmaster')
    ex = executor(tmp_path / 'work')
    jobs: List[Job] = []
    seen: Dict[str, List[JobStatus]] = {}
    expected: Dict[str, int] = {}
    lock = threading.Lock()

    def record(job: Job, st: JobStatus) -> None:
        with lock:
            seen.setdefault(job.id, []).append(st)

    slots = _slots()
    for i in range(30):
        code = (0, 0, 1, 7)[i % 4]
        # the first ones to start end during the outage, the others run after it
        job = Job(sh('sleep %d; exit %d' % (20 if i < slots else 1 + i % 3, code)))
        job.set_job_status_callback(record)
        expected[job.id] = code
        ex.submit(job)
        jobs.append(job)
    held = Job(sh('true', attributes=JobAttributes(custom_attributes={'sge.h': True})))
    ex.submit(held)
    # stop the master once the first jobs run (so that some end while it is down)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if all(qstat_state(j.native_id or '') == 'r' for j in jobs[:slots]):
            break
        time.sleep(0.5)
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
        wait_final(job, timeout=600)
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
    p = sge_command('qdel', job.native_id or '')
    assert p.returncode == 0, p.stderr
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert st.message is not None and 'deleted' in st.message


def test_outside_qdel_of_a_queued_job_is_canceled(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    job = Job(sh('true', attributes=JobAttributes(custom_attributes={'sge.h': True})))
    ex.submit(job)
    p = sge_command('qdel', job.native_id or '')
    assert p.returncode == 0, p.stderr
    st = wait_final(job)
    assert st.state is JobState.CANCELED, st


@pytest.mark.parametrize('where', ['output', 'directory'])
def test_error_state_is_failed_with_the_reason(tmp_path: Path, where: str) -> None:
    ex = executor(tmp_path / 'work')
    if where == 'output':
        spec = sh('true', attributes=JobAttributes(custom_attributes={
            'sge.o': '/nonexistent/dir/job.out'}))
        words = "can't open output file"
    else:
        spec = sh('true', directory=tmp_path / 'missing')
        words = "can't chdir"
    job = Job(spec)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED
    assert st.message is not None and 'Eqw' in st.message and words in st.message, st
    end = time.monotonic() + 60
    while qstat_state(job.native_id or '') is not None and time.monotonic() < end:
        time.sleep(0.5)
    assert qstat_state(job.native_id or '') is None, 'the job in error state was not deleted'


def test_h_rt_exceeded(h_rt_job: Job) -> None:
    st = wait_final(h_rt_job)
    assert st.state is JobState.FAILED
    assert st.message is not None and st.message.startswith('walltime exceeded'), st
    assert st.exit_code is None
