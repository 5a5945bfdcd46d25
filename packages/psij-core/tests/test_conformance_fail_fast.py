"""
The kit rejects a broken executor quickly, with a readable report: the whole kit (default
per-check timeout of 120 s) against an executor that never reports ACTIVE, one that raises in
submit() and one that ignores cancel. The wall time of each run is printed, not asserted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from test_conformance_kit import outcomes, run_kit

NOT_RUN = 'not run: the executor failed the smoke job, see SmokeChecks.test_smoke_job'


def _whole_kit(tmp_path: Path, executor: str) -> tuple[int, Dict[str, Any], str]:
    t0 = time.monotonic()
    rc, report, out = run_kit(tmp_path, executor, timeout=120)
    print('the whole kit against %s: exit %d in %.1f s wall time (%s)'
          % (executor, rc, time.monotonic() - t0, report.get('summary')))
    return rc, report, out


@pytest.mark.parametrize('executor, problem, seen', [
    ('broken-never-active', 'the job was never reported ACTIVE within 30.0 s (it stayed QUEUED; '
     'if the scheduler is busy, give it longer with --psij-smoke-timeout)',
     'states reported: QUEUED'),
    ('broken-raises-in-submit', 'submit() of a trivial job raised SubmitException: cannot reach '
     'the backend at example://nowhere', 'submit() raised SubmitException'),
])
def test_smoke_failure_fails_every_job_check_at_once(tmp_path: Path, executor: str,
                                                     problem: str, seen: str) -> None:
    rc, report, out = _whole_kit(tmp_path, executor)
    assert rc == 1, out
    smoke = report['smoke']
    assert smoke['passed'] is False and smoke['problem'] == problem, smoke
    assert any(seen in line for line in smoke['seen']), smoke
    got = outcomes(report)
    assert got.pop('SmokeChecks.test_smoke_job') == 'failed'
    checks = {c['check']: c for c in report['checks']}
    not_run: List[str] = []
    for name, outcome in got.items():
        if outcome == 'skipped':  # declared unsupported: skipped before the smoke gate
            assert 'unsupported capability' in checks[name]['message'], checks[name]
            continue
        assert outcome == 'error', (name, outcome)
        assert checks[name]['message'].startswith(NOT_RUN + ': ' + problem), checks[name]
        not_run.append(name)
    assert len(not_run) >= 30, not_run
    # the text report: the smoke failure with what was expected and seen, the rest counted
    tail = out[out.index('psij conformance:'):]
    assert 'FAILED SmokeChecks.test_smoke_job: the smoke job failed: ' + problem in tail
    assert 'expected: submit() returns a native id; the job is reported ACTIVE' in tail
    assert '%d other check(s) not run: the executor failed the smoke job' % len(not_run) in tail
    assert 'ERROR StateChecks' not in tail  # not listed one by one


def test_ignored_cancel_fails_the_cancel_checks_quickly(tmp_path: Path) -> None:
    rc, report, out = _whole_kit(tmp_path, 'broken-ignores-cancel')
    assert rc == 1, out
    assert report['smoke']['passed'] is True, report['smoke']
    failures = {f['check']: f['reason'] for f in report['failures']}
    assert set(failures) == {'CancelChecks.test_cancel_running_job',
                             'CancelChecks.test_cancel_right_after_submit',
                             'CancelChecks.test_cancel_of_job_trapping_term'}, failures
    first = failures['CancelChecks.test_cancel_running_job']
    assert first.startswith('the executor ignored a cancel: in '
                            'CancelChecks.test_cancel_running_job: job '), first
    assert 's after cancel() (its heartbeat in ' in first, first
    assert 'goes on) and is reported ACTIVE; expected CANCELED (the kit waits ' \
           '--psij-stuck-timeout=20.0 s for the process to stop)' in first, first
    for later in ('CancelChecks.test_cancel_right_after_submit',
                  'CancelChecks.test_cancel_of_job_trapping_term'):
        assert 'giving up at once: the executor already ignored a cancel: in ' \
               'CancelChecks.test_cancel_running_job' in failures[later], failures[later]
    assert report['summary']['passed'] >= 30, report['summary']
    checks = {c['check']: c for c in report['checks']}
    assert checks['CancelChecks.test_cancel_right_after_submit']['duration'] < \
        checks['CancelChecks.test_cancel_running_job']['duration']


def test_unreported_end_is_given_up_on(tmp_path: Path) -> None:
    # the job's process ended (it wrote its end mark) but the executor never says so: the
    # check gives up after --psij-stuck-timeout, not at the per-check timeout of 120 s
    t0 = time.monotonic()
    rc, report, out = run_kit(tmp_path, 'broken-loses-ends', '-k', 'active_while_running',
                              '--psij-stuck-timeout', '3', timeout=120)
    print('a lost end, one check: %.1f s wall time' % (time.monotonic() - t0))
    assert rc == 1, out
    assert report['smoke']['passed'] is True
    reason = {f['check']: f['reason'] for f in report['failures']}[
        'StateChecks.test_active_while_running']
    assert 'its process ended (it wrote ' in reason, reason
    assert 'more than 9.0 s ago (3 x --psij-stuck-timeout), but the executor still ' \
           'reports JobStatus[' in reason, reason


def test_smoke_job_queued_with_a_reason_gets_the_check_timeout(tmp_path: Path) -> None:
    # a busy cluster is no broken executor: a QUEUED status that says why the job waits makes
    # the smoke stage wait up to the per-check timeout (here the job waits 3 s, smoke 1 s)
    rc, report, out = run_kit(tmp_path, 'busy-queue-reference', '-k', 'test_smoke_job',
                              '--psij-smoke-timeout', '1', timeout=60)
    assert rc == 0, out
    smoke = report['smoke']
    assert smoke['passed'] is True, smoke
    assert any("still QUEUED after 1.0 s, the scheduler says 'waiting for resources (busy)'"
               in line for line in smoke['seen']), smoke


def test_executor_not_reporting_active_while_the_job_runs_fails_the_smoke_stage(
        tmp_path: Path) -> None:
    # its jobs go QUEUED -> COMPLETED (the core fills in ACTIVE after the end): the smoke job
    # stays running until it is seen ACTIVE, so this is caught by the smoke stage, not by
    # checks waiting out their time-outs
    t0 = time.monotonic()
    rc, report, out = run_kit(tmp_path, 'broken-no-active', '-k', 'smoke or StateChecks',
                              '--psij-smoke-timeout', '20', timeout=120)
    took = time.monotonic() - t0
    print('never ACTIVE while running: exit %d in %.1f s' % (rc, took))
    assert rc == 1, out
    smoke = report['smoke']
    assert smoke['passed'] is False, smoke
    assert smoke['problem'].startswith('the job was never reported ACTIVE while it ran'), smoke
    print(smoke['problem'])
    assert set(outcomes(report).values()) <= {'failed', 'skipped'}, outcomes(report)
