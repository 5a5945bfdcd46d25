import logging
import threading
import time
from datetime import timedelta

import pytest
from psij import Job, JobSpec, JobState, JobStatus, JobStatusCallback, SubmitException

CHAIN = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP, JobState.COMPLETED]


def recorder(job):
    seen = []
    job.set_job_status_callback(lambda j, s: seen.append(s))
    return seen


def test_new_job():
    j = Job(JobSpec(executable='/bin/true'))
    assert j.status.state is JobState.NEW
    assert j.native_id is None and j.executor is None
    assert str(j).startswith('Job[id=%s' % j.id)


def test_ids_are_unique():
    ids = {Job().id for _ in range(10000)}
    assert len(ids) == 10000


def test_skipped_states_are_synthesized_in_order():
    j = Job()
    seen = recorder(j)
    j._set_status(JobStatus(JobState.QUEUED))
    j._set_status(JobStatus(JobState.COMPLETED, exit_code=0))
    assert [s.state for s in seen] == CHAIN
    assert seen[-1].exit_code == 0


@pytest.mark.parametrize('final', [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED])
def test_final_state_of_a_new_job_is_reported_alone(final):
    # a job attached after it ended: nothing it cannot know it went through is made up
    j = Job()
    seen = recorder(j)
    assert j._set_status(JobStatus(final, exit_code=0))
    assert [s.state for s in seen] == [final]


def test_status_never_moves_backwards_and_only_one_final_state():
    j = Job()
    seen = recorder(j)
    assert j._set_status(JobStatus(JobState.ACTIVE))
    assert not j._set_status(JobStatus(JobState.QUEUED))
    assert j._set_status(JobStatus(JobState.FAILED, exit_code=3, message='boom'))
    assert not j._set_status(JobStatus(JobState.COMPLETED))
    assert not j._set_status(JobStatus(JobState.CANCELED))
    # a job that ran passes through STAGE_OUT and CLEANUP before FAILED (as in psij-python)
    assert [s.state for s in seen] == [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE,
                                       JobState.STAGE_OUT, JobState.CLEANUP, JobState.FAILED]
    assert j.status.exit_code == 3


def test_failed_and_canceled_are_not_padded():
    j = Job()
    seen = recorder(j)
    j._set_status(JobStatus(JobState.CANCELED))
    assert [s.state for s in seen] == [JobState.CANCELED]


def test_callback_object_and_function_and_executor_style_setter():
    class CB(JobStatusCallback):
        def __init__(self):
            self.states = []

        def job_status_changed(self, job, job_status):
            self.states.append(job_status.state)

    j = Job()
    cb = CB()
    j.set_job_status_callback(cb)
    j.status = JobStatus(JobState.QUEUED)  # psij-python executors set status this way
    assert cb.states == [JobState.QUEUED]
    with pytest.raises(TypeError):
        j.set_job_status_callback(42)


def test_callbacks_are_ordered_and_never_concurrent_under_contention():
    j = Job()
    seen = []
    active = []
    overlap = []

    def cb(job, st):
        active.append(1)
        if len(active) > 1:
            overlap.append(st)
        time.sleep(0.0005)
        seen.append(st.state)
        active.pop()

    j.set_job_status_callback(cb)
    j._set_status(JobStatus(JobState.QUEUED))  # submitted (a NEW job's final state is alone)
    barrier = threading.Barrier(len(CHAIN) - 1)

    def setter(state):
        barrier.wait()
        j._set_status(JobStatus(state))

    threads = [threading.Thread(target=setter, args=(s,)) for s in CHAIN[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == []
    assert seen == CHAIN  # whatever the arrival order, delivery is in state order


def test_raising_callback_is_logged_and_delivery_goes_on(caplog):
    j = Job()
    later = []

    def cb(job, st):
        later.append(st.state)
        raise RuntimeError('callback bug')

    j.set_job_status_callback(cb)
    with caplog.at_level(logging.ERROR):
        j._set_status(JobStatus(JobState.ACTIVE))
    assert later == [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE]
    assert 'callback bug' in caplog.text


def test_wait_timeout_returns_none():
    j = Job()
    assert j.wait(timeout=timedelta(milliseconds=20)) is None
    assert j.wait(timeout=0.01, target_states=[JobState.ACTIVE]) is None


def test_wait_returns_on_target_later_or_final_state():
    j = Job()
    j._set_status(JobStatus(JobState.ACTIVE))
    assert j.wait(target_states=[JobState.QUEUED]).state is JobState.ACTIVE
    assert j.wait(timeout=0.01, target_states=JobState.COMPLETED) is None
    j._set_status(JobStatus(JobState.FAILED))
    # a final state ends any wait, even for an unreachable target
    assert j.wait(target_states=[JobState.COMPLETED]).state is JobState.FAILED


def test_wait_wakes_up_on_status_change_from_another_thread():
    j = Job()
    result = []
    t = threading.Thread(target=lambda: result.append(j.wait()))
    t.start()
    j._set_status(JobStatus(JobState.ACTIVE))
    j._set_status(JobStatus(JobState.COMPLETED, exit_code=0))
    t.join(10)
    assert not t.is_alive()
    assert result[0].state is JobState.COMPLETED


def test_wait_returns_after_callbacks_for_that_status_ran():
    j = Job()
    delivered = []
    gate = threading.Event()

    def cb(job, st):
        if st.state is JobState.COMPLETED:
            gate.wait(5)
        delivered.append(st.state)

    j.set_job_status_callback(cb)
    t = threading.Thread(target=lambda: j._set_status(JobStatus(JobState.COMPLETED)))
    t.start()
    assert j.wait(timeout=0.05) is None  # the status is set but its callback has not run
    gate.set()
    assert j.wait(timeout=5).state is JobState.COMPLETED
    assert delivered[-1] is JobState.COMPLETED
    t.join()


def test_wait_inside_a_callback_does_not_deadlock():
    j = Job()
    got = []
    j.set_job_status_callback(lambda job, st: got.append(job.wait(timeout=1)))
    j._set_status(JobStatus(JobState.COMPLETED))
    assert got[-1].state is JobState.COMPLETED


def test_cancel_unsubmitted_job_raises_and_final_job_is_left_alone():
    j = Job(JobSpec(executable='x'))
    with pytest.raises(SubmitException):
        j.cancel()
    j._set_status(JobStatus(JobState.COMPLETED))
    j.cancel()  # no executor, but final: harmless


def test_a_job_that_never_ran_goes_straight_to_failed():
    j = Job(JobSpec('/bin/true'))
    seen = []
    j.set_job_status_callback(lambda job, st: seen.append(st.state))
    j._set_status(JobStatus(JobState.QUEUED))
    j._set_status(JobStatus(JobState.FAILED, message='refused'))
    assert seen == [JobState.QUEUED, JobState.FAILED]


def test_a_followed_job_keeps_no_queue_or_condition_once_idle():
    # issue 24: a program following tens of thousands of jobs paid ~1.5 KB per job for an
    # empty delivery queue and the Condition of a wait that had returned long ago
    j = Job(JobSpec('/bin/true'))
    waiters = []
    results = []
    for _ in range(2):
        t = threading.Thread(target=lambda: results.append(j.wait(timeout=30)))
        t.start()
        waiters.append(t)
    time.sleep(0.1)  # both wait on one Condition
    j._set_status(JobStatus(JobState.QUEUED))
    assert j.wait(timeout=30, target_states=JobState.QUEUED).state is JobState.QUEUED
    j._set_status(JobStatus(JobState.COMPLETED, exit_code=0))
    for t in waiters:
        t.join(30)
    assert [r.state for r in results] == [JobState.COMPLETED, JobState.COMPLETED]
    assert j._pending is None and j._cv is None and j._waiting == 0
    assert j.wait(timeout=1).state is JobState.COMPLETED  # waiting again still works
    assert j._cv is None
