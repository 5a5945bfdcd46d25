"""Flux results -> PSI/J statuses, from real records and eventlogs (samples/flux-real)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest
from conftest import SAMPLES
from psij import JobState
from psij_flux.cli_backend import parse_jobs_json
from psij_flux.results import (
    EventFolder,
    exit_code_of,
    final_status,
    status_from_record,
    statuses_from_record,
)

# name -> (state, exit code, words the message must contain)
EXPECTED: Dict[str, Tuple[JobState, Optional[int], Tuple[str, ...]]] = {
    'sample-held': (JobState.QUEUED, None, ()),
    'sample-timeout': (JobState.FAILED, None, ('walltime exceeded',
                                               'resource allocation expired')),
    'sample-dep': (JobState.FAILED, 1, ('dependency', 'can never be satisfied')),
    'sample-running': (JobState.CANCELED, 143, ('canceled',)),
    'sample-nocmd': (JobState.FAILED, 127, ('exec', '/nonexistent/cmd: No such file')),
    'sample-opts': (JobState.COMPLETED, 0, ()),
    'sample-toobig': (JobState.FAILED, 1, ('alloc', 'unsatisfiable request')),
    'sample-batch': (JobState.FAILED, 4, ()),
    'sample-wrap': (JobState.COMPLETED, 0, ()),
    'sample-batch-1node': (JobState.FAILED, 4, ()),
    'sample-ok': (JobState.COMPLETED, 0, ()),
    'sample-fail': (JobState.FAILED, 3, ()),
}

# eventlog sample -> job name in flux_jobs_--json_-a.out
EVENTLOGS = {
    'flux_job_eventlog.out': 'sample-fail',
    'flux_job_eventlog_ok.out': 'sample-ok',
    'flux_job_eventlog_batch.out': 'sample-batch',
    'flux_job_eventlog_timeout.out': 'sample-timeout',
    'flux_job_eventlog_cancelled.out': 'sample-running',
    'flux_job_eventlog_dep.out': 'sample-dep',
    'flux_job_eventlog_toobig.out': 'sample-toobig',
    'flux_job_eventlog_nocmd.out': 'sample-nocmd',
    'flux_job_eventlog_held.out': 'sample-held',
}


def _records() -> Dict[str, Dict[str, Any]]:
    recs = parse_jobs_json((SAMPLES / 'flux_jobs_--json_-a.out').read_text())
    return {r['name']: r for r in recs}


def parse_eventlog(text: str) -> List[Tuple[float, str, Dict[str, Any]]]:
    """Parses ``flux job eventlog`` lines: ``TIMESTAMP NAME key=value ...`` (JSON values)."""
    dec = json.JSONDecoder()
    out = []
    for line in text.splitlines():
        ts, _, rest = line.partition(' ')
        name, _, rest = rest.partition(' ')
        ctx: Dict[str, Any] = {}
        while rest:
            key, _, rest = rest.partition('=')
            if rest[:1] in ('"', '{', '['):
                value, end = dec.raw_decode(rest)
                rest = rest[end:].lstrip()
            else:
                word, _, rest = rest.partition(' ')
                try:
                    value = json.loads(word)
                except ValueError:
                    value = word
            ctx[key.strip()] = value
        out.append((float(ts), name, ctx))
    return out


def _check(name: str, state: JobState, code: Optional[int], message: Optional[str]) -> None:
    want_state, want_code, words = EXPECTED[name]
    assert state is want_state, name
    if want_state.final:
        assert code == want_code, name
    for w in words:
        assert message is not None and w in message, (name, message)
    if want_state in (JobState.COMPLETED,) or (want_state is JobState.FAILED and not words):
        assert message is None, (name, message)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_record(name: str) -> None:
    st = status_from_record(_records()[name])
    assert st is not None
    _check(name, st.state, st.exit_code, st.message)


@pytest.mark.parametrize('sample', sorted(EVENTLOGS))
def test_eventlog(sample: str) -> None:
    """Folding the eventlog gives the same answer as the record of the same job."""
    folder = EventFolder()
    states = []
    last = None
    for ts, name, ctx in parse_eventlog((SAMPLES / sample).read_text()):
        st = folder.fold(name, ctx, ts)
        if st is not None:
            states.append(st.state)
            last = st
    assert last is not None
    job = EVENTLOGS[sample]
    _check(job, last.state, last.exit_code, last.message)
    rec = status_from_record(_records()[job])
    assert rec is not None and rec.state is last.state and rec.exit_code == last.exit_code
    assert states[0] is JobState.QUEUED
    assert [s for s in states if s.final] == ([last.state] if last.state.final else [])
    ran = any(n == 'start' for _, n, _ in parse_eventlog((SAMPLES / sample).read_text()))
    assert (JobState.ACTIVE in states) == ran


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_record_of_a_job_that_ran_includes_active(name: str) -> None:
    rec = _records()[name]
    sts = statuses_from_record(rec)
    ran = bool(rec.get('t_run'))
    assert [s.state for s in sts[:-1]] == ([JobState.ACTIVE] if ran and sts[-1].final else [])
    assert sts[-1].state is EXPECTED[name][0]


def test_one_record_and_several() -> None:
    one = parse_jobs_json((SAMPLES / 'flux_jobs_--json_ID.out').read_text())
    several = parse_jobs_json((SAMPLES / 'flux_jobs_--json_ids.out').read_text())
    assert [r['id'] for r in one] == [19176357888]
    assert len(several) == 2 and several[0]['id'] == 19176357888
    assert parse_jobs_json('') == []


def test_active_records() -> None:
    assert status_from_record({'state': 'SCHED', 't_submit': 1.0}).state is JobState.QUEUED
    st = status_from_record({'state': 'RUN', 't_run': 2.0})
    assert st is not None and st.state is JobState.ACTIVE
    assert status_from_record({'state': 'CLEANUP', 't_run': 0.0}).state is JobState.QUEUED
    assert status_from_record({}) is None


def test_exit_codes() -> None:
    assert exit_code_of(768) == 3
    assert exit_code_of(36352) == 142
    assert exit_code_of(9) == 137  # killed by SIGKILL without a shell
    assert exit_code_of(None) is None


def test_cancel_while_pending_has_no_exit_code() -> None:
    folder = EventFolder()
    folder.fold('submit', {}, 1.0)
    folder.fold('exception', {'type': 'cancel', 'severity': 0, 'note': ''}, 2.0)
    st = folder.fold('clean', {}, 3.0)
    assert st is not None and st.state is JobState.CANCELED and st.exit_code is None
    assert folder.fold('clean', {}, 4.0) is None


def test_non_fatal_exception_is_ignored() -> None:
    folder = EventFolder()
    folder.fold('exception', {'type': 'test', 'severity': 3, 'note': 'just a warning'}, 1.0)
    st = folder.fold('finish', {'status': 0}, 2.0)
    assert st is not None and st.state is JobState.COMPLETED and st.message is None


def test_a_canceled_jobs_exit_1_is_not_taken_for_its_own() -> None:
    # Flux records 1 (wait status 256) for a canceled job whose task trapped SIGTERM and
    # exited 0, as for one that exited 1: no exit code rather than a made-up one
    st = final_status(256, 'cancel', '')
    assert (st.state, st.exit_code) == (JobState.CANCELED, None)
    assert final_status(1280, 'cancel', '').exit_code == 5
    assert final_status(15, 'cancel', '').exit_code == 143


def test_a_failing_pre_launch_script_is_named_with_its_exit_code() -> None:
    note = 'psij: the pre-launch script /x/pre.sh failed with exit code 7'
    # Flux's shell may kill the task (SIGTERM) before it exits with the script's code
    st = final_status(15, 'prelaunch', note)
    assert (st.state, st.exit_code) == (JobState.FAILED, 7)
    assert st.message == 'The pre-launch script /x/pre.sh failed with exit code 7'
