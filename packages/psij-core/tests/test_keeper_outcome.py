"""The keeper's verdict on a job's end (psij.executors.local._keeper.outcome)."""

from psij.executors.local._keeper import outcome


def test_a_canceled_job_keeps_its_own_exit_code_never_the_cancels_signal() -> None:
    assert outcome(0, True, True, '') == ('CANCELED', 0, 'Canceled')  # trapped TERM, exit 0
    assert outcome(3, True, True, '') == ('CANCELED', 3, 'Canceled')
    # killed by the cancel's SIGKILL (a launcher, e.g. mpirun, slower than the grace period)
    assert outcome(-9, True, True, '') == ('CANCELED', None, 'Canceled')
    assert outcome(-15, True, False, '') == ('CANCELED', None, 'Canceled')


def test_a_job_killed_without_a_cancel_fails_with_the_signal() -> None:
    state, code, msg = outcome(-9, False, False, '')
    assert (state, code) == ('FAILED', -9) and msg is not None and 'SIGKILL' in msg
