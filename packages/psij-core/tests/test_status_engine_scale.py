"""The status engine's cost does not grow with jobs that have nothing to say (issue 24).

Found with ``bench/bench_scale.py``: with 10,000 held jobs the engine's files thread went
through every job every half second, and every status command re-reported each job's
unchanged status; a cycle cost ~200 ms of the client's CPU. The engine here is a fresh
`StatusEngine` with a stand-in client (no scheduler); nothing is timed: the tests count what
the engine asks of its client and wait (with generous limits) for what must happen.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
from psij import Job, JobSpec, JobState, JobStatus
from psij.executors.batch import job_files, status_engine
from psij.executors.batch.status_engine import StatusEngine


class _Client:
    """A `StatusClient` whose jobs the scheduler lists as queued; reads the job files as the
    batch executors do (token ``tok``), counting every read and status report; `cv` is
    notified at each call (``cv.wait_for`` awaits what must happen)."""

    def __init__(self, work: Path, poll_interval: float = 3600.0) -> None:
        self.work_directory = work
        self.poll_interval = poll_interval
        self.reads = 0
        self.reported: List[JobState] = []
        self.finals: Dict[str, Optional[int]] = {}
        self.polls = 0
        self.cv = threading.Condition()

    def _called(self) -> None:
        with self.cv:
            self.cv.notify_all()

    def wait_for(self, cond: Callable[[], bool]) -> bool:
        with self.cv:
            return self.cv.wait_for(cond, 30)

    def status_group(self) -> str:
        return ''

    def config_poll_interval(self) -> float:
        return self.poll_interval

    def config_initial_delay(self) -> float:
        return self.poll_interval

    def config_file_interval(self) -> float:
        return 0.02

    def recorded_exit_code(self, native_id: str) -> Optional[int]:
        with self.cv:
            self.reads += 1
            self.cv.notify_all()
        return job_files.read_exit_code(self.work_directory, native_id, 'tok')

    def recorded_start(self, native_id: str) -> bool:
        with self.cv:
            self.reads += 1
            self.cv.notify_all()
        return job_files.is_active(self.work_directory, native_id, 'tok')

    def absence_is_end(self, native_id: str) -> bool:
        return False

    def query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        with self.cv:
            self.polls += 1
            self.cv.notify_all()
        return {i: JobStatus(JobState.QUEUED) for i in native_ids}

    def get_final_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        return {}

    def report_status(self, job: Job, status: JobStatus) -> None:
        job._set_status(status)
        with self.cv:
            self.reported.append(status.state)
            self.cv.notify_all()

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        job._set_status(JobStatus(JobState.COMPLETED, exit_code=exit_code))
        with self.cv:
            self.finals[job.native_id or ''] = exit_code
            self.cv.notify_all()


def _queued_jobs(n: int) -> List[Job]:
    jobs = []
    for i in range(n):
        job = Job(JobSpec('/bin/true'))
        job._native_id = str(1000 + i)
        job._set_status(JobStatus(JobState.QUEUED))
        jobs.append(job)
    return jobs


def _count_listings(monkeypatch: pytest.MonkeyPatch, client: _Client) -> List[Path]:
    listed: List[Path] = []
    real = job_files.list_status_names

    def counted(path: Path) -> Optional[Dict[str, tuple[bool, bool]]]:
        with client.cv:
            listed.append(path)
            client.cv.notify_all()
        return real(path)

    monkeypatch.setattr(job_files, 'list_status_names', counted)
    return listed


def test_the_files_of_quiet_jobs_cost_nothing(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_engine, 'DIRECTORY_SETTLE', 0.1)
    client = _Client(tmp_path)
    listed = _count_listings(monkeypatch, client)
    engine = StatusEngine('scale-quiet')
    jobs = _queued_jobs(500)
    for job in jobs:
        engine.register(job, client)
    assert client.wait_for(lambda: len(listed) >= 3)  # the first looks at the files
    time.sleep(0.3)  # the directory's time has settled
    before = len(listed)
    time.sleep(0.3)  # 15 looks at the files
    assert len(listed) == before  # an unchanged directory is not listed again
    assert client.reads == 0  # and no job's file is read without being listed
    # a job's exit-code file changes the directory: it is listed and the job ends
    nid = jobs[7].native_id or ''
    (tmp_path / (nid + job_files.EXIT_CODE_SUFFIX)).write_text('0 tok\n')
    assert client.wait_for(lambda: nid in client.finals)
    assert client.finals == {nid: 0}
    assert client.reads == 1
    assert engine.tracked() == 499


def test_a_start_file_written_after_it_was_listed_is_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `printf ... >ID.active` creates the file, then writes it: a look in between lists an
    # empty file, and the write does not change the directory's time
    monkeypatch.setattr(status_engine, 'DIRECTORY_SETTLE', 0.1)
    client = _Client(tmp_path)
    listed = _count_listings(monkeypatch, client)
    engine = StatusEngine('scale-start')
    job, = _queued_jobs(1)
    nid = job.native_id or ''
    active = tmp_path / (nid + job_files.ACTIVE_SUFFIX)
    active.write_text('')
    engine.register(job, client)
    assert client.wait_for(lambda: client.reads >= 2)  # reads of the empty start file
    time.sleep(0.3)  # the directory's time has settled: no more listings
    before = len(listed)
    time.sleep(0.1)
    assert len(listed) == before
    with open(active, 'a') as f:
        f.write('tok\n')
    assert client.wait_for(lambda: JobState.ACTIVE in client.reported)
    reads = client.reads
    time.sleep(0.2)
    assert client.reads == reads  # once conclusive, it is not read again
    os.unlink(active)


def test_a_status_command_reports_only_changes(tmp_path: Path) -> None:
    client = _Client(tmp_path, poll_interval=0.02)
    engine = StatusEngine('scale-poll')
    for job in _queued_jobs(200):
        engine.register(job, client)
    assert client.wait_for(lambda: client.polls >= 5)
    assert client.reported == []  # all were QUEUED already, and stay so
