"""The local executor's submit does not wait for the keeper: what still raises from submit(),
what ends the job instead, and that nothing waits for itself (callbacks that submit and read
native ids from the reaper thread, a flood of submits nobody reads the answers of)."""

import threading

import pytest
from psij import Job, JobExecutor, JobSpec, JobState, SubmitException
from psij.executors.local import LocalJobExecutorConfig


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


def script(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    p.chmod(0o755)
    return str(p)


@pytest.mark.parametrize('content, words', [
    (b'echo no #! line\n', 'not a binary or a script starting with #!'),
    (b'#!/no/such/interpreter\necho x\n', 'its interpreter /no/such/interpreter'),
    (b'#!/bin/sh\r\necho x\r\n', r"its interpreter '/bin/sh\r'"),
    (b'#!   \necho x\n', 'names no interpreter'),
])
def test_what_exec_would_refuse_still_raises_from_submit(ex, tmp_path, content, words):
    # psij-python programs catch SubmitException at submit() for these
    exe = script(tmp_path, 'prog', content)
    job = Job(JobSpec(exe))
    with pytest.raises(SubmitException) as info:
        ex.submit(job)
    assert words in str(info.value), str(info.value)
    assert job.status.state is JobState.NEW


def test_a_script_with_a_good_interpreter_runs(ex, tmp_path):
    exe = script(tmp_path, 'ok', b'#!/bin/sh -e\nexit 5\n')
    job = Job(JobSpec(exe))
    ex.submit(job)
    assert job.wait(timeout=60).exit_code == 5


def test_what_the_keeper_cannot_start_ends_the_job_failed_with_the_exception(ex):
    # One argument over the kernel's per-string limit (128 KiB): exec refuses it (E2BIG),
    # which only the keeper finds out, after submit() returned.
    job = Job(JobSpec('/bin/echo', ['x' * 200_000]))
    ex.submit(job)
    assert job.status.state in (JobState.QUEUED, JobState.FAILED)
    st = job.wait(timeout=60)
    assert st.state is JobState.FAILED, st
    assert 'Argument list too long' in st.message, st.message
    error = st.metadata['submit_exception']
    assert isinstance(error, SubmitException) and 'Argument list too long' in str(error)
    assert job.native_id is None
    # and the keeper goes on
    again = Job(JobSpec('/bin/sh', ['-c', 'exit 3']))
    ex.submit(again)
    assert again.wait(timeout=60).exit_code == 3


def test_native_id_is_there_when_submit_returns(ex):
    job = Job(JobSpec('/bin/sleep', ['0.2']))
    ex.submit(job)
    nid = job.native_id
    assert nid is not None and nid.split('-')[0].isdigit(), nid
    assert job.wait(timeout=60).state is JobState.COMPLETED
    assert job.native_id == nid


def test_a_callback_in_the_reaper_thread_may_submit_and_read_native_ids(ex):
    # The reaper thread is the one that reads the keeper's answers: a callback running on it
    # that needs an answer must read it itself, not wait for itself.
    ids = []
    done = threading.Event()

    def on_end(job, st):
        if st.state is JobState.COMPLETED:
            nxt = Job(JobSpec('/bin/true'))
            ex.submit(nxt)
            ids.append((threading.current_thread().name, nxt.native_id))
            nxt.set_job_status_callback(lambda j, s: s.final and done.set())

    first = Job(JobSpec('/bin/true'))
    first.set_job_status_callback(on_end)
    ex.submit(first)
    assert done.wait(60), ids
    (thread, nid), = ids
    assert thread == 'psij-local-reaper' and nid and nid != first.native_id


def test_a_flood_of_submits_from_the_reaper_thread_does_not_deadlock(ex):
    # 1,500 submits from a callback on the reaper thread, whose answers nobody else can read
    # meanwhile: the socket to the keeper fills up both ways unless submit reads answers
    # while it waits to send.
    n = 1500
    jobs = []
    finished = threading.Semaphore(0)

    def count(job, st):
        if st.final:
            finished.release()

    def on_end(job, st):
        if st.state is JobState.COMPLETED:
            for _ in range(n):
                j = Job(JobSpec('/bin/true'))
                j.set_job_status_callback(count)
                ex.submit(j)
                jobs.append(j)

    first = Job(JobSpec('/bin/true'))
    first.set_job_status_callback(on_end)
    ex.submit(first)
    for i in range(n):
        assert finished.acquire(timeout=120), '%d of %d ended' % (i, n)
    states = {j.status.state for j in jobs}
    assert states == {JobState.COMPLETED}, states
    assert len({j.native_id for j in jobs}) == n


def test_cancel_right_after_submit_cancels_the_job(ex, tmp_path):
    # the cancel goes to the keeper after the start request, which it serves first
    for _ in range(20):
        job = Job(JobSpec('/bin/sleep', ['30']))
        ex.submit(job)
        job.cancel()
        st = job.wait(timeout=60)
        assert st.state is JobState.CANCELED, st
