"""Unit tests of psij_slurm.slurm_status against real Slurm 22.05 outputs.

samples/slurm and samples/slurm-dbd are copied from the shared LRM samples (their INDEX.md
names each command); samples/ci was captured on the cluster of ci/slurm/start-slurm.sh
(MinJobAge=5, OverMemoryKill) while writing ci/slurm/FACTS.md.
"""

from __future__ import annotations

import pathlib

import pytest
from psij_slurm.slurm_status import (
    ACTIVE,
    CANCELED,
    COMPACT_STATES,
    COMPLETED,
    FAILED,
    FINAL_SLURM_STATES,
    NO_ACCOUNTING,
    QUEUED,
    SLURM_TO_PSIJ,
    TRANSIENT,
    UNKNOWN_JOB,
    PsijStatus,
    SlurmJobStatus,
    classify_error,
    decode_wait_status,
    is_final,
    is_wait_status,
    normalize_state,
    parse_exit_code_pair,
    parse_sacct,
    parse_squeue,
    psij_state,
    sacct_command,
    split_job_id,
    squeue_command,
    to_psij,
)

SAMPLES = pathlib.Path(__file__).parent / 'samples'


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def S(state: str, reason: str | None = None, exit_code: int | None = None,
      sig: int | None = None) -> SlurmJobStatus:
    return SlurmJobStatus(state, reason, exit_code, sig)


# ------------------------------------------------------------------------ primitives

@pytest.mark.parametrize('raw, expected', [
    (0, (0, None)), (768, (3, None)), (1792, (7, None)), (256, (1, None)),
    (35072, (137, None)), (9, (None, 9)), (15, (None, 15)), (0x80 | 11, (None, 11)),
])
def test_decode_wait_status(raw: int, expected: tuple[int | None, int | None]) -> None:
    assert decode_wait_status(raw) == expected


@pytest.mark.parametrize('text, expected', [
    ('0:0', (0, None)), ('3:0', (3, None)), ('0:9', (None, 9)), ('0:15', (None, 15)),
    ('1:15', (1, 15)), ('', (None, None)), ('x:y', (None, None)), ('42', (42, None)),
])
def test_parse_exit_code_pair(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_exit_code_pair(text) == expected


@pytest.mark.parametrize('text, expected', [
    ('COMPLETED', 'COMPLETED'), ('CANCELLED by 0', 'CANCELLED'), ('CANCELLED+', 'CANCELLED'),
    ('CD', 'COMPLETED'), ('PD', 'PENDING'), ('OOM', 'OUT_OF_MEMORY'), ('S', 'SUSPENDED'),
    ('ST', 'STOPPED'), ('timeout', 'TIMEOUT'), ('  RUNNING ', 'RUNNING'), ('', ''),
])
def test_normalize_state(text: str, expected: str) -> None:
    assert normalize_state(text) == expected


@pytest.mark.parametrize('native_id, expected', [
    ('123', ('123', None)), ('123_4', ('123', '4')), ('123_[5-9]', ('123', '[5-9]')),
    ('9_[3-6%2]', ('9', '[3-6%2]')),
])
def test_split_job_id(native_id: str, expected: tuple[str, str | None]) -> None:
    assert split_job_id(native_id) == expected


def test_commands() -> None:
    assert squeue_command(['4', '5']) == [
        'squeue', '--noheader', '--states=all', '--jobs=4,5',
        '--Format=JobID:|,State:|,Reason:|,exit_code:|']
    assert sacct_command(['4', '5']) == [
        'sacct', '-c', '-n', '-P', '-j', '4,5', '--format=JobID,State,ExitCode']
    assert sacct_command(['7'], jobcomp=False) == [
        'sacct', '-X', '-n', '-P', '-j', '7', '--format=JobID,State,ExitCode']
    with pytest.raises(ValueError):
        squeue_command([])
    with pytest.raises(ValueError):
        sacct_command([])


# ------------------------------------------------------------------------ state map

def test_every_slurm_state_is_mapped() -> None:
    assert set(COMPACT_STATES.values()) == set(SLURM_TO_PSIJ)
    assert FINAL_SLURM_STATES == {'COMPLETED', 'CANCELLED', 'FAILED', 'OUT_OF_MEMORY',
                                  'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE'}


@pytest.mark.parametrize('state, expected', [
    ('PENDING', QUEUED), ('CONFIGURING', QUEUED), ('REQUEUED', QUEUED),
    ('REQUEUE_HOLD', QUEUED), ('REQUEUE_FED', QUEUED), ('RESV_DEL_HOLD', QUEUED),
    ('SPECIAL_EXIT', QUEUED), ('REVOKED', QUEUED),
    ('RUNNING', ACTIVE), ('COMPLETING', ACTIVE), ('SUSPENDED', ACTIVE), ('STOPPED', ACTIVE),
    ('SIGNALING', ACTIVE), ('RESIZING', ACTIVE), ('STAGE_OUT', ACTIVE),
    ('COMPLETED', COMPLETED), ('CANCELLED', CANCELED), ('CANCELLED by 0', CANCELED),
    ('FAILED', FAILED), ('OUT_OF_MEMORY', FAILED), ('TIMEOUT', FAILED), ('NODE_FAIL', FAILED),
    ('PREEMPTED', FAILED), ('BOOT_FAIL', FAILED), ('DEADLINE', FAILED),
    ('CG', ACTIVE), ('CA', CANCELED), ('TO', FAILED), ('NOSUCHSTATE', None),
])
def test_psij_state(state: str, expected: str | None) -> None:
    assert psij_state(state) == expected
    assert is_final(state) == (expected in (COMPLETED, FAILED, CANCELED))


@pytest.mark.parametrize('status, state, words', [
    (S('OUT_OF_MEMORY', 'OutOfMemory', None, 125), FAILED, ['out of memory', 'OUT_OF_MEMORY']),
    (S('TIMEOUT', 'TimeLimit', None, 15), FAILED, ['time limit', 'TIMEOUT', 'TimeLimit']),
    (S('NODE_FAIL', 'NodeDown', 0), FAILED, ['node', 'NODE_FAIL']),
    (S('PREEMPTED', None, None, 15), FAILED, ['preempted', 'SIGTERM']),
    (S('BOOT_FAIL'), FAILED, ['boot', 'BOOT_FAIL']),
    (S('DEADLINE'), FAILED, ['deadline', 'DEADLINE']),
    (S('FAILED', 'NonZeroExitCode', 3), FAILED, ['exit code 3', 'NonZeroExitCode']),
    (S('FAILED', 'JobLaunchFailure', None, 9), FAILED, ['SIGKILL', 'JobLaunchFailure']),
    (S('CANCELLED', None, None, 15), CANCELED, ['canceled', 'SIGTERM']),
])
def test_to_psij_messages(status: SlurmJobStatus, state: str, words: list[str]) -> None:
    ps = to_psij(status)
    assert ps is not None
    assert ps.state == state
    assert ps.message is not None
    for w in words:
        assert w.lower() in ps.message.lower(), (w, ps.message)


def test_to_psij_plain() -> None:
    assert to_psij(S('PENDING', 'Priority')) == PsijStatus(QUEUED, None, None)
    assert to_psij(S('RUNNING')) == PsijStatus(ACTIVE, None, None)
    assert to_psij(S('COMPLETED', None, 0)) == PsijStatus(COMPLETED, None, 0)
    assert to_psij(S('FAILED', 'NonZeroExitCode', 3)) == PsijStatus(
        FAILED, 'Job failed (Slurm state FAILED, reason NonZeroExitCode, exit code 3)', 3)
    assert to_psij(S('WHATEVER')) is None
    # cancelled while pending: no misleading "exit code 0" in the message
    ps = to_psij(S('CANCELLED', 'JobHeldUser', 0))
    assert ps is not None and ps.message == 'Job canceled (Slurm state CANCELLED, ' \
        'reason JobHeldUser)'


# ------------------------------------------------------------------------ squeue

def test_squeue_short_format_all_states() -> None:
    # squeue -h -t all -j 4,...,13 -o '%i %T %r'
    r = parse_squeue(sample('slurm/squeue_-t_all_-j_ids.out'))
    assert r == {
        '4': S('COMPLETED'),
        '5': S('FAILED', 'NonZeroExitCode'),  # -o %T gives no exit code
        '8': S('FAILED', 'JobLaunchFailure'),
        '10': S('PENDING', 'BeginTime'),
        '11': S('PENDING', 'Dependency'),
        '12': S('PENDING', 'Resources'),
        '13': S('PENDING', 'PartitionConfig'),
        '9': S('PENDING', 'JobHeldUser'),
        '6': S('RUNNING'),
        '7': S('RUNNING'),
    }
    assert {k: psij_state(v.state) for k, v in r.items()} == {
        '4': COMPLETED, '5': FAILED, '8': FAILED, '10': QUEUED, '11': QUEUED, '12': QUEUED,
        '13': QUEUED, '9': QUEUED, '6': ACTIVE, '7': ACTIVE}


def test_squeue_without_t_all_and_unknown() -> None:
    r = parse_squeue(sample('slurm/squeue_-j_ids.out'))
    assert set(r) == {'6', '7', '9', '10', '11', '12', '13'}   # finished ones are missing
    assert parse_squeue(sample('slurm/squeue_-t_all_-j_known_and_unknown.out')) == {
        '4': S('COMPLETED')}
    assert parse_squeue(sample('slurm/squeue_-j_unknown.out')) == {}
    assert classify_error(1, sample('slurm/squeue_-j_unknown.err')) == UNKNOWN_JOB


def test_squeue_header_short_format() -> None:
    r = parse_squeue(sample('slurm/squeue_--me_-t_all_-o_i_T_r.out'))
    assert len(r) == 13
    assert r['3'] == S('CANCELLED')
    assert r['13'] == S('PENDING', 'PartitionConfig')


def test_squeue_O_fixed_width_with_header() -> None:
    # JOBID ST STATE REASON EXIT_CODE NODES NODELIST, 20-column padding
    r = parse_squeue(sample('slurm/squeue_-t_all_-O_fields.out'))
    assert r['3'] == S('CANCELLED', None, None, 15)
    assert r['1'] == S('COMPLETED', None, 0)
    assert r['2'] == S('FAILED', 'NonZeroExitCode', 3)
    assert r['8'] == S('FAILED', 'JobLaunchFailure', None, 9)
    assert r['10'] == S('PENDING', 'BeginTime')
    assert r['6'] == S('RUNNING')
    assert len(r) == 13


def test_squeue_O_pipe_recommended_format() -> None:
    r = parse_squeue(sample('slurm/squeue_-t_all_-h_-O_fields_pipe.out'))
    assert r['3'] == S('CANCELLED', None, None, 15)
    assert r['4'] == S('COMPLETED', None, 0)
    assert r['5'] == S('FAILED', 'NonZeroExitCode', 3)
    assert r['8'] == S('FAILED', 'JobLaunchFailure', None, 9)
    assert r['9'] == S('PENDING', 'JobHeldUser')
    assert r['7'] == S('RUNNING')
    assert len(r) == 13


def test_squeue_pipe_with_explicit_fields() -> None:
    # -o %i|%T|%t|%r|%j|%u|%D|%C|%N|%M|%l|%S|%e
    fields = ['JOBID', 'STATE', 'ST', 'REASON', 'NAME', 'USER', 'NODES', 'CPUS', 'NODELIST',
              'TIME', 'TIME_LIMIT', 'START_TIME', 'END_TIME']
    r = parse_squeue(sample('slurm/squeue_--me_-t_all_-h_-o_pipe.out'), fields)
    assert r['3'] == S('CANCELLED')
    assert r['5'] == S('FAILED', 'NonZeroExitCode')
    assert r['11'] == S('PENDING', 'Dependency')
    assert len(r) == 13
    # -o %i|%j|%T|%r|%N, after cancels
    r = parse_squeue(sample('slurm/squeue_after_cancel.out'),
                     ['JOBID', 'NAME', 'STATE', 'REASON', 'NODELIST'])
    assert r['10'] == S('CANCELLED', 'BeginTime')
    assert r['11'] == S('PENDING', 'DependencyNeverSatisfied')
    assert r['7'] == S('TIMEOUT', 'TimeLimit')
    assert r['6'] == S('CANCELLED')


def test_squeue_timeout_short() -> None:
    assert parse_squeue(sample('slurm/squeue_timeout.out')) == {'7': S('TIMEOUT', 'TimeLimit')}


def test_squeue_captured_bulk_with_arrays() -> None:
    r = parse_squeue(sample('ci/squeue_-h_-t_all_-j_ids_o_i_T_r.out'))
    assert r['9_[3-6%2]'] == S('PENDING', 'JobArrayTaskLimit')
    assert r['9_1'] == S('RUNNING')
    assert r['10'] == S('PENDING', 'JobHeldUser')
    assert r['5'] == S('FAILED', 'NonZeroExitCode')
    assert len(r) == 9
    # -O JobID gives the raw id of array tasks (12, 13), ArrayJobID/ArrayTaskID are ignored
    # by the positional parser only when named: parse with explicit fields
    r = parse_squeue(sample('ci/squeue_-h_-t_all_-j_ids_O_pipe.out'),
                     ['JOBID', 'ARRAY_JOB_ID', 'ARRAY_TASK_ID', 'STATE', 'REASON', 'EXIT_CODE'])
    assert r['12'] == S('RUNNING')
    assert r['9'] == S('PENDING', 'JobArrayTaskLimit')
    assert r['5'] == S('FAILED', 'NonZeroExitCode', 3)
    assert r['4'] == S('COMPLETED', None, 0)


def test_squeue_captured_arrays_over_time() -> None:
    r = parse_squeue(sample('ci/squeue_array_running.out'))
    assert r == {'26_0': S('COMPLETED'), '26_[2-3%1]': S('PENDING', 'JobArrayTaskLimit'),
                 '26_1': S('RUNNING')}
    r = parse_squeue(sample('ci/squeue_array_running_O.out'),
                     ['JOBID', 'JOBARRAYID', 'STATE', 'REASON', 'EXIT_CODE'])
    assert r == {'27': S('COMPLETED', None, 0), '26': S('PENDING', 'JobArrayTaskLimit'),
                 '28': S('RUNNING')}
    r = parse_squeue(sample('ci/squeue_array_pending_running.out'))
    assert r == {'26_[0-3%1]': S('PENDING')}
    assert split_job_id('26_[0-3%1]') == ('26', '[0-3%1]')


def test_squeue_captured_O_pipe_mixed() -> None:
    # -O JobID:|,State:|,Reason:|,exit_code:|,Name:| with a job name holding '|' and blanks
    r = parse_squeue(sample('ci/squeue_-O_pipe_mixed.out'),
                     ['JOBID', 'STATE', 'REASON', 'EXIT_CODE', 'NAME'])
    assert r == {
        '22': S('CANCELLED', None, None, 15),
        '19': S('COMPLETED', None, 0),
        '20': S('FAILED', 'NonZeroExitCode', 7),
        '21': S('FAILED', 'JobLaunchFailure', None, 9),   # killed by OverMemoryKill
        '24': S('FAILED', 'JobLaunchFailure', None, 9),   # kill -9 $$
        '25': S('FAILED', 'NonZeroExitCode', 1),          # srun rank 1 exited 1
        '23': S('PENDING', 'DependencyNeverSatisfied'),
    }
    r2 = parse_squeue(sample('ci/squeue_-o_pipe_mixed.out'), ['JOBID', 'STATE', 'REASON'])
    assert {k: v.state for k, v in r2.items()} == {k: v.state for k, v in r.items()}


def test_squeue_captured_timeout_oom_step_and_pending_cancel() -> None:
    r = parse_squeue(sample('ci/squeue_-O_timeout.out'))
    (tid, st), = r.items()
    assert st.state == 'TIMEOUT' and st.reason == 'TimeLimit'
    assert st.signal == 15 and st.exit_code is None
    ps = to_psij(st)
    assert ps is not None and ps.state == FAILED and ps.message is not None
    assert 'time limit' in ps.message
    r = parse_squeue(sample('ci/squeue_-O_oomstep_done.out'))
    assert list(r.values()) == [S('FAILED', 'NonZeroExitCode', 137)]
    r = parse_squeue(sample('ci/squeue_-O_pending_cancelled_and_oomstep.out'))
    assert list(r.values()) == [S('CANCELLED', 'JobHeldUser', 0), S('RUNNING')]


def test_squeue_captured_unknown_and_aged_out() -> None:
    assert parse_squeue(sample('ci/squeue_-j_all_aged_out.out')) == {}
    assert parse_squeue(sample('ci/squeue_-j_two_unknown.out')) == {}
    assert classify_error(1, sample('ci/squeue_-j_aged_out_single.err')) == UNKNOWN_JOB
    assert classify_error(1, sample('ci/squeue_ctld_down.err')) == TRANSIENT
    assert classify_error(0, '') is None


def test_squeue_garbage_is_ignored() -> None:
    text = 'slurm_load_jobs error: Invalid job id specified\n\n' \
           'JOBID STATE REASON\n12 RUNNING None\nfoo bar\n'
    assert parse_squeue(text) == {'12': S('RUNNING')}
    # reasons with blanks (state_desc) stay whole in the blank-separated layout
    assert parse_squeue('7 PENDING ReqNodeNotAvail, UnavailableNodes:n[1-3]\n') == {
        '7': S('PENDING', 'ReqNodeNotAvail, UnavailableNodes:n[1-3]')}
    # a reason with '|' in the recommended -O layout
    assert parse_squeue('7|PENDING|a|b|0|\n') == {'7': S('PENDING', 'a|b')}
    # compact state codes
    assert parse_squeue('8 CD None\n9 OOM OutOfMemory\n') == {
        '8': S('COMPLETED'), '9': S('OUT_OF_MEMORY', 'OutOfMemory')}


# ------------------------------------------------------------------------ sacct -c

def test_sacct_c_last_record_wins() -> None:
    # the jobcomp log still held records of older jobs 4, 5, 8 (job ids restarted)
    r = parse_sacct(sample('slurm/sacct_-c_-j_IDS_--format_JobID_State_ExitCode_-P_-n.out'))
    assert r == {'4': S('COMPLETED', None, 0), '5': S('FAILED', None, 3),
                 '8': S('FAILED', None, None, 9)}


def test_sacct_c_with_header_many_fields() -> None:
    r = parse_sacct(sample('slurm/sacct_-c_-j_IDS_-P_many_fields.out'))
    assert r == {'4': S('COMPLETED', None, 0), '5': S('FAILED', None, 3),
                 '8': S('FAILED', None, None, 9)}


def test_sacct_c_after_cancel_and_timeout() -> None:
    fields = ['JobID', 'JobName', 'State', 'ExitCode']
    r = parse_sacct(sample('slurm/sacct_-c_after_cancel.out'), fields)
    assert r['6'] == S('CANCELLED', None, 0)   # jobcomp says 0:0 for cancelled jobs
    assert r['7'] == S('TIMEOUT', None, 0)
    assert r['5'] == S('FAILED', None, 3)
    # job 11 (pending, dependency never satisfied) has no record of its own yet: the one
    # found is from an older job 11 of an earlier cluster whose ids restarted at 1
    assert r['11'] == S('COMPLETED', None, 0)
    assert len(r) == 10
    assert parse_sacct(sample('slurm/sacct_-c_timeout.out')) == {'7': S('TIMEOUT', None, 0)}
    assert parse_sacct(sample('slurm/sacct_-c_-j_unknown.out')) == {}


def test_sacct_c_captured() -> None:
    r = parse_sacct(sample('ci/sacct_-c_multi.out'))
    assert r == {'5': S('FAILED', None, 3), '4': S('COMPLETED', None, 0),
                 '8': S('FAILED', None, None, 9), '6': S('CANCELLED', None, 0)}
    r = parse_sacct(sample('ci/sacct_-c_mixed.out'))
    assert r['20'] == S('FAILED', None, 7)
    assert r['25'] == S('FAILED', None, 1)
    assert '23' not in r     # still pending: jobcomp only has finished jobs
    # array tasks are listed by raw id; stderr complained about ArrayJobId/ArrayTaskId
    r = parse_sacct(sample('ci/sacct_-c_array_all.out'),
                    ['JobID', 'JobIDRaw', 'JobName', 'State', 'ExitCode'])
    assert r == {'12': S('FAILED', None, 1), '13': S('FAILED', None, 2),
                 '14': S('FAILED', None, 3), '15': S('FAILED', None, 4),
                 '9': S('FAILED', None, 5)}
    assert parse_sacct(sample('ci/sacct_-c_unknown.out')) == {}
    r = parse_sacct(sample('ci/sacct_-c_oomstep_timeout.out'))
    assert sorted(s.state for s in r.values()) == ['CANCELLED', 'FAILED', 'TIMEOUT']
    assert S('FAILED', None, 137) in r.values()


def test_sacct_c_job_name_with_blank_loses_state() -> None:
    r = parse_sacct(sample('ci/sacct_-c_name_with_blank.out'),
                    ['JobID', 'JobName', 'State', 'ExitCode'])
    assert r == {'7': S('FAILED', None, 42)}   # 4 and 8 were named 'rank report'


# ------------------------------------------------------------------------ sacct (slurmdbd)

def test_sacct_dbd_steps_skipped() -> None:
    r = parse_sacct(sample('slurm-dbd/sacct_-j_IDS_--format_JobID_State_ExitCode_-P_-n.out'))
    assert r == {'4': S('COMPLETED', None, 0), '5': S('FAILED', None, 3),
                 '6': S('FAILED', None, None, 9), '7': S('PENDING'), '9': S('PENDING')}
    steps = parse_sacct(
        sample('slurm-dbd/sacct_-j_IDS_--format_JobID_State_ExitCode_-P_-n.out'),
        include_steps=True)
    assert steps['6.batch'] == S('CANCELLED', None, None, 9)
    assert steps['4.0'] == S('COMPLETED', None, 0)
    assert steps['7.batch'] == S('RUNNING')
    r_x = parse_sacct(sample('slurm-dbd/sacct_-X_-j_IDS_--format_JobID_State_ExitCode_-P_-n.out'))
    assert r_x == r


def test_sacct_dbd_cancelled_by_and_timeout() -> None:
    r = parse_sacct(sample('slurm-dbd/sacct_after_cancel.out'))
    assert r == {'7': S('CANCELLED', None, 0), '8': S('CANCELLED', None, 0)}
    assert parse_sacct(sample('slurm-dbd/sacct_timeout.out')) == {'9': S('TIMEOUT', None, 0)}
    assert parse_sacct(
        sample('slurm-dbd/sacct_-j_ID_--format_JobID_State_ExitCode_-P_-n.out')) == {
        '5': S('FAILED', None, 3)}
    assert parse_sacct(sample('slurm-dbd/sacct_-j_unknown.out')) == {}


def test_sacct_dbd_header_with_raw_id_and_reason() -> None:
    r = parse_sacct(sample('slurm-dbd/sacct_-j_IDS_many_fields.out'))
    assert r['4'] == S('COMPLETED', None, 0)
    assert r['5'] == S('FAILED', None, 3)
    assert r['7'] == S('PENDING')
    assert set(r) == {'4', '5', '6', '7', '9'}


def test_sacct_array_ids_with_slurmdbd_layout() -> None:
    text = ('123_4|FAILED|2:0\n123_4.batch|FAILED|2:0\n123_[5-9]|PENDING|0:0\n'
            '124|COMPLETED|0:0\n')
    assert parse_sacct(text) == {'123_4': S('FAILED', None, 2), '123_[5-9]': S('PENDING'),
                                 '124': S('COMPLETED', None, 0)}
    text = 'JobID|JobIDRaw|State|ExitCode\n123_4|127|FAILED|2:0\n123_[5-9]|123|PENDING|0:0\n'
    assert parse_sacct(text) == {'127': S('FAILED', None, 2), '123': S('PENDING')}


def test_sacct_no_accounting() -> None:
    err = sample('slurm/sacct_-j_ID_--format_JobID_State_ExitCode_-P_-n.err')
    assert classify_error(1, err) == NO_ACCOUNTING
    assert classify_error(1, sample('slurm/scontrol_show_job_unknown.err')) == UNKNOWN_JOB


def test_launch_failure_code_is_not_a_signal() -> None:
    # squeue printed 4021 for a job whose stderr file could not be opened (scontrol: 0:53);
    # 9 for a script killed by SIGKILL, with the same reason
    r = parse_squeue('26|FAILED|JobLaunchFailure|4021|\n28|FAILED|JobLaunchFailure|9|\n')
    assert r['26'] == SlurmJobStatus('FAILED', 'JobLaunchFailure', None, None, 4021)
    assert r['28'] == S('FAILED', 'JobLaunchFailure', None, 9)
    p = to_psij(r['26'])
    assert p is not None and p.exit_code is None
    assert p.message == ('Slurm could not launch the job (Slurm state FAILED, reason '
                         'JobLaunchFailure, Slurm error 4021)')
    r = parse_sacct('26|FAILED|JobLaunchFailure|0:53\n',
                    fields=['JobID', 'State', 'Reason', 'ExitCode'])
    assert r['26'] == S('FAILED', 'JobLaunchFailure', None, None)
    assert not is_wait_status(4021) and is_wait_status(9) and is_wait_status(768)
