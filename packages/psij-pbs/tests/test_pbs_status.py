"""The qstat parsers and the mapping of PBS's verdicts, on real outputs (tests/samples)."""

from __future__ import annotations

import pytest
from pbs_helpers import SAMPLES
from psij import JobState
from psij_pbs.classic import classic_to_job_status
from psij_pbs.executor import pbs_to_job_status
from psij_pbs.pbs_status import (
    describe_pbs_failure,
    exit_code_of,
    is_pbs_json,
    parse_qstat_json,
    parse_qstat_text,
)

REAL = SAMPLES / 'pbspro-real'
SITES = SAMPLES / 'pbspro'


def _one(name: str) -> tuple[str, JobState, object, object]:
    jobs = parse_qstat_json((REAL / name).read_text())
    assert len(jobs) == 1, jobs
    job_id, job = next(iter(jobs.items()))
    st = pbs_to_job_status(job)
    return job_id, st.state, st.exit_code, st.message


@pytest.mark.parametrize('name, state, code, words', [
    ('qstat_-x_-f_-F_json_exit3.out', JobState.FAILED, 3, None),
    ('qstat_-xf_-F_json_finished_directives.out', JobState.COMPLETED, 0, None),
    ('qstat_-x_-f_-F_json_killed_sig9.out', JobState.FAILED, 137, 'SIGKILL'),
    ('qstat_-x_-f_-F_json_killed_sig15.out', JobState.FAILED, 143, 'SIGTERM'),
    ('qstat_-x_-f_-F_json_walltime_killed.out', JobState.FAILED, None, 'walltime exceeded (3 s)'),
    ('qstat_-x_-f_-F_json_cput_killed.out', JobState.FAILED, None, 'CPU-time limit exceeded (3 s)'),
    ('qstat_-x_-f_-F_json_deleted_running.out', JobState.CANCELED, 0, 'deleted'),
    ('qstat_-x_-f_-F_json_deleted_running_script.out', JobState.CANCELED, 0, 'deleted'),
    ('qstat_-x_-f_-F_json_deleted_queued.out', JobState.CANCELED, None, 'Insufficient'),
    ('qstat_-x_-f_-F_json_deleted_held.out', JobState.CANCELED, None, 'deleted'),
    ('qstat_-x_-f_-F_json_depend_on_unknown.out', JobState.FAILED, None, 'without running'),
    ('qstat_-x_-f_-F_json_depend_finished.out', JobState.COMPLETED, 0, None),
    ('qstat_-f_-F_json_running.out', JobState.ACTIVE, None, None),
    ('qstat_-x_-f_-F_json_running_with_-x.out', JobState.ACTIVE, None, None),
    ('qstat_-f_-F_json_queued.out', JobState.QUEUED, None, 'Not Running'),
    ('qstat_-f_-F_json_held.out', JobState.QUEUED, None, None),
    ('qstat_-f_-F_json_waiting.out', JobState.QUEUED, None, None),
    ('qstat_-f_-F_json_depend_held.out', JobState.QUEUED, None, None),
    ('qstat_-f_-F_json_too_big_queued.out', JobState.QUEUED, None, 'Can Never Run'),
    ('qstat_-f_-F_json_array_running.out', JobState.ACTIVE, None, None),
])
def test_real_openpbs_outputs(name: str, state: JobState, code: object,
                              words: object) -> None:
    _, got_state, got_code, msg = _one(name)
    assert got_state is state
    assert got_code == code
    if words is not None:
        assert msg is not None and str(words) in str(msg), msg


def test_known_and_unknown_ids_keep_the_known() -> None:
    jobs = parse_qstat_json((REAL / 'qstat_-x_-f_-F_json_known_and_unknown.out').read_text())
    assert list(jobs) == ['9.vm']
    assert jobs['9.vm'].exit_status == 3


def test_two_ids_in_one_call() -> None:
    jobs = parse_qstat_json((REAL / 'qstat_-x_-f_-F_json_two_ids.out').read_text())
    assert sorted(jobs) == ['10.vm', '9.vm']


@pytest.mark.parametrize('name', ['qstat_-x_-f_-F_json_unknown.out',
                                  'qstat_-f_-F_json_unknown.out',
                                  'qstat_-f_-F_json_finished_no_-x.out'])
def test_header_only_documents_hold_no_jobs(name: str) -> None:
    text = (REAL / name).read_text()
    assert not text.endswith('\n')  # the real layout: header-only JSON has no final newline
    assert parse_qstat_json(text) == {}


def test_production_site_outputs() -> None:
    jobs = parse_qstat_json((SITES / 'qstat_-xf_-F_json_running_pbs19.out').read_text())
    assert [j.state for j in jobs.values()] == ['R']
    assert parse_qstat_json(
        (SITES / 'qstat_-f_-F_json_finished_without_-x_polaris.out').read_text()) == {}
    # the Gadi sample's timestamp was redacted to "xxx" (not JSON): with the real number back
    gadi = (SITES / 'qstat_-xf_-F_json_unknown_gadi_REDACTED.out').read_text()
    assert parse_qstat_json(gadi.replace(':xxx', ':1700000000')) == {}
    two = parse_qstat_json(
        (SITES / 'qstat_-f_-F_json_all_two_running_openpbs20_REINDENTED.out').read_text())
    assert len(two) == 2 and all(j.state == 'R' for j in two.values())
    # cJSON's tab layout of OpenPBS after 23.06 (the sample elides the job's attributes)
    tabbed = (SITES / 'qstat_-f_-F_json_two_ids_only_first_returned_openpbs-main_ELIDED.out'
              ).read_text().replace('... job details', '"job_state":\t"R",')
    assert [j.state for j in parse_qstat_json(tabbed).values()] == ['R']


def test_exit_status_as_a_string_is_read() -> None:
    doc = '{"pbs_version":"22.05.11","Jobs":{"1.s":{"job_state":"F","substate":93,' \
          '"Exit_status":"7"}}}'
    st = pbs_to_job_status(parse_qstat_json(doc)['1.s'])
    assert (st.state, st.exit_code) == (JobState.FAILED, 7)


@pytest.mark.parametrize('text', ['', 'garbage', '{"Jobs": [1, 2]}', '[1]',
                                  '{"timestamp":1,"pbs_version":"23", "Jobs":{"1.vm":{"job',
                                  '<?xml version="1.0"?><job_info></job_info>'])
def test_garbage_is_an_error_not_an_empty_answer(text: str) -> None:
    with pytest.raises(ValueError):
        parse_qstat_json(text)


def test_is_pbs_json() -> None:
    assert is_pbs_json((REAL / 'qstat_-x_-f_-F_json_unknown.out').read_text())
    assert not is_pbs_json('job-ID  prior   name       user')


def test_text_form_of_openpbs() -> None:
    jobs = parse_qstat_text((REAL / 'qstat_-fx_text_exit3.out').read_text())
    assert list(jobs) == ['9.vm']
    st = pbs_to_job_status(jobs['9.vm'])
    assert (st.state, st.exit_code) == (JobState.FAILED, 3)
    running = parse_qstat_text((REAL / 'qstat_-fx_text_running.out').read_text())
    assert [j.state for j in running.values()] == ['R']


def test_text_form_with_wrapped_values() -> None:
    jobs = parse_qstat_text((SITES / 'qstat_-f_text_multi_Q_R_H_pbspro-2013.out').read_text())
    assert len(jobs) == 6
    assert sorted(j.state for j in jobs.values()) == ['H', 'H', 'Q', 'Q', 'R', 'R']


def test_torque_sample() -> None:
    jobs = parse_qstat_text((SITES / 'torque_qstat_-f_text_multi_2015.out').read_text())
    assert len(jobs) == 10
    states = sorted(j.state for j in jobs.values())
    assert states.count('C') == 2 and states.count('Q') == 5
    completed = [j for j in jobs.values() if j.state == 'C']
    assert all(j.exit_status == 271 for j in completed)
    for j in completed:
        st = classic_to_job_status(j)
        assert st.state is JobState.CANCELED and st.exit_code == 143
    held = classic_to_job_status(jobs['549159'])
    assert held.state is JobState.QUEUED


@pytest.mark.parametrize('status, words', [(-29, 'walltime'), (-27, 'memory limit'),
                                           (-17, 'hook'), (-99, 'PBS ended the job'),
                                           (265, 'SIGKILL'), (271, 'SIGTERM')])
def test_pbs_reasons(status: int, words: str) -> None:
    msg = describe_pbs_failure(status)
    assert msg is not None and words in msg and str(status) in msg


def test_plain_exit_codes_have_no_pbs_reason() -> None:
    assert describe_pbs_failure(3) is None
    assert [exit_code_of(s) for s in (None, -29, 0, 3, 255, 265, 271)] == \
        [None, None, 0, 3, 255, 137, 143]
