"""The ``cobalt`` executor end to end on the Cobalt simulator, whose jobs run on the real Slurm
cluster (skipped without one; failed instead with ``PSIJ_REQUIRE_SLURM=1``)."""

from __future__ import annotations

import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cobalt_helpers import WAIT, executor, history, run, sh, wait_final, wait_state
from psij import Job, JobAttributes, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import (
    check_byte_exact,
    check_exit_code,
    check_stdio_and_directory,
)
from psij_cobalt.conformance import scheduler_view
from psij_cobalt.executor import CobaltJobExecutor

pytestmark = pytest.mark.usefixtures('cobalt_sim')


@pytest.fixture
def ex(tmp_path: Path) -> CobaltJobExecutor:
    return executor(tmp_path / 'work')


@pytest.mark.parametrize('code', [0, 3])
def test_exit_code(ex: CobaltJobExecutor, code: int) -> None:
    job, st = check_exit_code(ex, code, 'echo to-the-log; ')
    assert job.native_id is not None and job.native_id.isdigit()
    if code:
        assert st.message is not None and '3' in st.message and 'to-the-log' in st.message
    # the job's files are cleaned up, but for the .cobaltlog: another process following the job
    # may still need it, and it has the exit code
    left = [p.name for p in ex.work_directory.glob('%s.*' % job.native_id)]
    assert left == ['%s.cobaltlog' % job.native_id]
    # the job can be seen ended (its exit-code file) before Cobalt logged its end
    deadline = time.monotonic() + WAIT
    while 'exit code of %d' % code not in (ex.work_directory / left[0]).read_text():
        assert time.monotonic() < deadline, (ex.work_directory / left[0]).read_text()
        run('qstat', job.native_id)
        time.sleep(1)


def test_arguments_and_environment_are_byte_exact(ex: CobaltJobExecutor, tmp_path: Path) -> None:
    check_byte_exact(ex, tmp_path, ['#COBALT -A nope', '$COBALT_JOBID', '-q x'],
                     {'V6': '#COBALT -t 1'})


def test_stdio_and_directory(ex: CobaltJobExecutor, tmp_path: Path) -> None:
    check_stdio_and_directory(ex, tmp_path, 'job dir: odd @ name')


def test_without_a_directory_the_job_runs_where_it_was_submitted(
        ex: CobaltJobExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / 'submitted from'
    here.mkdir()
    monkeypatch.chdir(here)
    job = Job(sh('pwd >where.txt'))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert (here / 'where.txt').read_text().strip() == str(here)


def test_held_job_attributes_in_qstat_then_qdel_is_canceled(ex: CobaltJobExecutor) -> None:
    job = Job(sh('exit 0', attributes=JobAttributes(
        duration=timedelta(minutes=7), queue_name='debug', account='psijproj',
        custom_attributes={'cobalt.attrs': 'mcdram=cache:numa=quad', 'cobalt.h': True})))
    seen = history(job)
    ex.submit(job)
    assert job.native_id is not None
    assert job.status.state is JobState.QUEUED
    long = run('qstat', '-lf', job.native_id).stdout
    assert 'State' in long and 'user_hold' in long, long
    view = scheduler_view(job.native_id)
    assert view == {'queue': 'debug', 'account': 'psijproj', 'walltime': 420, 'node_count': 1,
                    'process_count': 1, 'cobalt.attrs': 'mcdram=cache:numa=quad',
                    'cobalt.jobname': '_bin_sh'}
    table = run('qstat', job.native_id).stdout.splitlines()
    assert table[0].split() == ['JobID', 'User', 'WallTime', 'Nodes', 'State', 'Location']
    assert set(table[1]) == {'='}
    assert table[2].split()[0] == job.native_id and table[2].split()[4] == 'user_hold'
    ex.cancel(job)
    st = wait_final(job)
    assert st.state is JobState.CANCELED, st
    # a job that never ran never was ACTIVE
    assert [s.state for s in seen] == [JobState.QUEUED, JobState.CANCELED]


def test_cancel_a_running_job(ex: CobaltJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    seen = history(job)
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    ex.cancel(job)
    st = wait_final(job)
    assert st.state is JobState.CANCELED, st
    assert JobState.ACTIVE in [s.state for s in seen]


@pytest.mark.fault
def test_walltime_exceeded_is_failed_with_a_message(ex: CobaltJobExecutor) -> None:
    job = Job(sh('echo started; sleep 600',
                 attributes=JobAttributes(duration=timedelta(seconds=30))))
    ex.submit(job)
    st = wait_final(job, timeout=400)
    assert st.state is JobState.FAILED, st
    assert st.message is not None and st.message.startswith('walltime exceeded'), st
    assert st.exit_code is None, st


def test_two_nodes_and_the_node_file(ex: CobaltJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes.txt'
    job = Job(sh('cat "$PSIJ_NODEFILE" >%s; echo "$COBALT_JOBSIZE" >>%s' % (out, out),
                 resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    ex.submit(job)
    assert wait_final(job, timeout=600).state is JobState.COMPLETED
    lines = out.read_text().split()
    hosts, size = lines[:-1], lines[-1]
    assert size == '2' and len(hosts) == 4 and len(set(hosts)) == 2, lines
    assert hosts.count(hosts[0]) == 2


def test_list_and_attach(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work', keep_files=True)
    job = Job(sh('sleep 15; exit 5'))
    ex.submit(job)
    assert job.native_id is not None
    assert job.native_id in ex.list()
    wait_state(job, JobState.ACTIVE)
    other = executor(tmp_path / 'work', keep_files=True)
    attached = Job()
    other.attach(attached, job.native_id)
    assert attached.status.state is JobState.ACTIVE
    st = wait_final(attached)
    assert (st.state, st.exit_code) == (JobState.FAILED, 5)
    assert wait_final(job).exit_code == 5
    # ended and gone from qstat: the recorded exit code still tells
    # (qstat may list the job a little longer, as exiting: then its end comes a cycle later)
    late = Job()
    executor(tmp_path / 'work', keep_files=True).attach(late, job.native_id)
    st = wait_final(late)
    assert (st.state, st.exit_code) == (JobState.FAILED, 5), st
    # without it, Cobalt's .cobaltlog does
    (tmp_path / 'work' / (job.native_id + '.ec')).unlink()
    log = Job()
    executor(tmp_path / 'work').attach(log, job.native_id)
    st = wait_final(log)
    assert (st.state, st.exit_code) == (JobState.FAILED, 5), st


def test_one_qstat_per_cycle_for_all_jobs(tmp_path: Path, cobalt_sim: Path) -> None:
    logged = tmp_path / 'bin'
    logged.mkdir()
    log = tmp_path / 'qstat.log'
    for name in ('qsub', 'qdel'):
        (logged / name).write_text('#!/bin/sh\nexec %s "$@"\n' % (cobalt_sim / name))
        (logged / name).chmod(0o700)
    qstat = logged / 'qstat'
    qstat.write_text('#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' % (log, cobalt_sim / 'qstat'))
    qstat.chmod(qstat.stat().st_mode | stat.S_IXUSR)
    ex = executor(tmp_path / 'work', command_directory=logged)
    jobs = [Job(sh('sleep 3; exit %d' % i)) for i in range(4)]
    for j in jobs:
        ex.submit(j)
    for i, j in enumerate(jobs):
        st = wait_final(j)
        assert st.exit_code == i, st
    ids = {j.native_id for j in jobs}
    calls = [line.split() for line in log.read_text().splitlines()]
    assert calls and all(c[:2] == ['-l', '--header=JobID:State'] for c in calls)
    assert max(len(set(c[2:]) & ids) for c in calls) == 4, calls
