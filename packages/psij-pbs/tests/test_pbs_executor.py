"""The ``pbs`` executor end to end on a real OpenPBS server (``ci/pbs/setup-pbs.sh``).

Skipped when no PBS server answers; failed instead with ``PSIJ_REQUIRE_PBS=1``. Needs queue
``workq``, job history, 3 vnodes of one host with 2+ ncpus (multi-node jobs use
``place=vscatter``), and root's jobs allowed when run as root.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import pytest
from pbs_helpers import (
    PYTHON,
    REPO,
    executor,
    pbs_bin,
    qstat_json,
    sh,
    wait_final,
    wait_state,
)
from psij import Job, JobAttributes, JobSpec, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import (
    DUMP,
    check_byte_exact,
    check_cpu_limit_kill,
    check_exit_code,
    check_missing_directory_fails,
    check_mpirun_multi_node,
    check_self_kill_is_failed,
    check_status_times_never_go_back,
    check_stdio_and_directory,
    check_unknown_id_refused,
    history,
    use_mpirun,
)
from psij.exceptions import InvalidJobException
from psij_pbs.executor import PBSJobExecutor

pytestmark = pytest.mark.usefixtures('pbs_server')


@pytest.fixture
def ex(tmp_path: Path) -> PBSJobExecutor:
    return executor(tmp_path / 'work')


@pytest.mark.parametrize('code', [0, 3])
def test_exit_code(ex: PBSJobExecutor, code: int) -> None:
    job, st = check_exit_code(ex, code, 'echo to-the-log; ')
    assert job.native_id is not None and job.native_id.split('.')[0].isdigit()
    if code:
        assert st.message is not None and '3' in st.message and 'to-the-log' in st.message


def test_killed_by_a_signal(ex: PBSJobExecutor) -> None:
    job = Job(sh('kill -9 $$'))
    ex.submit(job)
    st = wait_final(job)
    assert (st.state, st.exit_code) == (JobState.FAILED, 137)


def test_arguments_and_environment_are_byte_exact(ex: PBSJobExecutor, tmp_path: Path) -> None:
    check_byte_exact(ex, tmp_path, ['#PBS -q nope', '%j'], {'V6': '#PBS -W x=y'})


def test_environment_inherited_or_not(ex: PBSJobExecutor, tmp_path: Path,
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
    assert 'PSIJ_T_FROM_SUBMITTER' not in results[False]
    assert results[False]['PBS_ENVIRONMENT'] == 'PBS_BATCH'


def test_runs_where_submitted_not_in_home(ex: PBSJobExecutor, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / 'submit dir'
    here.mkdir()
    monkeypatch.chdir(here)
    out = tmp_path / 'cwd.json'
    job = Job(JobSpec(PYTHON, ['-c', DUMP], environment={'OUT_FILE': str(out)}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert json.loads(out.read_text())['cwd'] == str(here)


def test_stdio_and_directory(ex: PBSJobExecutor, tmp_path: Path) -> None:
    check_stdio_and_directory(ex, tmp_path)


def test_missing_directory_fails_the_job(ex: PBSJobExecutor, tmp_path: Path) -> None:
    check_missing_directory_fails(ex, tmp_path)


def test_two_chunks_and_the_nodefile(ex: PBSJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes.txt'
    job = Job(sh('cat "$PSIJ_NODEFILE"; echo "$PBS_NODEFILE"',
                 resources=ResourceSpecV1(node_count=2, processes_per_node=2),
                 stdout_path=out))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and lines[-1].startswith('/')
    assert native_resources(job)['nodect'] == 2
    vnodes = qstat_json(job.native_id or '')['exec_vnode']
    assert vnodes.count('(') == 2 and vnodes.split('+')[0] != vnodes.split('+')[1]


def native_resources(job: Job) -> Dict[str, object]:
    return dict(qstat_json(job.native_id or '')['Resource_List'])


def test_multiple_launcher_runs_every_rank(ex: PBSJobExecutor, tmp_path: Path) -> None:
    d = tmp_path / 'ranks'
    d.mkdir()
    job = Job(sh('echo "$PMI_RANK $PSIJ_RANK $OMPI_COMM_WORLD_RANK" > %s/rank-$$' % d,
                 launcher='multiple', resources=ResourceSpecV1(node_count=2,
                                                               processes_per_node=2)))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert len(list(d.iterdir())) == 4


def test_attributes_reach_pbs_and_cancel_of_held_job(ex: PBSJobExecutor) -> None:
    job = Job(sh('true', name='psij attrs',
                 attributes=JobAttributes(duration=timedelta(minutes=7), queue_name='workq',
                                          account='psijacct',
                                          custom_attributes={'pbs.h': True,
                                                             'pbs.P': 'psijproj',
                                                             'pbs.software': 'psijsoft'})))
    seen = history(job)
    ex.submit(job)
    assert job.native_id is not None
    q = qstat_json(job.native_id)
    assert (q['job_state'], q['Hold_Types']) == ('H', 'u')
    assert q['Job_Name'] == 'psij_attrs' and q['queue'] == 'workq'
    assert q['Account_Name'] == 'psijacct' and q['project'] == 'psijproj'
    assert q['Resource_List']['walltime'] == '00:07:00'
    assert q['Resource_List']['software'] == 'psijsoft'
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert JobState.ACTIVE not in [s.state for s in seen]


def test_cancel_running_job(ex: PBSJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED


def test_cancel_right_after_submit(ex: PBSJobExecutor) -> None:
    # OpenPBS reports a job deleted while it starts as "finished" with Exit_status 0
    jobs = [Job(sh('sleep 300')) for _ in range(3)]
    for job in jobs:
        ex.submit(job)
        job.cancel()
    for job in jobs:
        assert wait_final(job).state is JobState.CANCELED, job.native_id


def _processes_with(marker: str) -> List[int]:
    pids = []
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if marker.encode() in f.read():
                    pids.append(int(pid))
        except (OSError, ValueError):
            pass
    return pids


def test_cancel_right_after_submit_stops_every_mpi_rank(ex: PBSJobExecutor, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A delete that reaches the mom while it starts the job is lost: the mom signals the job
    # before its processes exist, and only the SIGKILL of the job's process group follows
    # (kill_delay later), which Open MPI's ranks, in groups of their own, escape. The
    # executor sends the cancel again (RECANCEL_AFTER), which reaches the running job.
    use_mpirun(monkeypatch)
    marker = 'psij-rank-marker-%d' % os.getpid()
    job = Job(sh('while :; do sleep 0.1; done # %s' % marker, launcher='mpirun',
                 directory=str(tmp_path)))
    ex.submit(job)
    job.cancel()
    assert wait_final(job).state is JobState.CANCELED
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _processes_with(marker)
    for pid in left:
        os.kill(pid, 9)
    assert not left, 'ranks still running after CANCELED: %s' % left


def test_can_never_run_is_the_status_message(ex: PBSJobExecutor) -> None:
    job = Job(sh('true', resources=ResourceSpecV1(process_count=64)))
    ex.submit(job)
    end = time.monotonic() + 60
    while time.monotonic() < end and 'Can Never Run' not in (job.status.message or ''):
        time.sleep(0.5)
    message = job.status.message
    job.cancel()
    assert job.status.state in (JobState.QUEUED, JobState.CANCELED)
    assert message is not None and 'Can Never Run' in message, message
    assert wait_final(job).state is JobState.CANCELED


@pytest.mark.parametrize('attrs, words', [
    (JobAttributes(queue_name='nosuchq'), 'Unknown queue'),
    (JobAttributes(custom_attributes={'pbs.nosuchresource': '1'}), 'Unknown resource'),
])
def test_invalid_requests(ex: PBSJobExecutor, attrs: JobAttributes, words: str) -> None:
    job = Job(sh('true', attributes=attrs))
    with pytest.raises(InvalidJobException, match=words):
        ex.submit(job)
    assert job.status.state is JobState.NEW


def test_list_and_attach(ex: PBSJobExecutor, tmp_path: Path) -> None:
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


def test_attach_to_finished_job_from_another_process(ex: PBSJobExecutor,
                                                     tmp_path: Path) -> None:
    job = Job(sh('exit 7'))
    ex.submit(job)
    assert wait_final(job).exit_code == 7  # the job's files are gone: PBS's history tells
    end = time.monotonic() + 60
    while qstat_json(job.native_id or '')['job_state'] != 'F' and time.monotonic() < end:
        time.sleep(0.3)
    code = ('import sys, psij\n'
            'from psij_pbs.executor import PBSExecutorConfig\n'
            'ex = psij.JobExecutor.get_instance("pbs", config=PBSExecutorConfig('
            'work_directory=sys.argv[2]))\n'
            'j = psij.Job()\nex.attach(j, sys.argv[1])\n'
            'print(j.status.state, j.status.exit_code)\n')
    p = subprocess.run([sys.executable, '-c', code, job.native_id or '',
                        str(tmp_path / 'other-work')], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PSIJ_PBS_COMMAND_DIR=pbs_bin()))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ['FAILED', '7']


def test_psij_command_line_runs_a_pbs_job(tmp_path: Path) -> None:
    psij = Path(sys.executable).parent / 'psij'
    p = subprocess.run([str(psij), 'run', '--executor', 'pbs', '--', '/bin/sh', '-c',
                        'exit 5'], capture_output=True, text=True, timeout=240,
                       env=dict(os.environ, PSIJ_PBS_COMMAND_DIR=pbs_bin()), cwd=tmp_path)
    assert p.returncode == 5, p.stdout + p.stderr
    assert REPO.exists()


def test_mpirun_on_two_vnodes_of_one_host(ex: PBSJobExecutor, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # place=vscatter: two chunks on vnodes of the one host, $PBS_NODEFILE names it 4 times
    use_mpirun(monkeypatch)
    check_mpirun_multi_node(ex, tmp_path)


def test_status_times_never_go_back(ex: PBSJobExecutor) -> None:
    check_status_times_never_go_back(ex)


def test_unknown_job_id_is_refused(ex: PBSJobExecutor) -> None:
    check_unknown_id_refused(ex, '9999999.%s' % socket.gethostname())


def test_a_job_killing_its_own_process_group_failed(ex: PBSJobExecutor) -> None:
    check_self_kill_is_failed(ex)


def test_a_cpu_time_limit_kill_says_so(ex: PBSJobExecutor) -> None:
    check_cpu_limit_kill(ex, {'pbs.cput': '00:00:03'}, 3)
