import pytest
from psij import JobState, JobStateOrder

CHAIN = [JobState.NEW, JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]
FINAL = [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED]


def test_chain_is_totally_ordered():
    for i, a in enumerate(CHAIN):
        for j, b in enumerate(CHAIN):
            assert a.is_greater_than(b) is (i > j)


def test_final_states_follow_every_non_final_state():
    for f in FINAL:
        for s in CHAIN:
            assert f.is_greater_than(s) is True
            assert s.is_greater_than(f) is False


def test_final_states_are_incomparable_with_each_other():
    for a in FINAL:
        for b in FINAL:
            assert a.is_greater_than(b) is (False if a is b else None)
            assert JobStateOrder.is_greater_than(a, b) == a.is_greater_than(b)


def test_final_flags():
    assert [s for s in JobState if s.final] == FINAL


def test_from_name_and_str():
    for s in JobState:
        assert JobState.from_name(str(s)) is s
        assert repr(s) == s.name
    with pytest.raises(ValueError, match='No such job state.*ACTIVE'):
        JobState.from_name('RUNNING')


def test_every_state_is_truthy():
    assert all(bool(s) for s in JobState)


def test_prev_reconstructs_the_chain():
    assert JobStateOrder.prev(JobState.COMPLETED) is JobState.CLEANUP
    assert JobStateOrder.prev(JobState.ACTIVE) is JobState.STAGE_IN
    assert JobStateOrder.prev(JobState.QUEUED) is JobState.NEW
    for s in (JobState.NEW, JobState.FAILED, JobState.CANCELED):
        assert JobStateOrder.prev(s) is None
