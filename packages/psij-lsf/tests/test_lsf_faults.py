"""Faults on the LSF simulator: the master unreachable for 60 s, ``bkill`` and an
administrator's kill from outside, finished jobs already forgotten by ``bjobs``, time and memory
limits.

Skipped when no Slurm controller answers; failed instead with ``PSIJ_REQUIRE_SLURM=1``. The
outage is the simulator's switch (every LSF command prints ``Cannot connect to LSF. Please wait
...`` and retries ``LSB_NTRIES`` times), so Slurm keeps running for its other users while the
jobs go on underneath. The time-limit job is submitted when the module starts and checked
last, so that its minute runs alongside the other tests.
"""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import lsf_sim
import pytest
from lsf_helpers import PYTHON, executor, run, sh, wait_final, wait_state
from psij import Job, JobAttributes, JobSpec, JobState, JobStatus, ResourceSpecV1
from psij.exceptions import SubmitException
from psij_lsf.executor import LsfJobExecutor

pytestmark = pytest.mark.usefixtures('lsf_sim')


@pytest.fixture(scope='module')
def walltime_job(lsf_sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Job]:
    """A job with a 1-minute limit (``-W 0:01``, LSF's smallest) that would sleep 10 minutes."""
    ex = executor(tmp_path_factory.mktemp('walltime'))
    job = Job(sh('echo started; sleep 600', attributes=JobAttributes(
        duration=timedelta(seconds=30))))  # rounded up to 1 minute
    ex.submit(job)
    yield job
    job.cancel()


@pytest.fixture(autouse=True)
def _start_walltime_job_first(walltime_job: Job) -> None:
    pass


def test_master_unreachable_for_60_s_while_40_jobs_run(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('LSB_NTRIES', '3')  # the site's lsf.conf: give up after 3 tries
    ex = executor(tmp_path / 'work')
    jobs: List[Job] = []
    seen: Dict[str, List[JobStatus]] = {}
    expected: Dict[str, int] = {}
    lock = threading.Lock()

    def record(job: Job, st: JobStatus) -> None:
        with lock:
            seen.setdefault(job.id, []).append(st)

    for i in range(40):
        code = (0, 0, 1, 7)[i % 4]
        job = Job(sh('sleep 4; exit %d' % code))
        job.set_job_status_callback(record)
        expected[job.id] = code
        ex.submit(job)
        jobs.append(job)
    held = Job(sh('true', attributes=JobAttributes(custom_attributes={'lsf.H': True})))
    ex.submit(held)
    wait_state(jobs[0], JobState.ACTIVE)
    lsf_sim.set_down(True)
    down = time.monotonic()
    try:
        # what a user sees meanwhile: transient errors, and jobs keep their state
        p = run('bjobs', jobs[0].native_id or '')
        assert p.returncode == 255 and p.stderr == 'Cannot connect to LSF. Please wait ...\n' * 3
        with pytest.raises(SubmitException) as ei:
            ex.submit(Job(sh('true')))
        assert ei.value.transient, ei.value
        with pytest.raises(SubmitException) as ei:
            held.cancel()
        assert ei.value.transient, ei.value
        with pytest.raises(SubmitException) as ei:
            ex.list()
        assert ei.value.transient, ei.value
        assert held.status.state is JobState.QUEUED
        time.sleep(max(0.0, 60 - (time.monotonic() - down)))
    finally:
        lsf_sim.set_down(False)
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
        if final.message and 'no longer knows' in final.message:
            wrong.append((job.native_id, 'reported lost', final))
    assert not wrong, wrong


def test_bkill_from_outside_is_canceled(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    p = run('bkill', job.native_id or '')
    assert p.returncode == 0 and p.stdout == 'Job <%s> is being terminated\n' % job.native_id
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert (st.metadata or {}).get('lsf_exit_reason') == 'TERM_OWNER: job killed by owner'


def test_administrator_kill_is_canceled(tmp_path: Path) -> None:
    # the simulated LSF administrator: Slurm's scancel underneath (TERM_ADMIN)
    ex = executor(tmp_path / 'work')
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    subprocess.run(['scancel', job.native_id or ''], check=True, timeout=60)
    st = wait_final(job)
    assert st.state is JobState.CANCELED and 'TERM_ADMIN' in (st.message or '')


class _Unpolled(LsfJobExecutor):
    """Its own status engine (``_NAME_``), so that other executors' jobs do not share polls."""

    _NAME_ = 'lsf-forgotten'


class _NoFiles(_Unpolled):
    """As `_Unpolled`, and the job's exit-code file is not visible (e.g. lost with a node)."""

    _NAME_ = 'lsf-forgotten-nofiles'

    def _read_exit_code(self, native_id: str) -> Optional[int]:
        return None

    def _is_active(self, native_id: str) -> bool:
        return False


def _unpolled(cls: type, work: Path) -> LsfJobExecutor:
    # no status command and no look at the files until the test asks for one
    base = executor(work, initial_queue_polling_delay=600, file_check_interval=600,
                    keep_files=True)
    ex = cls(config=base.config)
    assert isinstance(ex, LsfJobExecutor)
    return ex


def _until_ended(native_id: str) -> None:
    end = time.monotonic() + 240
    while '"STAT":"EXIT"' not in run('bjobs', '-o', 'stat', '-json', native_id).stdout:
        assert time.monotonic() < end, 'job %s did not end' % native_id
        time.sleep(0.2)


def test_forgotten_before_first_poll_uses_exit_code_file(tmp_path: Path) -> None:
    ex = _unpolled(_Unpolled, tmp_path / 'work')
    job = Job(sh('exit 3'))
    ex.submit(job)
    nid = job.native_id or ''
    _until_ended(nid)
    lsf_sim.forget(nid)
    assert job.status.state is JobState.QUEUED  # the executor has not looked yet
    ex._engine.request_poll(0)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 3


def test_forgotten_without_files_is_failed_with_a_reason(tmp_path: Path) -> None:
    ex = _unpolled(_NoFiles, tmp_path / 'work')
    job = Job(sh('exit 6'))
    ex.submit(job)
    nid = job.native_id or ''
    _until_ended(nid)
    lsf_sim.forget(nid)
    ex._engine.request_poll(0)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code is None
    assert 'no longer knows' in (st.message or '')


def test_memory_limit(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    hog = 'b = bytearray(600 * 2**20)\nimport time\ntime.sleep(30)\n'
    job = Job(JobSpec(PYTHON, ['-c', hog], resources=ResourceSpecV1(memory=100 * 2**20)))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED, st
    assert st.message is not None and 'memory' in st.message
    assert 'TERM_MEMLIMIT' in (st.metadata or {}).get('lsf_exit_reason', '')


def test_walltime_exceeded(walltime_job: Job) -> None:
    st = wait_final(walltime_job, timeout=400)
    assert st.state is JobState.FAILED, st
    assert st.message is not None and st.message.startswith('walltime exceeded')
    assert st.exit_code is None
    assert (st.metadata or {}).get('lsf_exit_reason', '').startswith('TERM_RUNLIMIT')
