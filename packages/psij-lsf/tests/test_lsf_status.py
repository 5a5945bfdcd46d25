"""The bjobs/bsub/bkill parsers and the LSF -> PSI/J mapping, on the real outputs in
``samples/lsf`` (see its INDEX.md) and on the documented formats of FACTS L1-L6."""

from __future__ import annotations

from pathlib import Path

import pytest
from psij import JobState
from psij_lsf.executor import INVALID_JOB_MESSAGES, lsf_to_job_status
from psij_lsf.lsf_status import (
    ACTIVE,
    CANCELED,
    COMPLETED,
    FAILED,
    LSF_TO_PSIJ,
    QUEUED,
    LsfJobStatus,
    bjobs_status_command,
    decode_exit_code,
    is_transient,
    job_id_from_bsub,
    json_job_ids,
    json_unsupported,
    not_found_ids,
    parse_bjobs,
    parse_bjobs_delimited,
    parse_bjobs_json,
    parse_bjobs_table,
    says_no_jobs,
    term_key,
    to_psij,
)

S = Path(__file__).parent / 'samples' / 'lsf'


def sample(name: str) -> str:
    return (S / name).read_text()


def test_every_sample_is_used_by_this_file() -> None:
    here = Path(__file__).read_text()
    unused = [p.name for p in S.iterdir() if p.name != 'INDEX.md' and p.name not in here]
    assert not unused, unused


@pytest.mark.parametrize('name,job_id', [
    ('bsub_success_queue_ert.out', '984097'),
    ('bsub_success_default_queue_nextflow.out', '2329803'),
    ('bsub_success_default_queue_toil.out', '39605914'),
    ('bsub_success_with_esub_line_lsf7.out', '473713'),
])
def test_bsub_job_id(name: str, job_id: str) -> None:
    assert job_id_from_bsub(sample(name)) == job_id
    assert job_id_from_bsub('LSF is processing your request. Please wait ...\n'
                            + sample(name)) == job_id


@pytest.mark.parametrize('name', [
    'bsub_error_bad_n.err', 'bsub_error_no_such_queue.err', 'bsub_error_rusage_section.err',
    'bsub_error_select_section_REWRAPPED.err'])
def test_bsub_errors_are_invalid_requests_not_transient(name: str) -> None:
    text = sample(name)
    assert job_id_from_bsub(text) is None
    assert any(m in text for m in INVALID_JOB_MESSAGES)
    assert not is_transient(text)


@pytest.mark.parametrize('name,stat', [
    ('bjobs_PEND_lsf7.out', 'PEND'), ('bjobs_RUN_lsf7.out', 'RUN'),
    ('bjobs_EXIT_killed_lsf7.out', 'EXIT'), ('bjobs_-W_-w_EXIT_killed_lsf7.out', 'EXIT')])
def test_default_table_lsf7(name: str, stat: str) -> None:
    a = parse_bjobs(sample(name))
    assert a.jobs == {'473713': LsfJobStatus(stat, None, None)}
    assert not a.not_found


def test_table_multihost_and_done() -> None:
    a = parse_bjobs_table(sample('bjobs_-a_RUN_multihost.out'))
    assert list(a.jobs) == ['5182892'] and a.jobs['5182892'].stat == 'RUN'
    assert parse_bjobs(sample('bjobs_-a_DONE.out')).jobs['5182966'].stat == 'DONE'


def test_wide_listing_of_every_state() -> None:
    a = parse_bjobs(sample('bjobs_-w_all_states_nextflow.out'))
    stats = {k: v.stat for k, v in a.jobs.items()}
    assert stats['5085604'] == 'PEND' and stats['5085611'] == 'PSUSP'
    assert stats['5085107'] == 'EXIT' and stats['5085607'] == 'UNKWN'
    assert stats['5085608'] == 'ZOMBI' and stats['5085606'] == 'DONE'
    assert len(a.jobs) == 13
    psij = {k: to_psij(v) for k, v in a.jobs.items()}
    assert psij['5085611'] is not None and psij['5085611'].state == QUEUED  # held
    # UNKWN and ZOMBI are not final: the job is neither lost nor ended yet
    assert psij['5085607'] is not None and psij['5085607'].state == ACTIVE
    assert psij['5085608'] is not None and psij['5085608'].state == ACTIVE


def test_please_wait_prefix() -> None:
    a = parse_bjobs(sample('bjobs_with_please_wait_prefix_nextflow.out'))
    assert len(a.jobs) == 6 and all(s.stat == 'RUN' for s in a.jobs.values())
    assert is_transient(sample('bjobs_with_please_wait_prefix_nextflow.out'))


def test_delimiter_form_lsf9() -> None:
    a = parse_bjobs_delimited(sample('bjobs_-o_delimiter_DONE_lsf9.out'))
    assert a.jobs == {'261871': LsfJobStatus('DONE', None, None)}
    st = to_psij(a.jobs['261871'])
    assert st is not None and st.state == COMPLETED and st.exit_code == 0


def test_json_finished_jobs() -> None:
    text = sample('bjobs_-a_-json_-o_jobid_job_name_stat_finish_time_EXIT_DONE.out')
    a = parse_bjobs_json(text)
    assert {k: v.stat for k, v in a.jobs.items()} == {
        '487641': 'EXIT', '487642': 'EXIT', '488155': 'EXIT',
        '491861': 'DONE', '491864': 'DONE', '491867': 'DONE'}
    assert json_job_ids(text)[:2] == ['487641', '487642']
    # an EXIT without exit code nor reason: killed, how is unknown
    st = to_psij(a.jobs['487641'])
    assert st is not None and st.state == FAILED and st.exit_code is None and st.message


def test_json_done_full_fields_and_psusp() -> None:
    a = parse_bjobs_json(sample('bjobs_-json_DONE_full_fields.out'))
    assert a.jobs == {'22005': LsfJobStatus('DONE', None, None)}
    # no JOBID asked for: nothing can be attributed, nothing is made up
    assert parse_bjobs_json(sample('bjobs_-o_fields_-json_PSUSP_summit.out')).jobs == {}
    held = '{"RECORDS":[{"JOBID":"58652","STAT":"PSUSP","EXIT_CODE":""}]}'
    st = lsf_to_job_status(parse_bjobs_json(held).jobs['58652'])
    assert st is not None and st.state is JobState.QUEUED


def test_unknown_ids_text_and_json_error_records() -> None:
    assert sample('bjobs_unknown_id.out') == ''
    assert not_found_ids(sample('bjobs_unknown_id.err')) == {'943186'}
    mixed = sample('bjobs_-a_-json_-o_jobid_job_name_stat_finish_time_EXIT_DONE.out') + \
        sample('bjobs_unknown_id.err')
    a = parse_bjobs(mixed)
    assert len(a.jobs) == 6 and a.not_found == {'943186'}
    rec = ('{"COMMAND":"bjobs","JOBS":2,"RECORDS":[{"JOBID":"1","STAT":"RUN","EXIT_CODE":"",'
           '"EXIT_REASON":""},{"JOBID":"2","ERROR":"Job <2> is not found"}]}')
    a = parse_bjobs_json(rec)
    assert list(a.jobs) == ['1'] and a.not_found == {'2'}
    assert says_no_jobs(sample('bjobs_no_unfinished_job_DOC.err'))
    assert says_no_jobs('No job found\n')


def test_bkill_outputs() -> None:
    from psij_lsf.executor import _ALREADY_DONE
    assert _ALREADY_DONE.search(sample('bkill_finished.err'))
    assert _ALREADY_DONE.search('Job <5>: No matching job found')
    for name in ('bkill_running_ert.out', 'bkill_running_lsf7.out'):
        assert sample(name).endswith('is being terminated\n')


def test_long_format_sample_is_not_a_status_answer() -> None:
    # bjobs -l is for people; the executor never asks for it, and its parser ignores it
    assert parse_bjobs(sample('bjobs_-l_EXIT_code42_lsf7.out')).jobs == {}


@pytest.mark.parametrize('reason,state,words', [
    ('TERM_RUNLIMIT: job killed after reaching LSF run time limit', FAILED, 'time limit'),
    ('TERM_MEMLIMIT: job killed after reaching LSF memory usage limit', FAILED, 'memory'),
    ('TERM_OWNER: job killed by owner', CANCELED, 'canceled'),
    ('TERM_ADMIN: job killed by root or LSF administrator', CANCELED, 'canceled'),
    ('TERM_FORCE_OWNER: job killed by owner without time for cleanup', CANCELED, 'canceled'),
    ('TERM_CPULIMIT: job killed after reaching LSF CPU usage limit', FAILED, 'CPU'),
    ('TERM_PREEMPT: job killed after preemption', FAILED, 'preempted'),
])
def test_exit_reasons(reason: str, state: str, words: str) -> None:
    st = to_psij(LsfJobStatus('EXIT', None, reason))
    assert st is not None and st.state == state
    assert st.message is not None and words in st.message and reason in st.message


def test_exit_codes_and_signals() -> None:
    plain = to_psij(LsfJobStatus('EXIT', 42, None))
    assert plain == (FAILED, None, 42)  # the executor adds the output tail
    killed = to_psij(LsfJobStatus('EXIT', 137, None))
    assert killed is not None and killed.exit_code == 137 and killed.message is None
    assert decode_exit_code(137) == (137, 9) and decode_exit_code(3) == (3, None)
    assert decode_exit_code(None) == (None, None)
    st = to_psij(LsfJobStatus('EXIT', 143, 'TERM_RUNLIMIT: job killed after reaching LSF run '
                                           'time limit'))
    assert st is not None and 'SIGTERM' in (st.message or '')
    assert to_psij(LsfJobStatus('DONE', None, None)) == (COMPLETED, None, 0)
    assert term_key('TERM_OWNER: job killed by owner') == 'TERM_OWNER'
    assert term_key('') is None


def test_state_map_covers_every_documented_state() -> None:
    for stat in ('PEND', 'PROV', 'PSUSP', 'RUN', 'USUSP', 'SSUSP', 'DONE', 'EXIT', 'UNKWN',
                 'WAIT', 'ZOMBI'):
        assert stat in LSF_TO_PSIJ
    assert to_psij(LsfJobStatus('NEWSTATE', None, None)) is None


def test_status_commands() -> None:
    assert bjobs_status_command(['1', '2']) == [
        'bjobs', '-a', '-o', 'jobid stat exit_code exit_reason', '-json', '1', '2']
    assert bjobs_status_command(['1'], use_json=False, bjobs='/opt/lsf/bin/bjobs') == [
        '/opt/lsf/bin/bjobs', '-a', '-o', "jobid stat exit_code exit_reason delimiter='|'", '1']
    with pytest.raises(ValueError):
        bjobs_status_command([])


def test_transient_and_json_support() -> None:
    assert is_transient('Cannot connect to LSF. Please wait ...')
    assert not is_transient('rhel7: No such queue. Job not submitted.')
    assert json_unsupported('-json: Illegal option.\nUsage: bjobs ...')
    assert not json_unsupported('{"COMMAND":"bjobs"}')


def test_delimited_reason_with_delimiter_inside() -> None:
    text = 'JOBID|STAT|EXIT_CODE|EXIT_REASON\n7|EXIT|-|TERM_OTHER: a|b\n'
    a = parse_bjobs_delimited(text)
    assert a.jobs['7'] == LsfJobStatus('EXIT', None, 'TERM_OTHER: a|b')
