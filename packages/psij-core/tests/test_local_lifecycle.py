"""The local job's life cycle (psij.executors.local._lifecycle) driven transition by
transition, races included: cancel before the start, the end before ACTIVE was reported, the
keeper gone, and transitions that have no edge (refused and logged)."""

import logging
import os
import signal
import subprocess
import threading

import pytest
from psij import Job
from psij.executors.local._lifecycle import CancelAction, LocalJob, Phase


def submitted(phase=Phase.PREPARING):
    run = LocalJob(Job(), None)
    if phase is not Phase.PREPARING:
        run.start_sent()
    if phase is Phase.ACTIVE:
        assert run.activated() is None
    assert run.phase is phase
    return run


def test_a_job_passes_every_phase_in_order():
    run = submitted()
    assert not run.start_sent()
    assert run.phase is Phase.SENT
    assert run.activated() is None
    assert run.phase is Phase.ACTIVE
    assert run.process_ended(lambda: pytest.fail('deferred although ACTIVE'))
    assert run.phase is Phase.ENDING
    assert run.finished()
    assert run.phase is Phase.ENDED


def test_a_cancel_before_the_start_is_left_to_submit():
    run = submitted()
    assert run.request_cancel() is CancelAction.LATER
    assert run.is_canceled()
    assert run.request_cancel() is CancelAction.NOTHING  # once
    assert run.ended_unstarted()
    assert run.phase is Phase.ENDED
    assert run.request_cancel() is CancelAction.NOTHING


def test_a_cancel_while_the_start_is_sent_is_sent_after_it():
    run = submitted()
    assert run.request_cancel() is CancelAction.LATER
    assert run.start_sent()  # the caller sends the cancel now
    assert run.phase is Phase.SENT


def test_a_cancel_after_the_start_goes_to_the_keeper_once():
    for phase in (Phase.SENT, Phase.ACTIVE):
        run = submitted(phase)
        assert run.request_cancel() is CancelAction.KEEPER
        assert run.request_cancel() is CancelAction.NOTHING


def test_nothing_to_cancel_once_the_process_ended():
    run = submitted(Phase.ACTIVE)
    assert run.process_ended(lambda: None)
    assert run.request_cancel() is CancelAction.NOTHING
    assert not run.is_canceled()


def test_an_answer_handled_while_the_start_was_sent_leaves_the_job_active():
    run = submitted()
    assert run.activated() is None  # PREPARING -> ACTIVE
    assert not run.start_sent()
    assert run.phase is Phase.ACTIVE


def test_an_end_before_active_waits_for_it():
    run = submitted(Phase.SENT)
    done = []

    def again():
        done.append(run.process_ended(again))

    assert not run.process_ended(again)
    assert run.phase is Phase.SENT
    deferred = run.activated()
    assert deferred is again
    deferred()
    assert done == [True] and run.phase is Phase.ENDING


def _race_end_with_active():
    """One round: the thread that handles the start's answer against the reaper thread
    with the end."""
    run = submitted(Phase.SENT)
    order = []
    go = threading.Barrier(2)

    def end():
        if run.process_ended(end):
            order.append('end')

    def answer():
        go.wait()
        order.append('active')
        deferred = run.activated()
        if deferred is not None:
            deferred()

    t = threading.Thread(target=answer)
    t.start()
    go.wait()
    end()
    t.join(10)
    assert not t.is_alive()
    return run, order


def test_an_end_racing_with_active_is_handled_once_after_it():
    for _ in range(300):
        run, order = _race_end_with_active()
        assert order == ['active', 'end'] and run.phase is Phase.ENDING, (order, run)


def test_a_refused_start_ends_the_job_once():
    run = submitted(Phase.SENT)
    assert run.ended_unstarted()
    assert run.phase is Phase.ENDED
    assert run.activated() is None  # no edge: refused
    assert run.phase is Phase.ENDED


def test_a_lost_keeper_hands_the_job_to_its_follower(tmp_path):
    run = submitted(Phase.ACTIVE)
    assert run.keeper_lost(lambda: pytest.fail('deferred although ACTIVE'))
    p = subprocess.Popen(['sleep', '60'], start_new_session=True)
    try:
        pidfd = os.pidfd_open(p.pid)
        assert run.follow('%d-1' % p.pid, p.pid, pidfd) is False
        assert run.phase is Phase.FOLLOWED
        assert run.request_cancel() is CancelAction.SIGNAL
        assert run.signal(signal.SIGTERM)
        assert p.wait(timeout=30) == -signal.SIGTERM
        assert run.process_gone() is None
        os.close(pidfd)
        assert not run.signal(signal.SIGKILL)  # the fd is not used once the process is gone
        assert run.process_ended(lambda: None)
        assert run.finished() and run.phase is Phase.ENDED
    finally:
        p.kill()
        p.wait()


def test_a_cancel_the_lost_keeper_had_is_redone_by_the_follower():
    run = submitted(Phase.ACTIVE)
    assert run.request_cancel() is CancelAction.KEEPER
    assert run.keeper_lost(lambda: None)
    assert run.follow('1-1', 1, None) is True  # cancelled: the caller signals
    # the process was gone already: nothing to signal, and no second cancel
    assert run.request_cancel() is CancelAction.NOTHING


def test_a_keeper_lost_before_active_waits_for_it():
    run = submitted(Phase.SENT)
    seen = []
    assert not run.keeper_lost(lambda: seen.append(run.keeper_lost(lambda: None)))
    deferred = run.activated()
    assert deferred is not None
    deferred()
    assert seen == [True] and run.phase is Phase.ACTIVE


def test_an_attached_job_is_followed_from_the_start():
    run = LocalJob.attached(Job(), '1-1', 1, None, None)
    assert run.phase is Phase.FOLLOWED
    assert run.process_ended(lambda: None)
    assert run.finished()


@pytest.mark.parametrize('phase, transition', [
    (Phase.ACTIVE, lambda run: run.finished()),
    (Phase.SENT, lambda run: run.follow('1-1', 1, None)),
    (Phase.ACTIVE, lambda run: run.ended_unstarted()),
    (Phase.ACTIVE, lambda run: run.activated()),
])
def test_a_transition_without_an_edge_is_refused_and_logged(caplog, phase, transition):
    run = submitted(phase)
    with caplog.at_level(logging.ERROR, logger='psij.executors.local._lifecycle'):
        assert not transition(run)
    assert run.phase is phase
    assert 'illegal transition' in caplog.text, caplog.text


def test_a_second_end_is_refused_and_logged(caplog):
    run = submitted(Phase.ACTIVE)
    assert run.process_ended(lambda: None)
    with caplog.at_level(logging.ERROR, logger='psij.executors.local._lifecycle'):
        assert not run.process_ended(lambda: None)
    assert run.phase is Phase.ENDING and 'illegal transition' in caplog.text


def _race_cancels(n):
    run = submitted(Phase.ACTIVE)
    go = threading.Barrier(n)
    actions = []

    def cancel():
        go.wait()
        actions.append(run.request_cancel())

    threads = [threading.Thread(target=cancel) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return actions


def test_concurrent_cancels_act_once():
    for _ in range(50):
        actions = _race_cancels(8)
        assert sorted(a.name for a in actions) == ['KEEPER'] + ['NOTHING'] * 7
