"""The status engine's schedule (`Deadlines`): one pending deadline per task, earliest wins."""

from psij.executors.batch.status_engine import FILES, POLL, Deadlines


def test_asking_later_changes_nothing_asking_sooner_moves_it():
    d = Deadlines()
    assert d.at(POLL, 10.0)
    assert not d.at(POLL, 12.0)  # a submit loop must not push the poll back (or wake anyone)
    assert d.due(POLL) == 10.0
    assert d.at(POLL, 5.0)
    assert d.due(POLL) == 5.0 and d.earliest() == 5.0


def test_move_postpones_a_retry_past_sooner_requests():
    d = Deadlines()
    d.at(POLL, 1.0)
    d.move(POLL, 30.0)  # the scheduler failed: the retry replaces the sooner request
    assert d.due(POLL) == 30.0 and d.earliest() == 30.0
    assert not d.take(POLL, 29.0)
    assert d.take(POLL, 30.0) and d.due(POLL) is None and d.earliest() is None


def test_earliest_skips_a_task_and_stale_entries():
    d = Deadlines()
    d.at(FILES, 3.0)
    d.at(POLL, 1.0)
    assert d.earliest() == 1.0
    assert d.earliest(skip=(POLL,)) == 3.0  # while a status command runs
    assert d.take(FILES, 3.0)
    d.at(FILES, 4.0)
    assert d.earliest(skip=(POLL,)) == 4.0
    d.clear()
    assert d.earliest() is None and d.due(FILES) is None
