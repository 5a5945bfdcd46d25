"""The ``slurm`` executor end to end on a real cluster (``ci/slurm/start-slurm.sh``).

Skipped when no Slurm controller answers; failed instead with ``PSIJ_REQUIRE_SLURM=1``. Needs
a partition ``debug`` with at least 2 nodes and 2 CPUs per node, jobcomp/filetxt, no slurmdbd
(the account test checks what Slurm does without accounting).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from psij import (
    Job,
    JobAttributes,
    JobExecutor,
    JobSpec,
    JobState,
    Launcher,
    ResourceSpecV1,
)
from psij.conformance.executor_test_helpers import (
    DUMP,
    check_byte_exact,
    check_exit_code,
    check_missing_directory_fails,
    check_self_kill_is_failed,
    check_status_times_never_go_back,
    check_stdio_and_directory,
    check_unknown_id_refused,
    history,
)
from psij.exceptions import InvalidJobException
from psij.executors.batch.job_files import ensure_private_dir
from psij_slurm.executor import SlurmJobExecutor
from psij_slurm.site_config import partition_limits_problem, show_config
from slurm_helpers import (
    PYTHON,
    executor,
    require_enforced,
    scontrol_show,
    sh,
    wait_final,
    wait_state,
)

pytestmark = pytest.mark.usefixtures('slurm_cluster')


@pytest.fixture
def ex(tmp_path: Path) -> SlurmJobExecutor:
    return executor(tmp_path / 'work')


@pytest.mark.parametrize('code', [0, 3])
def test_exit_code(ex: SlurmJobExecutor, code: int) -> None:
    job, st = check_exit_code(ex, code)
    assert job.native_id is not None and job.native_id.isdigit()
    if code:
        assert st.message is not None and '3' in st.message


def test_arguments_and_environment_are_byte_exact(ex: SlurmJobExecutor,
                                                  tmp_path: Path) -> None:
    check_byte_exact(ex, tmp_path, ['#SBATCH --wrap=x', '%j'], {'V6': '#SBATCH -p nope'})


def test_stdio_and_directory(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    check_stdio_and_directory(ex, tmp_path)


def test_missing_directory_fails_the_job(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    check_missing_directory_fails(ex, tmp_path)


def test_multi_node_nodefile(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes.txt'
    job = Job(sh('cat "$PSIJ_NODEFILE"', stdout_path=out,
                 resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    lines = out.read_text().splitlines()
    assert len(lines) == 4
    assert len(set(lines)) == 2
    assert lines == sorted(lines)
    info = scontrol_show(job.native_id or '')
    assert info['NumNodes'] == '2' and info['NumTasks'] == '4'


def test_multi_node_with_srun_launcher(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    if 'srun' not in Launcher.get_launcher_names():
        pytest.skip('the srun launcher (psij-launchers) is not installed')
    out = tmp_path / 'ranks.txt'
    job = Job(JobSpec('/bin/sh', ['-c', 'echo "$SLURMD_NODENAME $SLURM_PROCID $PSIJ_T"'],
                      launcher='srun', stdout_path=out, environment={'PSIJ_T': 'v'},
                      inherit_environment=False,
                      resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    lines = sorted(out.read_text().splitlines(), key=lambda s: s.split()[1])
    assert [ln.split()[1] for ln in lines] == ['0', '1', '2', '3']
    assert len({ln.split()[0] for ln in lines}) == 2
    # after --export=NONE the ranks still get the job's environment
    assert all(ln.split()[2] == 'v' for ln in lines)


def test_inherit_environment_false(ex: SlurmJobExecutor, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_T_FROM_SUBMITTER', 'leak')
    out = tmp_path / 'dump.json'
    job = Job(JobSpec(PYTHON, ['-c', DUMP], inherit_environment=False,
                      environment={'OUT_FILE': str(out), 'MINE': 'yes'}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    env = json.loads(out.read_text())['env']
    assert 'PSIJ_T_FROM_SUBMITTER' not in env
    assert env['MINE'] == 'yes'
    # what is left: the login environment Slurm builds and its own SLURM_* variables
    assert 'PATH' in env and 'SLURM_JOB_ID' in env

    job = Job(JobSpec(PYTHON, ['-c', DUMP], environment={'OUT_FILE': str(out)}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert json.loads(out.read_text())['env']['PSIJ_T_FROM_SUBMITTER'] == 'leak'


def test_attributes_visible_to_slurm_and_cancel_of_queued_job(ex: SlurmJobExecutor) -> None:
    job = Job(sh('true', name='psij test name', attributes=JobAttributes(
        queue_name='debug', account='psijacct', duration=timedelta(minutes=7),
        custom_attributes={'slurm.comment': 'psij-custom-attr', 'slurm.hold': True})))
    seen = history(job)
    ex.submit(job)
    info = scontrol_show(job.native_id or '')
    assert info['Comment'] == 'psij-custom-attr'
    assert info['JobName'] == 'psij_test_name'
    assert info['Partition'] == 'debug'
    # without slurmdbd (AccountingStorageEnforce=none) any account is accepted and recorded
    assert info['Account'] == 'psijacct'
    assert info['TimeLimit'] == '00:07:00'
    assert info['JobState'] == 'PENDING' and info['Reason'] == 'JobHeldUser'
    wait_state(job, JobState.QUEUED)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert JobState.ACTIVE not in [s.state for s in seen]


def test_cancel_running_job(ex: SlurmJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    job.cancel()  # a second cancel of an ended job is harmless


@pytest.mark.parametrize('spec,words', [
    (sh('true', resources=ResourceSpecV1(node_count=50)), 'More processors'),
    (sh('true', attributes=JobAttributes(queue_name='no_such_partition')), 'partition'),
    (sh('true', attributes=JobAttributes(reservation_id='no_such_resv')), 'reservation'),
    (sh('true', attributes=JobAttributes(custom_attributes={'slurm.no-such-option': 'x'})),
     'no-such-option'),
])
def test_invalid_requests(ex: SlurmJobExecutor, spec: JobSpec, words: str) -> None:
    if words == 'More processors':  # refused at submit only where the cluster enforces it
        require_enforced(partition_limits_problem(show_config()))
    job = Job(spec)
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert words in str(ei.value)
    assert job.status.state is JobState.NEW


def test_list_and_attach(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    go = tmp_path / 'go'
    job = Job(JobSpec('/bin/sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.1; done; exit 5',
                                  str(go)]))
    ex.submit(job)
    listed = ex.list()  # jobs that have not ended
    go.touch()
    assert job.native_id in listed, listed
    wait_final(job)
    # the files of a finished job are gone: attach relies on what Slurm still knows
    other = JobExecutor.get_instance('slurm', config=ex.config)
    j2 = Job()
    other.attach(j2, job.native_id or '')
    st = wait_final(j2)
    assert st.state is JobState.FAILED and st.exit_code == 5


def test_attach_to_running_job_from_another_instance(ex: SlurmJobExecutor,
                                                     tmp_path: Path) -> None:
    flag = tmp_path / 'go'
    job = Job(sh('while [ ! -e %s ]; do sleep 0.2; done; exit 4' % flag))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    j2 = Job()
    executor(ex.work_directory).attach(j2, job.native_id or '')
    assert j2.status.state is JobState.ACTIVE
    flag.touch()
    for j in (job, j2):
        st = wait_final(j)
        assert st.state is JobState.FAILED and st.exit_code == 4


def test_hostname_is_a_compute_node(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'h.txt'
    job = Job(sh('echo "$SLURMD_NODENAME"', stdout_path=out))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    name = out.read_text().strip()
    assert name and name != socket.gethostname()
    assert os.path.exists(ex.work_directory)


def test_files_left_by_an_earlier_job_with_the_same_id_are_ignored(ex: SlurmJobExecutor) -> None:
    # job ids restart when slurmctld's state is reset; a process that died left the files of
    # its jobs behind: they must not be taken for the new job's
    p = subprocess.run(['sbatch', '--parsable', '--hold', '-o', '/dev/null', '--wrap', 'true'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    last = int(p.stdout.strip().split(';')[0])
    subprocess.run(['scancel', str(last)], timeout=60)
    ensure_private_dir(ex.work_directory)
    old = time.time() - 3600
    for i in range(last + 1, last + 200):
        for suffix, text in (('.ec', '0\n'), ('.active', ''), ('.out', 'old output\n')):
            f = ex.work_directory / ('%d%s' % (i, suffix))
            f.write_text(text)
            os.utime(f, (old, old))
    job = Job(sh('sleep 1; exit 5'))
    seen = history(job)
    ex.submit(job)
    assert int(job.native_id or 0) < last + 200, 'too many jobs submitted meanwhile'
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 5, st
    assert 'old output' not in (st.message or '')
    assert JobState.ACTIVE in [s.state for s in seen]


def test_status_times_never_go_back(ex: SlurmJobExecutor) -> None:
    check_status_times_never_go_back(ex)


def test_unknown_job_id_is_refused(ex: SlurmJobExecutor) -> None:
    # far above the ids this cluster has given (MaxJobId defaults to 67,043,328)
    check_unknown_id_refused(ex, '60000001')


def test_launch_failure_is_not_a_signal(ex: SlurmJobExecutor) -> None:
    # slurmd cannot open the job's stderr file: FAILED, reason JobLaunchFailure, and squeue's
    # raw exit_code 4021 (scontrol: ExitCode=0:53), slurmd's error code, not a wait status
    job = Job(sh('exit 0', attributes=JobAttributes(
        custom_attributes={'slurm.error': '/nonexistent/psij-27/err'})))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED, st
    assert st.exit_code is None, st
    msg = st.message or ''
    assert 'could not launch' in msg and 'JobLaunchFailure' in msg, st
    assert 'signal' not in msg, st


def test_a_job_killing_its_own_process_group_failed(ex: SlurmJobExecutor) -> None:
    check_self_kill_is_failed(ex)
