"""Regression test of the shared status engine (psij-core), found with the Slurm benchmark.

A poll requested while the engine followed no job (e.g. ``cancel`` racing with the job's end)
left a flag set that stopped the next submit from waking the engine: the jobs of the next
submit were never followed. No cluster needed: the executor is a stand-in.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from psij import Job, JobSpec, JobState, JobStatus
from psij.executors.batch.status_engine import StatusEngine


class _FakeExecutor:
    """A `StatusClient` (what the engine uses of an executor); every job is COMPLETED at the
    first poll."""

    def __init__(self) -> None:
        self.polled = threading.Event()
        self.work_directory = Path(tempfile.mkdtemp(prefix='psij-wakeup-'))

    def config_initial_delay(self) -> float:
        return 0.05

    def config_file_interval(self) -> float:
        return 0.05

    def config_poll_interval(self) -> float:
        return 0.05

    def status_group(self) -> str:
        return ''

    def recorded_exit_code(self, native_id: str) -> Optional[int]:
        return None

    def recorded_start(self, native_id: str) -> bool:
        return False

    def absence_is_end(self, native_id: str) -> bool:
        return False

    def query_status(self, ids: List[str]) -> Dict[str, JobStatus]:
        self.polled.set()
        return {i: JobStatus(JobState.COMPLETED, exit_code=0) for i in ids}

    def get_final_status(self, ids: Any) -> Dict[str, JobStatus]:
        return {}

    def report_status(self, job: Job, st: JobStatus) -> None:
        job._set_status(st)

    def report_final(self, job: Job, code: Optional[int], st: Optional[JobStatus]) -> None:
        job._set_status(JobStatus(JobState.ACTIVE))
        job._set_status(st or JobStatus(JobState.COMPLETED, exit_code=code))


def _job(native_id: str) -> Job:
    job = Job(JobSpec('/bin/true'))
    job._native_id = native_id
    job._set_status(JobStatus(JobState.QUEUED))
    return job


def test_poll_requested_without_jobs_does_not_stall_the_next_submit() -> None:
    engine = StatusEngine('wakeup-test')
    ex = _FakeExecutor()
    first = _job('1')
    engine.register(first, ex)
    assert first.wait(timeout=30) is not None and first.status.state is JobState.COMPLETED
    # wait until the engine forgot the job and sleeps with nothing to follow
    for _ in range(600):
        if engine.tracked() == 0:
            break
        threading.Event().wait(0.05)
    assert engine.tracked() == 0
    threading.Event().wait(0.2)
    engine.request_poll(0)  # e.g. a cancel of a job that has just ended
    threading.Event().wait(0.2)
    second = _job('2')
    engine.register(second, ex)
    st = second.wait(timeout=30)
    assert st is not None and st.state is JobState.COMPLETED, 'the engine did not wake up'
