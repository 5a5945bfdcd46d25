"""attach() and list() across processes, with true exit codes."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from psij import InvalidJobException, Job, JobExecutor, JobSpec, JobState
from psij.executors.local import LocalJobExecutorConfig

PY = sys.executable

# A separate process that attaches to a job and prints its final status as JSON.
ATTACHER = textwrap.dedent('''
    import json, sys
    import psij
    from psij.executors.local import LocalJobExecutorConfig
    ex = psij.JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
    job = psij.Job()
    ex.attach(job, sys.argv[2])
    print(json.dumps({'attached': job.status.state.name}), flush=True)
    st = job.wait()
    print(json.dumps({'state': st.state.name, 'exit_code': st.exit_code,
                      'message': st.message}))
''')

@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / 'state'


@pytest.fixture
def ex(state_dir):
    return JobExecutor.get_instance('local',
                                    config=LocalJobExecutorConfig(state_directory=state_dir))


def attach_in_other_process(state_dir, native_id):
    p = subprocess.run([PY, '-c', ATTACHER, str(state_dir), native_id], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    return json.loads(lines[0])['attached'], json.loads(lines[1])


def test_attach_running_job_gets_true_exit_code(ex, state_dir, tmp_path):
    go = tmp_path / 'go'
    os.mkfifo(go)
    # The job blocks until the attacher is attached, then exits with 3.
    job = Job(JobSpec('/bin/sh', ['-c', 'read x < "$0"; exit 3', str(go)]))
    ex.submit(job)
    p = subprocess.Popen([PY, '-c', ATTACHER, str(state_dir), job.native_id],
                         stdout=subprocess.PIPE, text=True)
    assert json.loads(p.stdout.readline()) == {'attached': 'ACTIVE'}
    with open(go, 'w') as f:
        f.write('go\n')
    final = json.loads(p.stdout.readline())
    p.wait(timeout=60)
    assert job.wait().exit_code == 3
    assert final['state'] == 'FAILED'
    assert final['exit_code'] == 3


def test_attach_finished_job(ex, state_dir):
    job = Job(JobSpec('/bin/sh', ['-c', 'exit 6']))
    ex.submit(job)
    job.wait()
    attached, final = attach_in_other_process(state_dir, job.native_id)
    assert final['state'] == 'FAILED' and final['exit_code'] == 6


def test_attach_in_same_process(ex):
    job = Job(JobSpec('/bin/sh', ['-c', 'exit 0']))
    ex.submit(job)
    job.wait()
    j2 = Job()
    ex.attach(j2, job.native_id)
    st = j2.wait()
    assert st.state is JobState.COMPLETED and st.exit_code == 0


def test_list_shows_live_jobs_only(ex):
    job = Job(JobSpec('/bin/sleep', ['100']))
    done = Job(JobSpec('/bin/true'))
    ex.submit(job)
    ex.submit(done)
    done.wait()
    ids = ex.list()
    assert job.native_id in ids
    assert done.native_id not in ids
    job.cancel()
    job.wait()
    assert job.native_id not in ex.list()


def test_attach_bad_ids(ex):
    with pytest.raises(InvalidJobException):
        ex.attach(Job(), 'not-an-id')
    with pytest.raises(InvalidJobException, match='No local job'):
        ex.attach(Job(), '1-1')
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    job.wait()
    with pytest.raises(InvalidJobException):
        ex.attach(job, job.native_id)  # not NEW


def test_cancel_attached_job(ex, state_dir):
    job = Job(JobSpec('/bin/sleep', ['100']))
    ex.submit(job)
    ex2 = JobExecutor.get_instance('local',
                                   config=LocalJobExecutorConfig(state_directory=state_dir))
    j2 = Job()
    ex2.attach(j2, job.native_id)
    j2.cancel()
    assert j2.wait().state is JobState.CANCELED
    st = job.wait()
    # killed by the cancel's SIGTERM: no exit code of its own (issue 27's rule)
    assert st.state is JobState.CANCELED and st.exit_code is None


def test_cancel_from_another_process_of_a_job_that_traps_sigterm(ex, state_dir):
    # the job exits 143 on its own after the signal: still CANCELED in both processes, and
    # the request file is consumed
    job = Job(JobSpec('/bin/sh', ['-c', "trap 'exit 143' TERM; while :; do sleep 0.05; done"]))
    ex.submit(job)
    job.wait(target_states=[JobState.ACTIVE])
    ex2 = JobExecutor.get_instance('local',
                                   config=LocalJobExecutorConfig(state_directory=state_dir))
    j2 = Job()
    ex2.attach(j2, job.native_id)
    j2.cancel()
    assert j2.wait(timeout=30).state is JobState.CANCELED
    st = job.wait(timeout=30)
    assert st.state is JobState.CANCELED, st
    assert not [n for n in os.listdir(state_dir) if n.startswith('cancel-')]


def test_attach_after_the_journal_rotated(ex, state_dir):
    # the start record is in one journal file, the end record in the next one (journals
    # rotate at _local_state.JOURNAL_ROTATE_SIZE); the keeper that wrote them is gone
    from psij.executors.local import _local_state
    gone = subprocess.run([PY, '-c', 'import os; print(os.getpid())'], capture_output=True,
                          text=True, timeout=60)
    pid = int(gone.stdout)
    keeper = _local_state.make_native_id(pid, 1)
    job_id = _local_state.make_native_id(pid, 2)
    state_dir.mkdir(mode=0o700)
    (state_dir / ('%s.0.journal' % keeper)).write_text('S %s\n' % job_id)
    (state_dir / ('%s.1.journal' % keeper)).write_text(
        'E %s {"state": "FAILED", "exit_code": 7, "message": "Exit code 7"}\n' % job_id)
    _, final = attach_in_other_process(state_dir, job_id)
    assert (final['state'], final['exit_code']) == ('FAILED', 7), final


def test_a_job_of_another_host_is_refused_with_its_host_named(ex, state_dir):
    # several login nodes may share a home directory, so a state directory: a pid means
    # something only on its own machine
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    assert job.wait(timeout=30).state is JobState.COMPLETED
    ids, _, host = job.native_id.partition('@')
    with pytest.raises(InvalidJobException, match='on host login9'):
        ex.attach(Job(), ids + '@login9')
    # the journals of another host are never cleaned up from here, whatever their age
    from psij.executors.local import _local_state
    foreign = state_dir / ('%s@login9.0.journal' % ids)
    foreign.write_text('S %s@login9\n' % ids)
    os.utime(foreign, (0, 0))
    _local_state.remove_old_records(state_dir, max_age=1)
    assert foreign.exists()
