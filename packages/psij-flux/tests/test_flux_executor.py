"""The flux executor against a real Flux instance (skipped without one; see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flux_helpers import Recorder, blocking, check_chain, flux, sh
from psij import (
    InvalidJobException,
    Job,
    JobAttributes,
    JobExecutor,
    JobState,
    ResourceSpecV1,
    SubmitException,
)
from psij_flux.executor import FluxExecutorConfig, FluxJobExecutor
from psij_flux.job_ids import parse_job_id, to_dothex, to_f58

pytestmark = [pytest.mark.flux, pytest.mark.usefixtures('flux_instance')]

WAIT = 120.0


@pytest.fixture
def ex() -> JobExecutor:
    return JobExecutor.get_instance('flux')


def run(ex: JobExecutor, spec, rec: Recorder | None = None) -> Job:  # type: ignore[no-untyped-def]
    job = Job(spec)
    if rec is not None:
        job.set_job_status_callback(rec)
    ex.submit(job)
    st = job.wait(timeout=WAIT)
    assert st is not None, 'job %s did not end: %s' % (job.native_id, job.status)
    return job


def test_psij_python_import_path() -> None:
    from psij.executors.flux import FluxJobExecutor as Alias
    assert Alias is FluxJobExecutor


@pytest.mark.parametrize('code', [0, 3, 255])
def test_exit_codes_and_states(ex: JobExecutor, code: int) -> None:
    rec = Recorder()
    job = run(ex, sh('exit %d' % code), rec)
    final = JobState.COMPLETED if code == 0 else JobState.FAILED
    check_chain(rec.states, final)
    assert job.status.exit_code == code
    assert job.native_id is not None and job.native_id.startswith('\u0192')


def test_killed_by_signal(ex: JobExecutor) -> None:
    job = run(ex, sh('kill -KILL $$'))
    assert job.status.state is JobState.FAILED and job.status.exit_code == 137


def test_command_not_found(ex: JobExecutor) -> None:
    job = run(ex, sh('x').__class__('/nonexistent/cmd'))
    st = job.status
    assert st.state is JobState.FAILED and st.exit_code == 127
    assert st.message is not None and 'exec' in st.message and '/nonexistent/cmd' in st.message


def test_missing_directory_fails_clearly(ex: JobExecutor, tmp_path: Path) -> None:
    marker = tmp_path / 'ran'
    job = run(ex, sh(': > "$1"', str(marker), directory=tmp_path / 'missing'))
    st = job.status
    assert (st.state, st.exit_code) == (JobState.FAILED, 1), st  # as on every executor
    assert st.message is not None and 'cannot enter the job directory' in st.message
    assert str(tmp_path / 'missing') in st.message
    assert not marker.exists()


def test_unsatisfiable_request(ex: JobExecutor) -> None:
    job = run(ex, sh('exit 0', resources=ResourceSpecV1(node_count=3, processes_per_node=1)))
    st = job.status
    assert st.state is JobState.FAILED
    assert st.message is not None and 'unsatisfiable' in st.message


def test_timeout(ex: JobExecutor) -> None:
    rec = Recorder()
    job = run(ex, sh('sleep 60', attributes=JobAttributes(duration=timedelta(seconds=2))), rec)
    st = job.status
    check_chain(rec.states, JobState.FAILED)
    assert st.message is not None and st.message.startswith('walltime exceeded')
    assert st.exit_code is None  # Flux's SIGALRM (142) is not the job's exit


def test_cancel_running_from_inside(ex: JobExecutor, tmp_path: Path) -> None:
    spec, started, _ = blocking(tmp_path)
    rec = Recorder()
    job = Job(spec)
    job.set_job_status_callback(rec)
    ex.submit(job)
    assert job.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    job.cancel()
    st = job.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED
    check_chain(rec.states, JobState.CANCELED)
    job.cancel()  # ended: no error
    ex.cancel(job)


def test_cancel_pending(ex: JobExecutor) -> None:
    rec = Recorder()
    job = Job(sh('exit 0', attributes=JobAttributes(custom_attributes={'flux.urgency': 0})))
    job.set_job_status_callback(rec)
    ex.submit(job)
    assert job.wait(timeout=WAIT, target_states=[JobState.QUEUED]) is not None
    job.cancel()
    st = job.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED and st.exit_code is None
    check_chain(rec.states, JobState.CANCELED, ran=False)


def test_flux_cancel_from_outside(ex: JobExecutor, tmp_path: Path) -> None:
    spec, _, _ = blocking(tmp_path)
    job = Job(spec)
    ex.submit(job)
    assert job.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    assert job.native_id is not None
    flux('cancel', '-m', 'stopped by the operator', job.native_id)
    st = job.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED
    assert st.message is not None and 'stopped by the operator' in st.message


def test_attach_finished_job_every_id_form(ex: JobExecutor) -> None:
    job = run(ex, sh('exit 3'))
    assert job.native_id is not None
    n = parse_job_id(job.native_id)
    words = flux('job', 'id', '--to=words', str(n)).stdout.strip()
    forms = [job.native_id, to_f58(n, ascii_only=True), str(n), hex(n), to_dothex(n),
             'job.' + to_dothex(n), words]
    for form in forms:
        other = JobExecutor.get_instance('flux')
        j2 = Job()
        other.attach(j2, form)
        st = j2.wait(timeout=WAIT)
        assert st is not None and st.state is JobState.FAILED and st.exit_code == 3, form
        assert j2.native_id == job.native_id


def test_attach_running_job(ex: JobExecutor, tmp_path: Path) -> None:
    spec, _, release = blocking(tmp_path, code=42)
    job = Job(spec)
    ex.submit(job)
    assert job.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    rec = Recorder()
    j2 = Job()
    j2.set_job_status_callback(rec)
    assert job.native_id is not None
    JobExecutor.get_instance('flux').attach(j2, str(parse_job_id(job.native_id)))
    assert j2.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    release.touch()
    st2, st1 = j2.wait(timeout=WAIT), job.wait(timeout=WAIT)
    assert st1 is not None and st2 is not None
    assert st1.exit_code == st2.exit_code == 42
    check_chain(rec.states, JobState.FAILED)


def test_attach_unknown_and_invalid(ex: JobExecutor) -> None:
    j = Job()
    ex.attach(j, '\u01922aaaaaaa')
    st = j.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.FAILED
    assert st.message is not None and 'does not know' in st.message
    with pytest.raises(InvalidJobException):
        ex.attach(Job(), 'W1gwrP')


def test_list(ex: JobExecutor, tmp_path: Path) -> None:
    spec, _, release = blocking(tmp_path)
    job = Job(spec)
    ex.submit(job)
    assert job.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    ids = ex.list()
    release.touch()
    assert job.native_id in ids
    assert all(isinstance(i, str) for i in ids)
    assert job.wait(timeout=WAIT) is not None


@pytest.mark.parametrize('launcher', ['mpirun', 'multiple'])
def test_two_nodes(ex: JobExecutor, tmp_path: Path, launcher: str) -> None:
    """Two ranks on the instance's two nodes (brokers), told apart by Flux's node names."""
    job = run(ex, sh('flux getattr hostname > "$1/rank.$FLUX_TASK_RANK"; '
                     'cat "$PSIJ_NODEFILE" >> "$1/rank.$FLUX_TASK_RANK"', str(tmp_path),
                     launcher=launcher,
                     resources=ResourceSpecV1(node_count=2, processes_per_node=1)))
    assert job.status.state is JobState.COMPLETED, job.status
    files = sorted(tmp_path.glob('rank.*'))
    assert [f.name for f in files] == ['rank.0', 'rank.1']
    lines = [f.read_text().split() for f in files]
    assert {ln[0] for ln in lines} == {'node0', 'node1'}
    assert all(ln[1:] == ['node0', 'node1'] for ln in lines), lines
    assert job.native_id is not None
    assert flux('jobs', '-n', '-o', '{nnodes}', job.native_id).stdout.strip() == '2'


@pytest.mark.parametrize('wrapped', [False, True], ids=['direct', 'pre_launch'])
def test_two_nodes_with_the_default_launcher(ex: JobExecutor, tmp_path: Path,
                                              wrapped: bool) -> None:
    """One process, on the lead node, in an allocation of both nodes; the job ends with its
    exit code (Flux failed it: "node[0-1] terminated before first barrier")."""
    pre = tmp_path / 'pre.sh'
    pre.write_text('echo pre >> "%s/log"\n' % tmp_path)
    job = run(ex, sh('flux getattr hostname >> "$1/ran"; sleep 1; exit 3', str(tmp_path),
                     pre_launch=pre if wrapped else None,
                     resources=ResourceSpecV1(node_count=2, process_count=2)))
    assert job.status.state is JobState.FAILED and job.status.exit_code == 3, job.status
    assert (tmp_path / 'ran').read_text().split() == ['node0']
    assert (tmp_path / 'log').exists() == wrapped
    assert job.native_id is not None
    assert flux('jobs', '-n', '-o', '{nnodes}', job.native_id).stdout.strip() == '2'
    ok = run(ex, sh('exit 0', resources=ResourceSpecV1(node_count=2)))
    assert ok.status.state is JobState.COMPLETED, ok.status


def test_pre_post_launch_with_flux_ranks(ex: JobExecutor, tmp_path: Path) -> None:
    """Pre/post run once on the lead node; what pre exports reaches every rank."""
    log = tmp_path / 'log'
    pre, post = tmp_path / 'pre.sh', tmp_path / 'post.sh'
    pre.write_text('echo pre >> "%s"; export FROM_PRE="from pre"\n' % log)
    post.write_text('echo "post $(ls "%s" | grep -c rank)" >> "%s"\n' % (tmp_path, log))
    job = run(ex, sh('echo "$FROM_PRE" > "$1/rank.$FLUX_TASK_RANK"', str(tmp_path),
                     launcher='multiple', pre_launch=pre, post_launch=post,
                     resources=ResourceSpecV1(node_count=2, processes_per_node=1)))
    assert job.status.state is JobState.COMPLETED, job.status
    assert log.read_text() == 'pre\npost 2\n'
    for f in sorted(tmp_path.glob('rank.*')):
        assert f.read_text() == 'from pre\n'


def test_threads_constant(ex: JobExecutor) -> None:
    jobs = [Job(sh('exit 0')) for _ in range(5)]
    for j in jobs:
        ex.submit(j)
    for j in jobs:
        assert j.wait(timeout=WAIT) is not None
    before = threading.active_count()
    jobs = [Job(sh('exit 0')) for _ in range(60)]
    for j in jobs:
        ex.submit(j)
    during = threading.active_count()
    for j in jobs:
        assert j.wait(timeout=WAIT) is not None
    assert during == before and threading.active_count() == before


def test_no_instance_names_the_uri() -> None:
    bad = FluxJobExecutor(url='local:///nonexistent/psij-flux-test',
                          config=FluxExecutorConfig(connect_timeout=1.0))
    with pytest.raises(SubmitException, match='local:///nonexistent/psij-flux-test'):
        bad.submit(Job(sh('exit 0')))
    cli = FluxJobExecutor(url='local:///nonexistent/psij-flux-test',
                          config=FluxExecutorConfig(use_bindings=False))
    with pytest.raises(SubmitException, match='No Flux instance answers'):
        cli.submit(Job(sh('exit 0')))


def test_cli_fallback(tmp_path: Path) -> None:
    cli = FluxJobExecutor(config=FluxExecutorConfig(use_bindings=False, poll_interval=0.2))
    assert cli.backend().kind == 'cli'
    rec = Recorder()
    job = run(cli, sh('exit 3'), rec)
    assert job.status.exit_code == 3
    check_chain(rec.states, JobState.FAILED)
    spec, _, _ = blocking(tmp_path)
    j2 = Job(spec)
    cli.submit(j2)
    assert j2.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    assert j2.native_id in cli.list()
    j2.cancel()
    st = j2.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED
    j3 = Job()
    assert job.native_id is not None
    cli.attach(j3, job.native_id)
    st = j3.wait(timeout=WAIT)
    assert st is not None and st.exit_code == 3


def test_flux_uri_is_used() -> None:
    assert FluxJobExecutor().uri == os.environ['FLUX_URI']


def test_bad_queue_is_invalid_when_submitted_synchronously() -> None:
    ex = FluxJobExecutor(config=FluxExecutorConfig(async_submit=False))
    job = Job(sh('exit 0', attributes=JobAttributes(queue_name='nosuch')))
    with pytest.raises(InvalidJobException, match="Flux refused the job.*nosuch"):
        ex.submit(job)
    assert job.status.state is JobState.NEW and job.native_id is None


def test_async_submit_is_the_default(tmp_path: Path) -> None:
    """submit() returns before Flux answers; ids, states, cancel and refusals still work."""
    assert FluxExecutorConfig().async_submit is True
    ex = FluxJobExecutor()
    recs = [Recorder() for _ in range(30)]
    jobs = [Job(sh('exit %d' % (i % 3))) for i in range(30)]
    for job, rec in zip(jobs, recs, strict=True):
        job.set_job_status_callback(rec)
        ex.submit(job)
    spec, _, _ = blocking(tmp_path)
    early = Job(spec)
    ex.submit(early)
    early.cancel()  # most likely before Flux answered: applied once it does
    # a refusal only Flux can make (the jobspec's duration is no number): FAILED, not raised
    refused = Job(sh('exit 0', attributes=JobAttributes(
        custom_attributes={'flux.setattr.system.duration': 'abc'})))
    ex.submit(refused)
    for i, (job, rec) in enumerate(zip(jobs, recs, strict=True)):
        st = job.wait(timeout=WAIT)
        assert st is not None and st.exit_code == i % 3
        check_chain(rec.states, JobState.COMPLETED if i % 3 == 0 else JobState.FAILED)
        assert job.native_id is not None
    st = early.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED
    st = refused.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.FAILED
    assert st.message is not None and 'duration must be a number' in st.message, st
    assert refused.native_id is None


def test_a_process_that_exits_right_after_submit_gets_its_jobs_run(tmp_path: Path) -> None:
    """The jobs still queued for the submitter when the process ends are sent at exit."""
    code = textwrap.dedent('''
        import sys
        from psij import Job, JobExecutor, JobSpec
        ex = JobExecutor.get_instance('flux')
        for i in range(40):
            ex.submit(Job(JobSpec('/bin/sh', ['-c', ': > "$1"', 'sh', sys.argv[1] + str(i)])))
        ''')
    p = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'ran-')],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + WAIT
    while len(list(tmp_path.glob('ran-*'))) < 40 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(list(tmp_path.glob('ran-*'))) == 40


def test_bad_queue_is_refused_at_submit_without_waiting_for_flux(ex: JobExecutor) -> None:
    job = Job(sh('exit 0', attributes=JobAttributes(queue_name='nosuch')))
    with pytest.raises(InvalidJobException, match="no named queues.*'nosuch'"):
        ex.submit(job)
    assert job.status.state is JobState.NEW and job.native_id is None


def _child_runs_a_job(ex: JobExecutor) -> int:
    job = Job(sh('exit 5'))
    ex.submit(job)
    st = job.wait(timeout=WAIT)
    return 0 if st is not None and st.exit_code == 5 else 1


def test_forked_child_gets_its_own_connection(ex: JobExecutor) -> None:
    """A child forked after the executor was used (multiprocessing) submits on its own."""
    assert run(ex, sh('exit 0')).status.state is JobState.COMPLETED
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = _child_runs_a_job(ex)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert run(ex, sh('exit 2')).status.exit_code == 2
