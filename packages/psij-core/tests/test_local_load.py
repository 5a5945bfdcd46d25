"""Correctness under load: many short jobs, mixed outcomes, a bounded number in flight.

The documented size is 10,000 jobs with 200 in flight: run it with ``PSIJ_LOAD_JOBS=10000``
(about 12 s on 2 cores). By default (and in CI) 2,000 jobs run, a couple of seconds' work.
"""

import os
import threading
from collections import defaultdict

import pytest
from psij import Job, JobExecutor, JobSpec, JobState
from psij.executors.local import LocalJobExecutorConfig

N = int(os.environ.get('PSIJ_LOAD_JOBS', '2000'))
IN_FLIGHT = 200
CHAIN = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]
# A job that ran passes through STAGE_OUT and CLEANUP, failed ones too (as in psij-python).
CHAINS = {0: CHAIN + [JobState.COMPLETED], 1: CHAIN + [JobState.FAILED]}


def test_many_jobs(tmp_path):
    ex = JobExecutor.get_instance('local', config=LocalJobExecutorConfig(
        state_directory=tmp_path / 'state', cancel_grace_period=5))
    seen = defaultdict(list)
    lock = threading.Lock()
    slots = threading.Semaphore(IN_FLIGHT)

    def cb(job, st):
        with lock:
            seen[job.id].append((st.state, st.exit_code))
        if st.state.final:
            slots.release()

    ex.set_job_status_callback(cb)
    jobs = []
    kinds = {}
    for i in range(N):
        kind = i % 3
        spec = [JobSpec('/bin/true'), JobSpec('/bin/false'), JobSpec('/bin/sleep', ['100'])][kind]
        job = Job(spec)
        slots.acquire()
        ex.submit(job)
        if kind == 2:
            job.cancel()
        jobs.append(job)
        kinds[job.id] = kind

    expected_final = {0: (JobState.COMPLETED, 0), 1: (JobState.FAILED, 1)}
    for job in jobs:
        st = job.wait()
        assert st is not None and st.state.final
        states = [s for s, _ in seen[job.id]]
        kind = kinds[job.id]
        finals = [(s, c) for s, c in seen[job.id] if s.final]
        assert len(finals) == 1, (job, seen[job.id])
        if kind == 2:
            assert finals[0][0] is JobState.CANCELED
            assert states[:-1] == CHAIN[:len(states) - 1]
        else:
            assert finals[0] == expected_final[kind], (job, seen[job.id])
            assert states == CHAINS[kind], (job, seen[job.id])
        assert st.state is finals[0][0]
    assert len(seen) == N
    assert ex.list() == []


if N < 1:
    pytest.skip('PSIJ_LOAD_JOBS < 1', allow_module_level=True)
