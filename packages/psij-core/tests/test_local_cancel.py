"""Cancelling local jobs: signals to the whole group, SIGKILL after the grace period, exactly
one CANCELED, harmless on finished jobs."""

import os
import sys
import threading

import pytest
from psij import Job, JobExecutor, JobSpec, JobState
from psij.executors.local import LocalJobExecutorConfig

PY = sys.executable


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance('local', config=LocalJobExecutorConfig(
        state_directory=tmp_path / 'state', cancel_grace_period=0.3))


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except FileNotFoundError:
        return False


def wait_for_file(job, path):
    """Waits (on the job, not on a clock) until the job wrote `path` or ended."""
    import select
    fd = os.pidfd_open(int(job.native_id.split('-')[0]))
    try:
        while not (path.exists() and path.read_text().endswith('\n')):
            select.select([fd], [], [], 0.01)  # returns early if the job ends
            if job.status.state.final:
                break
    finally:
        os.close(fd)


def test_cancel_running_job(ex):
    job = Job(JobSpec('/bin/sleep', ['100']))
    seen = []
    job.set_job_status_callback(lambda j, s: seen.append(s.state))
    ex.submit(job)
    pid = int(job.native_id.split('-')[0])
    job.cancel()
    st = job.wait()
    assert st.state is JobState.CANCELED
    assert not alive(pid)
    assert seen.count(JobState.CANCELED) == 1
    assert [s for s in seen if s.final] == [JobState.CANCELED]


def test_cancel_kills_the_whole_group(ex, tmp_path):
    pids = tmp_path / 'pids'
    code = ('import os, subprocess, sys\n'
            'c = subprocess.Popen(["sleep", "100"])\n'
            'open(sys.argv[1], "w").write("%d %d\\n" % (os.getpid(), c.pid))\n'
            'c.wait()\n')
    job = Job(JobSpec(PY, ['-c', code, str(pids)]))
    ex.submit(job)
    wait_for_file(job, pids)
    leader, child = map(int, pids.read_text().split())
    assert alive(child)
    job.cancel()
    assert job.wait().state is JobState.CANCELED
    assert not alive(leader)
    assert not alive(child)


def test_sigterm_ignored_then_sigkill(ex, tmp_path):
    ready = tmp_path / 'ready'
    code = ('import signal, sys, time\n'
            'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'open(sys.argv[1], "w").write("ok\\n")\n'
            'while True: time.sleep(1)\n')
    job = Job(JobSpec(PY, ['-c', code, str(ready)]))
    ex.submit(job)
    wait_for_file(job, ready)
    job.cancel()
    st = job.wait()
    assert st.state is JobState.CANCELED
    assert st.exit_code is None  # the cancel's SIGKILL, not an exit of the job's


def test_cancel_finished_job_is_harmless(ex):
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    assert job.wait().state is JobState.COMPLETED
    job.cancel()
    ex.cancel(job)
    assert job.status.state is JobState.COMPLETED


def test_cancel_twice_and_concurrently(ex):
    jobs = [Job(JobSpec('/bin/sleep', ['100'])) for _ in range(20)]
    finals = {j.id: [] for j in jobs}
    for j in jobs:
        j.set_job_status_callback(lambda jb, s: s.final and finals[jb.id].append(s.state))
        ex.submit(j)
    threads = [threading.Thread(target=lambda: [j.cancel() for j in jobs]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for j in jobs:
        assert j.wait().state is JobState.CANCELED
        assert finals[j.id] == [JobState.CANCELED]


def test_cancel_from_callback(ex):
    job = Job(JobSpec('/bin/sleep', ['100']))
    job.set_job_status_callback(lambda j, s: s.state is JobState.ACTIVE and j.cancel())
    ex.submit(job)
    assert job.wait().state is JobState.CANCELED


def test_cancel_with_shell_wrapper(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text(':\n')
    job = Job(JobSpec('/bin/sleep', ['100'], pre_launch=pre))
    ex.submit(job)
    job.cancel()
    assert job.wait().state is JobState.CANCELED


def test_cancel_unsubmitted_job_raises():
    from psij import SubmitException
    with pytest.raises(SubmitException):
        Job(JobSpec('/bin/true')).cancel()
