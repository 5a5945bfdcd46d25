"""The ``lsf`` executor end to end on the LSF simulator (jobs really run on Slurm's nodes).

Skipped when no Slurm controller answers; failed instead with ``PSIJ_REQUIRE_SLURM=1``. Needs
the cluster of ``ci/slurm/start-slurm.sh`` (partition ``debug``, 3 nodes with 2 CPUs each).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import lsf_sim
import pytest
from lsf_helpers import PYTHON, bjobs_json, executor, history, run, sh, wait_final, wait_state
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
    check_stdio_and_directory,
)
from psij.exceptions import InvalidJobException
from psij_lsf.executor import LsfJobExecutor

pytestmark = pytest.mark.usefixtures('lsf_sim')


@pytest.fixture
def ex(tmp_path: Path) -> LsfJobExecutor:
    return executor(tmp_path / 'work')


@pytest.mark.parametrize('code', [0, 3])
def test_exit_code(ex: LsfJobExecutor, code: int) -> None:
    job, st = check_exit_code(ex, code)
    assert job.native_id is not None and job.native_id.isdigit()
    info = bjobs_json(job.native_id, 'stat exit_code')
    assert info == {'STAT': 'DONE' if code == 0 else 'EXIT',
                    'EXIT_CODE': '' if code == 0 else '3'}


def test_arguments_and_environment_are_byte_exact(ex: LsfJobExecutor, tmp_path: Path) -> None:
    job, got = check_byte_exact(ex, tmp_path, ['#BSUB -q x'])
    # LSF's own variables reach the job
    assert got['env']['LSB_JOBID'] == job.native_id
    assert got['env']['LSB_JOBNAME'] == '_usr_bin_python3' or got['env']['LSB_JOBNAME']


def test_stdio_and_directory(ex: LsfJobExecutor, tmp_path: Path) -> None:
    check_stdio_and_directory(ex, tmp_path)


def test_missing_directory_fails_the_job(ex: LsfJobExecutor, tmp_path: Path) -> None:
    check_missing_directory_fails(ex, tmp_path)


def test_two_nodes_nodefile_from_lsf_variables(ex: LsfJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes.txt'
    job = Job(sh('cat "$PSIJ_NODEFILE"; echo "mcpu $LSB_MCPU_HOSTS"; cat "$LSB_DJOB_HOSTFILE"',
                 stdout_path=out, resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    lines = out.read_text().splitlines()
    nodes, mcpu, hostfile = lines[:4], lines[4], lines[5:]
    assert len(set(nodes)) == 2 and nodes == sorted(nodes)
    assert hostfile == nodes
    a, b = sorted(set(nodes))
    assert mcpu == 'mcpu %s 2 %s 2' % (a, b)
    info = bjobs_json(job.native_id or '', 'exec_host slots nreq_slot')
    assert info['EXEC_HOST'] == ':'.join(nodes) and info['SLOTS'] == '4'


def test_two_nodes_with_jsrun(ex: LsfJobExecutor, tmp_path: Path) -> None:
    if 'jsrun' not in Launcher.get_launcher_names():
        pytest.skip('the jsrun launcher (psij-launchers) is not installed')
    out = tmp_path / 'ranks.txt'
    job = Job(JobSpec('/bin/sh', ['-c', 'echo "$SLURMD_NODENAME $JSM_NAMESPACE_RANK $PSIJ_T"'],
                      launcher='jsrun', stdout_path=out, environment={'PSIJ_T': 'v'},
                      inherit_environment=False,
                      resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    lines = sorted(out.read_text().splitlines(), key=lambda s: s.split()[1])
    assert [ln.split()[1] for ln in lines] == ['0', '1', '2', '3']
    assert len({ln.split()[0] for ln in lines}) == 2
    assert all(ln.split()[2] == 'v' for ln in lines)


def test_inherit_environment_false(ex: LsfJobExecutor, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_T_FROM_SUBMITTER', 'leak')
    out = tmp_path / 'dump.json'
    job = Job(JobSpec(PYTHON, ['-c', DUMP], inherit_environment=False,
                      environment={'OUT_FILE': str(out), 'MINE': 'yes'}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    env = json.loads(out.read_text())['env']
    assert 'PSIJ_T_FROM_SUBMITTER' not in env
    assert env['MINE'] == 'yes' and 'LSB_JOBID' in env
    job = Job(JobSpec(PYTHON, ['-c', DUMP], environment={'OUT_FILE': str(out)}))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert json.loads(out.read_text())['env']['PSIJ_T_FROM_SUBMITTER'] == 'leak'


def test_attributes_reach_lsf_and_cancel_of_held_job(ex: LsfJobExecutor) -> None:
    job = Job(sh('true', name='psij test name', attributes=JobAttributes(
        queue_name='debug', account='psijproj', duration=timedelta(minutes=7),
        custom_attributes={'lsf.Jd': 'psij-custom-attr', 'lsf.H': True})))
    seen = history(job)
    ex.submit(job)
    info = bjobs_json(job.native_id or '', 'job_name stat queue proj_name runtimelimit '
                                           'job_description')
    assert info == {'JOB_NAME': 'psij_test_name', 'STAT': 'PSUSP', 'QUEUE': 'debug',
                    'PROJ_NAME': 'psijproj', 'RUNTIMELIMIT': '00:07:00',
                    'JOB_DESCRIPTION': 'psij-custom-attr'}
    wait_state(job, JobState.QUEUED)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    assert 'TERM_OWNER' in (st.message or '')
    assert JobState.ACTIVE not in [s.state for s in seen]


def test_cancel_running_job(ex: LsfJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED
    job.cancel()  # a second cancel of an ended job is harmless


@pytest.mark.parametrize('spec,words', [
    (sh('true', attributes=JobAttributes(queue_name='no_such_queue')), 'No such queue'),
    (sh('true', attributes=JobAttributes(custom_attributes={'lsf.R': 'rusage[mem=5GB]'})),
     'Error in rusage section'),
    (sh('true', attributes=JobAttributes(custom_attributes={'lsf.no_such_option': 'x'})),
     'Illegal option'),
])
def test_invalid_requests(ex: LsfJobExecutor, spec: JobSpec, words: str) -> None:
    job = Job(spec)
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert words in str(ei.value)
    assert job.status.state is JobState.NEW


def test_list_and_attach_to_finished_job(ex: LsfJobExecutor, tmp_path: Path) -> None:
    go = tmp_path / 'go'
    job = Job(JobSpec('/bin/sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.1; done; exit 5',
                                  str(go)]))
    ex.submit(job)
    listed = ex.list()  # jobs that have not ended
    go.touch()
    assert job.native_id in listed, listed
    wait_final(job)
    # the job's files are gone: attach relies on what bjobs still says (EXIT, code 5)
    other = JobExecutor.get_instance('lsf', config=ex.config)
    j2 = Job()
    other.attach(j2, job.native_id or '')
    assert j2.status.state is JobState.FAILED and j2.status.exit_code == 5


def test_attach_to_running_job_from_another_instance(ex: LsfJobExecutor,
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


def test_attach_to_finished_job_forgotten_by_bjobs(tmp_path: Path) -> None:
    # a job whose submitter went away: its exit code is still in the work directory
    ex = executor(tmp_path / 'work', keep_files=True)
    job = Job(sh('exit 6'))
    ex.submit(job)
    wait_final(job)
    lsf_sim.forget(job.native_id or '')
    assert run('bjobs', job.native_id or '').stderr == 'Job <%s> is not found\n' % job.native_id
    j2 = Job()
    executor(ex.work_directory).attach(j2, job.native_id or '')
    assert j2.status.state is JobState.FAILED and j2.status.exit_code == 6
    # no files either: LSF forgot it, and says so at once
    j3 = Job()
    executor(tmp_path / 'elsewhere').attach(j3, job.native_id or '')
    assert j3.status.state is JobState.FAILED and j3.status.exit_code is None
    assert 'no longer knows' in (j3.status.message or '')


@pytest.mark.parametrize('stat,state', [('UNKWN', JobState.ACTIVE), ('ZOMBI', JobState.ACTIVE),
                                        ('SSUSP', JobState.ACTIVE), ('USUSP', JobState.ACTIVE)])
def test_odd_states_keep_the_job_alive(ex: LsfJobExecutor, tmp_path: Path, stat: str,
                                       state: JobState) -> None:
    flag = tmp_path / 'go'
    job = Job(sh('while [ ! -e %s ]; do sleep 0.2; done; exit 0' % flag))
    seen = history(job)
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    nid = job.native_id or ''
    lsf_sim.force_stat(nid, stat)
    before = ex._engine.polls
    while ex._engine.polls < before + 3:  # three status commands see the state
        job.wait(timeout=0.5)
    assert job.status.state is state and not job.status.state.final
    lsf_sim.force_stat(nid, None)
    flag.touch()
    assert wait_final(job).state is JobState.COMPLETED
    assert [s.state for s in seen if s.state.final] == [JobState.COMPLETED]


def test_please_wait_lines_and_delimiter_form(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    lsf_sim.set_busy(2)
    try:
        # an LSF without -json: the executor notices and uses the delimiter form
        monkeypatch.setenv('LSF_SIM_NO_JSON', '1')
        ex = executor(tmp_path / 'work')
        go = tmp_path / 'go'
        jobs = [Job(JobSpec('/bin/sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.1; done; exit %d'
                                        % c, str(go)])) for c in (0, 2)]
        for j in jobs:
            ex.submit(j)
        listed = ex.list()  # unfinished jobs, in the delimiter form
        go.touch()
        assert all(j.native_id in listed for j in jobs), listed
        assert [wait_final(j).exit_code for j in jobs] == [0, 2]
        assert ex._json is False
    finally:
        lsf_sim.set_busy(None)


def test_psij_lsf_bin_instead_of_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      lsf_sim: Path) -> None:
    monkeypatch.setenv('PSIJ_LSF_BIN', str(lsf_sim))
    monkeypatch.setenv('PATH', os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep)
                                               if Path(p) != lsf_sim))
    ex = executor(tmp_path / 'work')
    job = Job(sh('exit 0'))
    ex.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
