"""The ``sge`` executor end to end on a real Grid Engine cell (``ci/sge/setup-sge.sh``).

Skipped when no Grid Engine master answers; failed instead with ``PSIJ_REQUIRE_SGE=1``. Needs
queue ``all.q`` with 4 slots, the ``smp`` and ``mpi`` parallel environments, the project
``psijproj``, and root's jobs allowed (``min_uid 0``) when run as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from psij import Job, JobAttributes, JobSpec, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import (
    DUMP,
    check_byte_exact,
    check_cpu_limit_kill,
    check_exit_code,
    check_mpirun_multi_node,
    check_self_kill_is_failed,
    check_status_times_never_go_back,
    check_stdio_and_directory,
    check_unknown_id_refused,
    history,
    use_mpirun,
)
from psij.exceptions import InvalidJobException
from psij_sge.conformance import scheduler_view
from psij_sge.executor import SGEJobExecutor
from sge_helpers import (
    PYTHON,
    executor,
    qstat_state,
    sge_bin,
    sge_command,
    sh,
    wait_final,
    wait_state,
)

pytestmark = pytest.mark.usefixtures('sge_cell')


@pytest.fixture
def ex(tmp_path: Path) -> SGEJobExecutor:
    return executor(tmp_path / 'work')


@pytest.mark.parametrize('code', [0, 3])
def test_exit_code(ex: SGEJobExecutor, code: int) -> None:
    job, st = check_exit_code(ex, code, 'echo to-the-log; ')
    assert job.native_id is not None and job.native_id.isdigit()
    if code:
        assert st.message is not None and '3' in st.message and 'to-the-log' in st.message


def test_killed_by_a_signal(ex: SGEJobExecutor) -> None:
    job = Job(sh('kill -9 $$'))
    ex.submit(job)
    st = wait_final(job)
    assert (st.state, st.exit_code) == (JobState.FAILED, 137)


def test_a_job_killing_its_own_process_group_failed(ex: SGEJobExecutor) -> None:
    check_self_kill_is_failed(ex)


def test_a_cpu_time_limit_kill_says_so(ex: SGEJobExecutor) -> None:
    check_cpu_limit_kill(ex, {'sge.l': 'h_cpu=3'}, 3)


def test_arguments_and_environment_are_byte_exact(ex: SGEJobExecutor, tmp_path: Path) -> None:
    check_byte_exact(ex, tmp_path, ['#$ -q nope', '%j', '$JOB_ID'], {'V6': '#$ -l h_rt=1'})


def test_environment_inherited_or_not(ex: SGEJobExecutor, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_T_FROM_SUBMITTER', "odd 'value' $(x)\nz")
    results = {}
    for inherit in (True, False):
        out = tmp_path / ('env-%s.json' % inherit)
        job = Job(JobSpec(PYTHON, ['-c', DUMP], inherit_environment=inherit,
                          environment={'OUT_FILE': str(out)}))
        ex.submit(job)
        assert wait_final(job).state is JobState.COMPLETED
        results[inherit] = json.loads(out.read_text())['env']
    assert results[True]['PSIJ_T_FROM_SUBMITTER'] == "odd 'value' $(x)\nz"
    assert results[True]['JOB_ID'] != os.environ.get('JOB_ID')
    assert 'PSIJ_T_FROM_SUBMITTER' not in results[False]


def test_runs_where_submitted(ex: SGEJobExecutor, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / 'submit dir'
    here.mkdir()
    monkeypatch.chdir(here)
    out = tmp_path / 'cwd.json'
    job = Job(JobSpec(PYTHON, ['-c', DUMP], environment={'OUT_FILE': str(out)}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert json.loads(out.read_text())['cwd'] == str(here)


def test_stdio_and_directory(ex: SGEJobExecutor, tmp_path: Path) -> None:
    check_stdio_and_directory(ex, tmp_path, 'job dir: odd @ name')


def test_slots_through_the_mpi_pe_and_the_nodefile(ex: SGEJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes.txt'
    job = Job(sh('cat "$PSIJ_NODEFILE"; echo "PE=$PE NSLOTS=$NSLOTS"',
                 resources=ResourceSpecV1(process_count=3), stdout_path=out))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    lines = out.read_text().splitlines()
    assert lines[-1] == 'PE=mpi NSLOTS=3'
    assert len(lines) == 4 and len(set(lines[:3])) == 1


def test_one_node_jobs_use_the_smp_pe(ex: SGEJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'pe.txt'
    job = Job(sh('echo "$PE $NSLOTS"; wc -l < "$PSIJ_NODEFILE"', stdout_path=out,
                 resources=ResourceSpecV1(node_count=1, processes_per_node=2)))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert out.read_text().split() == ['smp', '2', '2']


def test_multiple_launcher_runs_every_rank(ex: SGEJobExecutor, tmp_path: Path) -> None:
    d = tmp_path / 'ranks'
    d.mkdir()
    job = Job(sh('echo "$PSIJ_RANK" > %s/rank-$$' % d, launcher='multiple',
                 resources=ResourceSpecV1(process_count=4)))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert sorted(p.read_text().strip() for p in d.iterdir()) == ['0', '1', '2', '3']


def test_attributes_reach_grid_engine_and_cancel_of_held_job(ex: SGEJobExecutor) -> None:
    job = Job(sh('true', name='psij attrs',
                 attributes=JobAttributes(duration=timedelta(minutes=7), queue_name='all.q',
                                          account='psijacct',
                                          custom_attributes={'sge.h': True,
                                                             'sge.P': 'psijproj',
                                                             'sge.js': '5'})))
    seen = history(job)
    ex.submit(job)
    assert job.native_id is not None
    assert qstat_state(job.native_id) == 'hqw'
    view = scheduler_view(job.native_id)
    assert view['sge.N'] == 'psij_attrs' and view['queue'] == 'all.q'
    assert view['account'] == 'psijacct' and view['sge.P'] == 'psijproj'
    assert view['walltime'] == 420 and view['sge.js'] == '5'
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert JobState.ACTIVE not in [s.state for s in seen]


def test_cancel_running_job(ex: SGEJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED


def test_cancel_right_after_submit(ex: SGEJobExecutor) -> None:
    jobs = [Job(sh('sleep 300')) for _ in range(3)]
    for job in jobs:
        ex.submit(job)
        job.cancel()
    for job in jobs:
        assert wait_final(job).state is JobState.CANCELED, job.native_id


def test_missing_directory_is_failed_with_grid_engines_reason(ex: SGEJobExecutor,
                                                              tmp_path: Path) -> None:
    job = Job(sh('true', directory=tmp_path / 'nope'))
    ex.submit(job)
    st = wait_final(job)
    assert (st.state, st.exit_code) == (JobState.FAILED, 1), st  # as on every executor
    assert st.message is not None and 'error state' in st.message and 'nope' in st.message
    assert qstat_state(job.native_id or '') in (None, 'dEqw', 'Eqw')  # deleted by psij


@pytest.mark.parametrize('attrs, words', [
    (JobAttributes(queue_name='nosuch.q'), 'unknown queue'),
    (JobAttributes(custom_attributes={'sge.pe': 'nosuchpe'}), 'parallel environment'),
    (JobAttributes(custom_attributes={'sge.P': 'nosuchproject'}), 'project'),
    (JobAttributes(custom_attributes={'sge.l': 'nosuchresource=1'}), 'resource'),
])
def test_invalid_requests(ex: SGEJobExecutor, attrs: JobAttributes, words: str) -> None:
    job = Job(sh('true', attributes=attrs, resources=ResourceSpecV1(process_count=2)))
    with pytest.raises(InvalidJobException, match='(?i)' + words):
        ex.submit(job)
    assert job.status.state is JobState.NEW


def test_list_and_attach(ex: SGEJobExecutor, tmp_path: Path) -> None:
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    assert job.native_id in ex.list()
    other = executor(tmp_path / 'work')
    follower = Job()
    other.attach(follower, job.native_id or '')
    assert follower.status.state is JobState.ACTIVE
    job.cancel()
    assert wait_final(follower).state is JobState.CANCELED
    assert job.native_id not in ex.list()


def test_attach_to_finished_job_from_another_process(ex: SGEJobExecutor,
                                                     tmp_path: Path) -> None:
    job = Job(sh('exit 7'))
    ex.submit(job)
    assert wait_final(job).exit_code == 7  # the job's files are gone: qacct tells
    end = time.monotonic() + 60
    while sge_command('qacct', '-j', job.native_id or '').returncode != 0 and \
            time.monotonic() < end:
        time.sleep(0.3)
    code = ('import sys, psij\n'
            'from psij_sge.executor import SGEExecutorConfig\n'
            'ex = psij.JobExecutor.get_instance("sge", config=SGEExecutorConfig('
            'work_directory=sys.argv[2]))\n'
            'j = psij.Job()\nex.attach(j, sys.argv[1])\n'
            'print(j.status.state, j.status.exit_code)\n')
    p = subprocess.run([sys.executable, '-c', code, job.native_id or '',
                        str(tmp_path / 'other-work')], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PSIJ_SGE_COMMAND_DIR=sge_bin()))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ['FAILED', '7']


def test_psij_command_line_runs_a_grid_engine_job(tmp_path: Path) -> None:
    psij = Path(sys.executable).parent / 'psij'
    p = subprocess.run([str(psij), 'run', '--executor', 'sge', '--', '/bin/sh', '-c',
                        'exit 5'], capture_output=True, text=True, timeout=240,
                       env=dict(os.environ, PSIJ_SGE_COMMAND_DIR=sge_bin()), cwd=tmp_path)
    assert p.returncode == 5, p.stdout + p.stderr


def test_openpbs_qstat_is_detected_not_misparsed(tmp_path: Path) -> None:
    if not Path('/opt/pbs/bin/qstat').exists():
        pytest.skip('OpenPBS is not installed here (/opt/pbs/bin/qstat)')
    SGEJobExecutor._checked_commands.clear()
    other = executor(tmp_path / 'work', command_directory=Path('/opt/pbs/bin'))
    job = Job(sh('true'))
    with pytest.raises(Exception) as ei:
        other.submit(job)
    assert '/opt/pbs/bin/qstat is not Grid Engine' in str(ei.value)
    assert job.status.state is JobState.NEW


def test_status_times_never_go_back(ex: SGEJobExecutor) -> None:
    check_status_times_never_go_back(ex)


def test_unknown_job_id_is_refused(ex: SGEJobExecutor) -> None:
    check_unknown_id_refused(ex, '9999999')


def test_array_submitted_outside_psij(ex: SGEJobExecutor, tmp_path: Path) -> None:
    """An array job of 3 tasks submitted with qsub -t, whose task 1 exits 3: its tasks are
    followed by their ids N.T, and its bare number gives the array's outcome (FAILED, with
    the failed task's exit code), not whichever task ended last."""
    script = tmp_path / 'array.sh'
    script.write_text('#!/bin/sh\n[ "$SGE_TASK_ID" = 1 ] && exit 3\nsleep 2\n')
    p = sge_command('qsub', '-terse', '-t', '1-3', '-N', 'psij27', '-o', '/dev/null',
                    '-e', '/dev/null', str(script))
    assert p.returncode == 0, p.stderr
    number = p.stdout.strip().split('.')[0]
    jobs = {tid: Job() for tid in (number, number + '.1', number + '.2', number + '.3')}
    assert ex.attach_many(list((job, tid) for tid, job in jobs.items())) == []
    got = {tid: wait_final(job) for tid, job in jobs.items()}
    assert (got[number + '.1'].state, got[number + '.1'].exit_code) == (JobState.FAILED, 3)
    for task in ('.2', '.3'):
        assert got[number + task].state is JobState.COMPLETED, got[number + task]
    whole = got[number]
    assert (whole.state, whole.exit_code) == (JobState.FAILED, 3), whole
    assert 'Task 1 ' in (whole.message or ''), whole
    # attached again once it ended: the same outcome
    again = Job()
    ex.attach(again, number)
    st = wait_final(again)
    assert (st.state, st.exit_code) == (JobState.FAILED, 3), st


def test_mpirun_on_two_nodes_of_a_packing_pe(ex: SGEJobExecutor, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # a one-host cell: the PE packs the 4 slots on it, and the node file names it 4 times
    use_mpirun(monkeypatch)
    check_mpirun_multi_node(ex, tmp_path)
