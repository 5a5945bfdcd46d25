"""The asyncio API on the local executor: submit_async, wait_async, status_updates."""

from __future__ import annotations

import asyncio
import threading
from typing import Dict, List

import pytest
from psij import Job, JobExecutor, JobSpec, JobState, JobStatus
from psij._async import SUBMIT_THREADS


def _history_executor() -> tuple[JobExecutor, Dict[str, List[JobStatus]]]:
    ex = JobExecutor.get_instance('local')
    history: Dict[str, List[JobStatus]] = {}
    lock = threading.Lock()

    def cb(job: Job, st: JobStatus) -> None:
        with lock:
            history.setdefault(job.id, []).append(st)

    ex.set_job_status_callback(cb)
    return ex, history


def test_ten_thousand_jobs_from_one_loop() -> None:
    """10,000 jobs submitted and awaited concurrently: the threads stay a small constant;
    each job's status_updates and wait_async match its callback history exactly."""
    n = 10000
    ex, history = _history_executor()
    jobs = [Job(JobSpec('/bin/true' if i % 3 else '/bin/false')) for i in range(n)]

    async def follow(job: Job) -> tuple[List[JobStatus], JobStatus | None]:
        updates = job.status_updates()
        await ex.submit_async(job)
        seen = [st async for st in updates]
        return seen, await job.wait_async()

    async def main() -> tuple[list[tuple[List[JobStatus], JobStatus | None]], int, int, set]:
        before = threading.active_count()
        peak = before
        loop_thread = threading.get_ident()
        threads_seen: set = set()
        done = False

        async def sample() -> None:
            nonlocal peak
            while not done:
                peak = max(peak, threading.active_count())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())

        async def on_loop(job: Job) -> tuple[List[JobStatus], JobStatus | None]:
            r = await follow(job)
            threads_seen.add(threading.get_ident())
            return r

        results = await asyncio.gather(*(on_loop(j) for j in jobs))
        done = True
        await sampler
        assert threads_seen == {loop_thread}
        return list(results), before, peak, threads_seen

    results, before, peak, _ = asyncio.run(main())
    # the submit pool, the local executor's own threads: a constant, not one per job
    assert peak - before <= SUBMIT_THREADS + 6, (before, peak)
    for job, (seen, final) in zip(jobs, results, strict=True):
        assert final is not None and final.state.final
        assert seen == history[job.id], (job, seen, history[job.id])
        assert seen[-1] is final
        assert final.state is (JobState.FAILED if job.spec.executable == '/bin/false'
                               else JobState.COMPLETED)


def test_wait_async_targets_timeout_and_cancel() -> None:
    """wait_async: a target state, a timeout (None, as wait()), and cancelling the awaiting
    task leaves the job running; the result equals wait()'s."""
    ex = JobExecutor.get_instance('local')

    async def main() -> None:
        job = Job(JobSpec('/bin/sleep', ['30']))
        await ex.submit_async(job)
        st = await job.wait_async(target_states=JobState.ACTIVE, timeout=30)
        assert st is not None and st.state is JobState.ACTIVE
        assert await job.wait_async(timeout=0.2) is None
        task = asyncio.create_task(job.wait_async())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)
        assert job.status.state is JobState.ACTIVE  # the job itself was not touched
        job.cancel()
        final = await job.wait_async(timeout=30)
        assert final is not None and final.state is JobState.CANCELED
        assert job.wait(timeout=0) is final
        # a job already final: returns at once; status_updates gives just the final status
        assert [s async for s in job.status_updates()] == [final]
        assert job._watchers == []

    asyncio.run(main())


def test_submit_async_raises_like_submit() -> None:
    """A job submit() refuses makes submit_async raise the same exception."""
    from psij import InvalidJobException
    ex = JobExecutor.get_instance('local')

    async def main() -> None:
        with pytest.raises(InvalidJobException):
            await ex.submit_async(Job(JobSpec()))

    asyncio.run(main())


def test_submit_many_default_loop() -> None:
    """The base class's submit_many: accepted jobs run; a refused one ends FAILED with the
    exception in its metadata; bad list items are refused before anything is submitted."""
    from psij import InvalidJobException
    ex, history = _history_executor()
    good = [Job(JobSpec('/bin/sh', ['-c', 'exit %d' % i])) for i in range(3)]
    bad = Job(JobSpec('/bin/true', launcher='no-such-launcher'))
    with pytest.raises(TypeError):
        ex.submit_many([good[0], 'not a job'])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        ex.submit_many([good[0], good[0]])
    assert good[0].status.state is JobState.NEW
    refused = ex.submit_many([good[0], bad, good[1], good[2]])
    assert refused == [bad]
    st = bad.status
    assert st.state is JobState.FAILED and 'no-such-launcher' in (st.message or '')
    assert isinstance((st.metadata or {})['submit_exception'], InvalidJobException)
    assert [s.state for s in history[bad.id]] == [JobState.FAILED]
    for i, j in enumerate(good):
        final = j.wait(timeout=30)
        assert final is not None and final.exit_code == i


def test_documented_example_runs() -> None:
    """docs/examples/async_jobs.py runs (local executor, 20 jobs) and prints its counts."""
    import subprocess
    import sys
    from pathlib import Path
    example = Path(__file__).resolve().parents[3] / 'docs' / 'examples' / 'async_jobs.py'
    if not example.exists():
        pytest.skip('not run from a source checkout (no %s)' % example)
    p = subprocess.run([sys.executable, str(example), 'local', '20'], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('COMPLETED: 7, FAILED: 13') == 2, p.stdout


def test_submit_async_never_blocks_the_loop_on_a_fifo(tmp_path) -> None:
    """A job whose stdout is a FIFO that a task on the same loop opens: opening the FIFO for
    writing blocks until that task runs, so the submit must not run on the loop (it did once
    the keeper ran: the loop froze for good and wait_for could not fire). Two jobs, the first
    of which starts the keeper."""
    import os

    ex = JobExecutor.get_instance('local')
    fifos = [tmp_path / 'out0.fifo', tmp_path / 'out1.fifo']
    for f in fifos:
        os.mkfifo(f)
    outputs: List[bytes] = []

    async def one(fifo: object) -> None:
        job = Job(JobSpec('/bin/echo', ['hello'], stdout_path=fifo))

        async def reader() -> int:
            await asyncio.sleep(0.05)
            return os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # unblocks the writer's open

        opened = asyncio.create_task(reader())
        await asyncio.wait_for(ex.submit_async(job), 30)
        fd = await opened
        try:
            st = await job.wait_async(timeout=30)
            assert st is not None and st.state is JobState.COMPLETED, st
            outputs.append(os.read(fd, 100))
        finally:
            os.close(fd)

    async def main() -> None:
        for f in fifos:
            await one(f)

    errors: List[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():
        for f in fifos:  # release the frozen loop, so that the process can end
            os.close(os.open(f, os.O_RDONLY | os.O_NONBLOCK))
        t.join(30)
        pytest.fail('the event loop froze in submit_async (a blocking open on the loop)')
    assert not errors, errors
    assert outputs == [b'hello\n', b'hello\n']
