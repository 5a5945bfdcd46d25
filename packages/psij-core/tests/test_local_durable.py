"""Local jobs outlive the process that submitted them, with their true final states.

A submitting process that exits, or is killed with SIGKILL, loses nothing: its jobs are the
children of its keeper process, which records how each one ends. Another process attaches by
native id (while the job runs or after it ended) and gets exactly what happened. Jobs here
wait for a FIFO or a gate file that the test opens once it has attached, so that "still
running at attach time" holds by construction, not by timing.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from psij import Job, JobExecutor, JobSpec, JobState
from psij.conformance.batch_faults import process_alive
from psij.executors.local import LocalJobExecutorConfig

PY = sys.executable

# Submits the job given on its command line, prints its native id, then exits as told:
# "exit" returns normally (interpreter shutdown), "hang" waits to be killed.
SUBMITTER = textwrap.dedent('''
    import sys, time
    import psij
    from psij.executors.local import LocalJobExecutorConfig
    ex = psij.JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
    job = psij.Job(psij.JobSpec(sys.argv[3], sys.argv[4:]))
    ex.submit(job)
    print(job.native_id, flush=True)
    if sys.argv[2] == 'hang':
        while True:
            time.sleep(100)
''')

# Attaches to the ids given on its command line, prints each final status as JSON.
ATTACHER = textwrap.dedent('''
    import json, sys
    import psij
    from psij.executors.local import LocalJobExecutorConfig
    ex = psij.JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
    jobs = []
    for nid in sys.argv[2:]:
        job = psij.Job()
        ex.attach(job, nid)
        jobs.append(job)
    print('attached', flush=True)
    for job in jobs:
        st = job.wait(timeout=120)
        print(json.dumps(None if st is None else
                         {'state': st.state.name, 'exit_code': st.exit_code}), flush=True)
''')


def executor(state_dir):
    return JobExecutor.get_instance('local',
                                    config=LocalJobExecutorConfig(state_directory=state_dir))


def submit_elsewhere(state_dir, how, *cmd):
    """Submits `cmd` from another process that then exits (`how` = exit) or is killed with
    SIGKILL (`how` = sigkill); returns the native id."""
    p = subprocess.Popen([PY, '-c', SUBMITTER, str(state_dir),
                          'exit' if how == 'exit' else 'hang'] + list(cmd),
                         stdout=subprocess.PIPE, text=True)
    native_id = p.stdout.readline().strip()
    if how == 'sigkill':
        p.send_signal(signal.SIGKILL)
    p.stdout.close()
    rc = p.wait(timeout=60)
    assert native_id
    assert rc == (-signal.SIGKILL if how == 'sigkill' else 0)
    return native_id


OUTCOMES = {
    'completed': ('exit 0', 'COMPLETED', 0),
    'exit 7': ('exit 7', 'FAILED', 7),
    'killed by signal 9': ('kill -9 $$', 'FAILED', -9),
}


@pytest.mark.parametrize('how', ['exit', 'sigkill'])
@pytest.mark.parametrize('outcome', sorted(OUTCOMES))
def test_attach_after_the_submitter_is_gone(tmp_path, how, outcome):
    state_dir = tmp_path / 'state'
    go = tmp_path / 'go'
    os.mkfifo(go)
    end, state, code = OUTCOMES[outcome]
    nid = submit_elsewhere(state_dir, how, '/bin/sh', '-c', 'read x < "$0"; ' + end, str(go))
    ex = executor(state_dir)
    assert nid in ex.list()  # the job runs on, its submitter gone
    # another process attaches while the job runs, then the job ends
    p = subprocess.Popen([PY, '-c', ATTACHER, str(state_dir), nid], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == 'attached'
    with open(go, 'w') as f:
        f.write('go\n')
    running = json.loads(p.stdout.readline())
    p.wait(timeout=60)
    assert running == {'state': state, 'exit_code': code}
    # and a process that attaches after the end gets the same
    job = Job()
    ex.attach(job, nid)
    st = job.wait(timeout=60)
    assert (st.state.name, st.exit_code) == (state, code)
    assert nid not in ex.list()


def test_sleep_job_of_a_submitter_that_exited(tmp_path):
    # the example of the user guide: submit /bin/sleep, print the id, exit; attach elsewhere
    state_dir = tmp_path / 'state'
    nid = submit_elsewhere(state_dir, 'exit', '/bin/sleep', '1')
    job = Job()
    executor(state_dir).attach(job, nid)
    st = job.wait(timeout=60)
    assert (st.state, st.exit_code) == (JobState.COMPLETED, 0), st


def test_cancel_from_another_process_after_the_submitter_died(tmp_path):
    state_dir = tmp_path / 'state'
    nid = submit_elsewhere(state_dir, 'sigkill', '/bin/sleep', '100')
    ex = executor(state_dir)
    job = Job()
    ex.attach(job, nid)
    job.cancel()
    st = job.wait(timeout=60)
    assert (st.state, st.exit_code) == (JobState.CANCELED, None), st  # the cancel's SIGTERM
    # one final state everywhere: the keeper recorded the cancel
    p = subprocess.run([PY, '-c', ATTACHER, str(state_dir), nid], capture_output=True,
                       text=True, timeout=60)
    assert json.loads(p.stdout.splitlines()[1]) == {'state': 'CANCELED', 'exit_code': None}
    assert not [n for n in os.listdir(state_dir) if n.startswith('cancel-')]
    assert nid not in ex.list()


def test_a_job_that_traps_the_cancel_of_another_process_is_canceled(tmp_path):
    # it exits 143 on its own after the signal: CANCELED all the same, as the keeper sees
    # the request file before it records the end
    state_dir = tmp_path / 'state'
    nid = submit_elsewhere(state_dir, 'exit', '/bin/sh', '-c',
                           "trap 'exit 143' TERM; while :; do sleep 0.05; done")
    ex = executor(state_dir)
    job = Job()
    ex.attach(job, nid)
    job.cancel()
    st = job.wait(timeout=60)
    assert (st.state, st.exit_code) == (JobState.CANCELED, 143), st


def _until(cond, what, timeout=60.0):
    import time
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, 'gave up waiting for ' + what
        time.sleep(0.01)


def test_a_killed_keeper_leaves_its_jobs_followed_and_cancellable(tmp_path):
    # the keeper is what knows exit codes: if it is killed, its jobs' processes run on (in
    # their own sessions), so they are not final: the submitter follows them by pidfd,
    # reports each end (exit code unknown), cancel still works, and the next submit starts
    # a new keeper
    from psij.executors.local._keeper_client import KeeperClient
    ex = executor(tmp_path / 'state')
    go = tmp_path / 'go'
    os.mkfifo(go)
    waiting = Job(JobSpec('/bin/sh', ['-c', 'read x < "$0"; exit 3', str(go)]))
    sleeping = Job(JobSpec('/bin/sleep', ['1000']))
    for j in (waiting, sleeping):
        ex.submit(j)
        assert j.native_id  # the keeper started it
    pids = [int(j.native_id.split('-')[0]) for j in (waiting, sleeping)]
    keeper = KeeperClient.get().pid
    os.kill(keeper, signal.SIGKILL)
    _until(lambda: not KeeperClient.running(), 'the submitter to notice the keeper died')
    assert all(process_alive(p) for p in pids)
    assert not waiting.status.state.final and not sleeping.status.state.final, \
        (waiting.status, sleeping.status)
    sleeping.cancel()
    st = sleeping.wait(timeout=60)
    assert st is not None and st.state is JobState.CANCELED, st
    assert not process_alive(pids[1])
    assert not waiting.status.state.final
    with open(go, 'w') as f:  # let the job end
        f.write('go\n')
    st = waiting.wait(timeout=60)
    assert st is not None and st.state is JobState.FAILED and st.exit_code is None, st
    assert 'keeper' in st.message and str(keeper) in st.message, st
    assert not process_alive(pids[0])
    again = Job(JobSpec('/bin/sh', ['-c', 'exit 4']))
    ex.submit(again)
    assert again.wait(timeout=60).exit_code == 4
    assert KeeperClient.get().pid != keeper


def test_a_keeper_killed_before_it_starts_a_job_fails_that_job_not_a_hang(tmp_path):
    # submit returns once the keeper has the request; a keeper that dies before serving it
    # (stopped here, so that it cannot) ends the job FAILED, naming why, with no native id
    from psij.executors.local._keeper_client import KeeperClient
    ex = executor(tmp_path / 'state')
    first = Job(JobSpec('/bin/true'))
    ex.submit(first)
    assert first.wait(timeout=60).state is JobState.COMPLETED
    keeper = KeeperClient.get().pid
    os.kill(keeper, signal.SIGSTOP)
    try:
        job = Job(JobSpec('/bin/sh', ['-c', 'exit 0']))
        ex.submit(job)
        assert job.status.state is JobState.QUEUED
    finally:
        os.kill(keeper, signal.SIGKILL)
    st = job.wait(timeout=60)
    assert st.state is JobState.FAILED and st.exit_code is None, st
    assert 'before it started the job' in st.message and str(keeper) in st.message, st
    assert job.native_id is None
    assert st.metadata['submit_exception'].transient
    again = Job(JobSpec('/bin/sh', ['-c', 'exit 4']))
    ex.submit(again)
    assert again.wait(timeout=60).exit_code == 4


# Submits a job with a mandatory stage-out; with "ended", first blocks its own staging worker
# (so the stage-out waits) and reports once the job's process is gone; then waits to be killed.
STAGING_SUBMITTER = textwrap.dedent('''
    import os, sys, threading, time
    import psij
    from psij.executors.local._local_staging import StagingWorker
    from psij.executors.local import LocalJobExecutorConfig
    state_dir, when, work, dst, script = sys.argv[1:]
    if when == 'ended':
        StagingWorker.submit(threading.Event().wait)
    ex = psij.JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=state_dir))
    job = psij.Job(psij.JobSpec('/bin/sh', ['-c', script], directory=work,
                                stage_out={psij.StageOut('out.txt', dst)}))
    ex.submit(job)
    print(job.native_id, flush=True)
    if when == 'ended':
        while os.path.exists('/proc/%s' % job.native_id.split('-')[0]):
            time.sleep(0.01)
        print('ended', flush=True)
    while True:
        time.sleep(100)
''')


@pytest.mark.parametrize('when', ['running', 'ended'])
def test_a_stage_out_the_dead_submitter_could_not_do_is_a_failure(tmp_path, when):
    # stage-out runs in the submitter: killed while the job runs, or after it ended but
    # before its stage-out, the job's record must not say COMPLETED
    state_dir, work, dst = tmp_path / 'state', tmp_path / 'work', tmp_path / 'dst' / 'out.txt'
    work.mkdir()
    go = tmp_path / 'go'
    os.mkfifo(go)
    script = 'echo r > out.txt' if when == 'ended' else 'read x < %s; echo r > out.txt' % go
    p = subprocess.Popen([PY, '-c', STAGING_SUBMITTER, str(state_dir), when, str(work),
                          str(dst), script], stdout=subprocess.PIPE, text=True)
    try:
        nid = p.stdout.readline().strip()
        assert nid
        if when == 'ended':
            assert p.stdout.readline().strip() == 'ended'
    finally:
        p.kill()
        p.wait(timeout=60)
    if when == 'running':
        with open(go, 'w') as f:
            f.write('go\n')
    job = Job()
    executor(state_dir).attach(job, nid)
    st = job.wait(timeout=60)
    assert st is not None and st.state is JobState.FAILED, st
    assert st.exit_code == 0 and 'stage-out' in st.message, st
    assert not dst.exists()


# -- crash recovery: 50 jobs of a submitter killed mid-flight ---------------------------------

# kind: (shell code, final state, exit code, still running when the submitter dies)
KINDS = [
    ('exit 0', 'COMPLETED', 0, False),
    ('exit 3', 'FAILED', 3, False),
    ('sleep 0.3; exit 5', 'FAILED', 5, False),
    ('kill -9 $$', 'FAILED', -9, False),
    ('while [ ! -e "$0" ]; do sleep 0.05; done; exit 0', 'COMPLETED', 0, True),
    ('while [ ! -e "$0" ]; do sleep 0.05; done; exit 6', 'FAILED', 6, True),
    ('while [ ! -e "$0" ]; do sleep 0.05; done; kill -TERM $$', 'FAILED', -15, True),
]

# Submits jobs of every kind in turn, printing "<kind> <native id>" for each, and goes on
# submitting until it is killed.
CRASHER = textwrap.dedent('''
    import sys
    import psij
    from psij.executors.local import LocalJobExecutorConfig
    kinds = sys.argv[3:]
    ex = psij.JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
    i = 0
    while True:
        k = i % len(kinds)
        job = psij.Job(psij.JobSpec('/bin/sh', ['-c', kinds[k], sys.argv[2]]))
        ex.submit(job)
        print(k, job.native_id, flush=True)
        i += 1
''')


def test_crash_recovery_of_50_jobs(tmp_path):
    state_dir = tmp_path / 'state'
    gate = tmp_path / 'gate'
    p = subprocess.Popen([PY, '-c', CRASHER, str(state_dir), str(gate)]
                         + [k[0] for k in KINDS], stdout=subprocess.PIPE, text=True)
    submitted = []
    try:
        for _ in range(50):
            kind, nid = p.stdout.readline().split()
            submitted.append((KINDS[int(kind)], nid))
    finally:
        p.send_signal(signal.SIGKILL)  # mid-flight: it is submitting more
        p.stdout.close()
        p.wait(timeout=60)
    ex = executor(state_dir)
    live = set(ex.list())
    assert {nid for k, nid in submitted if k[3]} <= live
    jobs = []
    for kind, nid in submitted:
        job = Job()
        ex.attach(job, nid)
        jobs.append((kind, job))
    gate.touch()
    wrong = []
    for (_, state, code, _), job in jobs:
        st = job.wait(timeout=120)
        assert st is not None, 'job %s never ended' % job.native_id
        if (st.state.name, st.exit_code) != (state, code):
            wrong.append((job.native_id, state, code, st))
    assert not wrong
    assert not set(ex.list()) & {nid for _, nid in submitted}
