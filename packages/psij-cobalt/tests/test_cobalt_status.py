"""The parsers of Cobalt's outputs, the state mapping and the ``.cobaltlog`` verdicts; no
cluster."""

from __future__ import annotations

import pytest
from psij_cobalt.cobalt_status import (
    COBALT_TO_PSIJ,
    job_id_from_qsub,
    parse_long,
    parse_table_ids,
    read_cobaltlog,
    to_psij_state,
)

LONG = """JobID: 123456
    State    : running
    Queue    : debug-cache-quad

JobID: 123457
    State    : user_hold
    Queue    : default
    attrs    : {'mcdram': 'cache', 'numa': 'quad'}
"""

TABLE = """JobID   User   WallTime  Nodes  State   Location
=================================================
123456  alice  00:10:00  2      running nid0[1-2]
123457  alice  01:00:00  128    queued  None
"""


def test_qsub_id_is_the_number_alone_on_its_line() -> None:
    assert job_id_from_qsub('123456\n') == '123456'
    assert job_id_from_qsub('Job routed to queue "debug-flat-quad".\nMemory mode set to '
                            'flat quad for queue debug-flat-quad\n98765\n') == '98765'
    assert job_id_from_qsub('qsub: error: no such queue 12\n') is None
    assert job_id_from_qsub('') is None


def test_long_form_blocks() -> None:
    jobs = parse_long(LONG)
    assert jobs == {
        '123456': {'State': 'running', 'Queue': 'debug-cache-quad'},
        '123457': {'State': 'user_hold', 'Queue': 'default',
                   'attrs': "{'mcdram': 'cache', 'numa': 'quad'}"},
    }
    # psij-python's header spelling, and nothing for noise
    assert parse_long('Jobid: 42\n    State : exiting\n') == {'42': {'State': 'exiting'}}
    assert parse_long('Failed to connect to queue manager\n') == {}


def test_table_ids() -> None:
    assert parse_table_ids(TABLE) == ['123456', '123457']
    assert parse_table_ids('') == []


@pytest.mark.parametrize('state,expected', [
    ('queued', 'QUEUED'), ('starting', 'QUEUED'), ('user_hold', 'QUEUED'),
    ('dep_hold', 'QUEUED'), ('admin_hold', 'QUEUED'), ('running', 'ACTIVE'),
    ('exiting', 'ACTIVE'), ('killing', 'ACTIVE'), ('dep_fail', 'FAILED'), ('Running', 'ACTIVE'),
    ('no_such_state', None)])
def test_states(state: str, expected: str | None) -> None:
    assert to_psij_state(state) == expected


def test_killing_is_not_final_unlike_psij_python() -> None:
    assert COBALT_TO_PSIJ['killing'] == 'ACTIVE'


LOG_HEAD = ('Jobid: 77\nqsub --cwd /home/a/deleted by me/x /home/a/maximum execution time '
            'exceeded.job\nMon Dec 07 12:00:00 2026 +0000 (UTC) Info: job 77 submitted by a\n')


@pytest.mark.parametrize('tail,expected', [
    ('', None),
    ('Info: task completed normally with an exit code of 0; initiating job cleanup\n',
     ('COMPLETED', 'exit', 0)),
    ('Info: task completed normally with an exit code of 42; initiating job cleanup\n',
     ('FAILED', 'exit', 42)),
    ('Info: maximum execution time exceeded; initiating job termination\n',
     ('FAILED', 'walltime', None)),
    ('Info: maximum execution time exceeded; initiating job termination\n'
     'Info: task completed abnormally with an exit code of 143; initiating job cleanup\n',
     ('FAILED', 'walltime', 143)),
    ('Info: job 77 deleted by user a (qdel)\n', ('CANCELED', 'deleted', None)),
])
def test_cobaltlog_verdicts(tail: str, expected: tuple[str, str, int | None] | None) -> None:
    v = read_cobaltlog(LOG_HEAD + tail)
    if expected is None:
        # the echoed command line holds the phrases, but only Cobalt's messages count
        assert v is None
        return
    assert v is not None
    assert (v.state, v.reason, v.exit_code) == expected
    if v.reason == 'walltime':
        assert v.message is not None and 'time limit' in v.message


def test_cobaltlog_of_a_reused_id_reads_the_last_job_only() -> None:
    # Cobalt appends: an id used again (ids restarted) leaves the earlier job's end in the log
    earlier = LOG_HEAD + 'Mon Dec 07 12:00:09 2026 +0000 (UTC) Info: job 77 deleted by user a\n'
    assert read_cobaltlog(earlier) is not None
    assert read_cobaltlog(earlier + LOG_HEAD) is None
    v = read_cobaltlog(earlier + LOG_HEAD + 'Info: task completed normally with an exit code '
                       'of 0; initiating job cleanup\n')
    assert v is not None and (v.state, v.exit_code) == ('COMPLETED', 0)
