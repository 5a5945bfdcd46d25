"""The parsers of qstat -xml, qstat -j and qacct, and the mapping of Grid Engine's verdicts, on
real outputs of Grid Engine 8.1.9 (tests/samples/sge)."""

from __future__ import annotations

import pytest
from psij import JobState
from psij_sge.sge_status import (
    acct_to_job_status,
    is_grid_engine_banner,
    parse_error_reasons,
    parse_qacct,
    parse_qstat_xml,
    qstat_to_job_status,
)
from sge_helpers import SAMPLES

S = SAMPLES / 'sge'


def _read(name: str) -> str:
    return (S / name).read_text()


@pytest.mark.parametrize('name', ['qstat_-xml.out', 'qstat_-u_all_-xml.out'])
def test_pending_and_running_jobs(name: str) -> None:
    jobs = parse_qstat_xml(_read(name))
    assert {k: j.state for k, j in jobs.items()} == {
        '9': 'r', '10': 'r', '12': 't', '14': 'qw', '11': 'hqw'}
    assert jobs['14'].slots == 4 and jobs['9'].queue == 'all.q@vm'
    assert jobs['9'].name == 'sample-running' and jobs['11'].owner == 'root'
    states = {k: qstat_to_job_status(j).state for k, j in jobs.items()}
    assert states == {'9': JobState.ACTIVE, '10': JobState.ACTIVE, '12': JobState.QUEUED,
                      '14': JobState.QUEUED, '11': JobState.QUEUED}
    assert qstat_to_job_status(jobs['11']).metadata == {'sge_state': 'hqw'}


def test_error_state_is_failed_with_the_reason() -> None:
    jobs = parse_qstat_xml(_read('qstat_-xml_Eqw.out'))
    assert list(jobs) == ['17'] and jobs['17'].error
    reason = parse_error_reasons(_read('qstat_-j_Eqw.out'))
    assert reason == {'12': "error: can't chdir to /nonexistent/dir: No such file or directory"}
    st = qstat_to_job_status(jobs['17'], reason['12'])
    assert st.state is JobState.FAILED
    assert st.message is not None and 'Eqw' in st.message and 'chdir' in st.message


def test_error_reasons_of_a_list_of_jobs() -> None:
    reasons = parse_error_reasons(_read('qstat_-j_list.out'))
    assert list(reasons) == ['12']
    assert parse_error_reasons(_read('qstat_-j_held.out')) == {}
    assert parse_error_reasons(_read('qstat_-j_running.out')) == {}


def test_deleting_and_other_states() -> None:
    from psij_sge.sge_status import SgeJob
    expected = {'dr': JobState.ACTIVE, 'dt': JobState.QUEUED, 'dqw': JobState.QUEUED,
                'Rr': JobState.ACTIVE, 's': JobState.ACTIVE, 'S': JobState.ACTIVE,
                'hRwq': JobState.QUEUED, 'Ehqw': JobState.FAILED}
    got = {s: qstat_to_job_status(SgeJob(s)).state for s in expected}
    assert got == expected
    assert SgeJob('dr').deleting and not SgeJob('r').deleting


def test_zombie_list() -> None:
    zombies = parse_qstat_xml(_read('qstat_-s_z_-xml.out'))
    assert sorted(zombies, key=int) == ['4', '5', '6', '7', '8', '13']
    assert {j.state for j in zombies.values()} == {'z'}


@pytest.mark.parametrize('text', ['', 'pbs_version = 23.06.06\n', '{"Jobs": {}}',
                                  '<?xml version="1.0"?>\n<unknown_jobs>'])
def test_not_grid_engine_xml_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_qstat_xml(text)


def test_unknown_job_xml_of_qstat_j_is_refused() -> None:
    with pytest.raises(ValueError, match='not Grid Engine'):
        parse_qstat_xml(_read('qstat_-j_finished_-xml.out'))


@pytest.mark.parametrize('name, number, state, code, words', [
    ('qacct_-j_ok.out', '7', JobState.COMPLETED, 0, None),
    ('qacct_-j_mpi.out', '13', JobState.COMPLETED, 0, None),
    ('qacct_-j_failed.out', '8', JobState.FAILED, 3, None),
    ('qacct_-j_h_rt.out', '10', JobState.FAILED, None, 'walltime exceeded (5 s)'),
    ('qacct_-j_h_cpu.out', '2096', JobState.FAILED, None, 'CPU-time limit exceeded (3 s)'),
    ('qacct_-j_deleted.out', '9', JobState.FAILED, 137, 'killed by SIGKILL'),
])
def test_accounting_records(name: str, number: str, state: JobState, code: object,
                            words: object) -> None:
    recs = parse_qacct(_read(name))
    assert list(recs) == [number]
    st = acct_to_job_status(recs[number])
    assert (st.state, st.exit_code) == (state, code)
    if words is None:
        assert st.message is None
    else:
        assert st.message is not None and str(words) in st.message, st.message


def test_a_deleted_job_with_a_cpu_limit_is_canceled() -> None:
    rec = parse_qacct(_read('qacct_-j_h_cpu.out'))['2096']
    assert acct_to_job_status(rec, deleted=True).state is JobState.CANCELED


def test_a_kill_is_canceled_only_when_the_job_was_deleted() -> None:
    # a qdel and a job that SIGKILLed its own process group leave the same record
    rec = parse_qacct(_read('qacct_-j_deleted.out'))['9']
    st = acct_to_job_status(rec, deleted=True)
    assert (st.state, st.exit_code) == (JobState.CANCELED, 137), st
    st = acct_to_job_status(rec)
    assert (st.state, st.exit_code) == (JobState.FAILED, 137), st


def test_accounting_record_fields() -> None:
    rec = parse_qacct(_read('qacct_-j_mpi.out'))['13']
    assert (rec.granted_pe, rec.slots, rec.failed, rec.exit_status) == ('mpi', 2, 0, 0)
    rt = parse_qacct(_read('qacct_-j_h_rt.out'))['10']
    assert (rt.failed, rt.exit_status) == (37, 137)
    assert rt.failed_text == 'qmaster enforced h_rt, h_cpu, or h_vmem limit'


def test_several_records_at_once_and_none() -> None:
    text = ''.join(_read(n) for n in ('qacct_-j_ok.out', 'qacct_-j_failed.out',
                                      'qacct_-j_deleted.out', 'qacct_-j_h_rt.out'))
    recs = parse_qacct(text)
    assert sorted(recs, key=int) == ['7', '8', '9', '10']
    assert recs['8'].exit_status == 3
    assert parse_qacct('') == {}


def test_the_newest_record_of_a_reused_id_wins() -> None:
    old = _read('qacct_-j_failed.out')
    new = old.replace('exit_status  3 ', 'exit_status  0 ')
    assert parse_qacct(old + new)['8'].exit_status == 0


def test_other_failed_codes_are_failed_with_the_reason() -> None:
    text = _read('qacct_-j_failed.out').replace('failed       0    ',
                                                'failed       26  : opening input/output file')
    st = acct_to_job_status(parse_qacct(text)['8'])
    assert st.state is JobState.FAILED
    assert st.message is not None and 'output file' in st.message and '26' in st.message


def test_the_banner_tells_grid_engine_from_openpbs() -> None:
    assert is_grid_engine_banner(_read('qstat_-help.out'))
    assert not is_grid_engine_banner(_read('openpbs_qstat_-help.err'))
    assert not is_grid_engine_banner('pbs_version = 23.06.06\n')
    assert is_grid_engine_banner('OGS/GE 2011.11p1\nusage: qstat [options]\n')
    assert is_grid_engine_banner('UGE 8.6.4\nusage: qstat [options]\n')
