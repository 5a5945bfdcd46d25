"""The keeper process through its client: whatever a request holds, the submitter gets a reply
and the keeper keeps serving (a submit never hangs on it)."""

import os

import pytest
from psij import Job, JobExecutor, JobSpec, JobState
from psij.executors.local import LocalJobExecutorConfig
from psij.executors.local._keeper_client import KeeperClient, KeeperError
from psij.executors.local._keeper_messages import JobInfo


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


def start(argv, state_dir, env=None):
    ends = []
    client = KeeperClient.get()
    key, pid, nid = client.start(argv, argv[0], '/', env or {}, ([], []),
                                 JobInfo(str(state_dir), '', False, False, ''),
                                 lambda *end: ends.append(end),
                                 lambda why: ends.append(('LOST', None, why)))
    return key, pid, nid, ends


def test_a_request_the_keeper_cannot_run_gets_an_error_reply(ex, tmp_path):
    ex.submit(Job(JobSpec('/bin/true')))  # the state directory exists
    with pytest.raises(KeeperError) as info:
        start(['/bin/echo', 'a\0b'], tmp_path / 'state')
    assert info.value.during == 'invalid' and 'null' in str(info.value).lower()
    with pytest.raises(KeeperError) as info:
        start(['/no/such/program'], tmp_path / 'state')
    assert info.value.during == 'start' and info.value.filename == '/no/such/program'
    # and it still serves
    job = Job(JobSpec('/bin/sh', ['-c', 'exit 3']))
    ex.submit(job)
    assert job.wait(timeout=60).exit_code == 3


def test_garbage_on_the_request_socket_is_ignored(ex):
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    client = KeeperClient.get()
    client._requests.send(b'\xff not marshal data')
    client._requests.send(b'\xe9')
    again = Job(JobSpec('/bin/sh', ['-c', 'exit 2']))
    ex.submit(again)
    assert again.wait(timeout=60).exit_code == 2
    assert KeeperClient.get() is client


def test_malformed_messages_are_ignored_by_the_keeper(ex):
    # well-formed marshal data that is no message (a wrong arity, an unknown tag) must not
    # stop the keeper from serving
    import marshal
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    client = KeeperClient.get()
    for bad in (('c', 1), ('e', 1, 'COMPLETED'), ('s', 1), ('zz', 1, 2), ('e',), ()):
        client._requests.send(marshal.dumps(bad))
    again = Job(JobSpec('/bin/sh', ['-c', 'exit 2']))
    ex.submit(again)
    assert again.wait(timeout=60).exit_code == 2
    assert KeeperClient.get() is client


def test_every_message_round_trips():
    from psij.executors.local import _keeper_messages as m
    msgs = [m.Start(3, ['a', 'b'], '/bin/a', '/', ('=', {b'K': b'V'}), [1, 2],
                    JobInfo('/s', '/e', True, False, '')),
            m.Cancel(3, 0.5), m.Final(3, 'FAILED', 2, 'x'), m.Started(3, 99, '99-1@h'),
            m.Refused(3, 2, 'No such file', '/x', 'start')]
    for msg in msgs:
        back = m.decode(m.encode(msg))
        assert back == msg and type(back) is type(msg)
    ends = [m.JobEnd(1, 'COMPLETED', 0, None), m.JobEnd(2, 'FAILED', None, 'y')]
    assert m.decode_ends(m.encode_ends(ends)) == ends
    assert m.decode(b'garbage') is None and m.decode_ends(b'garbage') == []


def test_the_keeper_leaves_once_its_submitter_and_jobs_are_gone(tmp_path):
    # a submitter that exits at once, a job that ends when told: the keeper stays for it,
    # then goes (its journal records the end)
    import subprocess
    import sys
    import textwrap
    go = tmp_path / 'go'
    os.mkfifo(go)
    code = textwrap.dedent('''
        import sys
        import psij
        from psij.executors.local._keeper_client import KeeperClient
        from psij.executors.local import LocalJobExecutorConfig
        ex = psij.JobExecutor.get_instance(
            'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
        job = psij.Job(psij.JobSpec('/bin/sh', ['-c', 'read x < "$0"', sys.argv[2]]))
        ex.submit(job)
        print(KeeperClient.get().pid, job.native_id, flush=True)
    ''')
    p = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'state'), str(go)],
                       capture_output=True, text=True, timeout=60)
    keeper, nid = p.stdout.split()
    pidfd = os.pidfd_open(int(keeper))  # the keeper is alive: it waits for the job
    try:
        with open(go, 'w') as f:
            f.write('go\n')
        import select
        assert select.select([pidfd], [], [], 60)[0] == [pidfd], 'the keeper did not exit'
    finally:
        os.close(pidfd)
    job = Job()
    JobExecutor.get_instance('local', config=LocalJobExecutorConfig(
        state_directory=tmp_path / 'state')).attach(job, nid)
    assert job.wait(timeout=60).state is JobState.COMPLETED


def test_the_keeper_boots_with_only_the_modules_it_needs():
    # The keeper runs `python -S` with bare packages on the way to psij.executors.local._keeper
    # (its start-up time is part of every first submit): not the slow `-m` fallback, and
    # neither psij's public API nor the executor in psij/executors/local/__init__.py.
    import subprocess
    import sys

    from psij.executors.local import _keeper_client
    argv = _keeper_client._keeper_command(3, 4)
    assert argv[1:3] == ['-S', '-c'], argv
    script = argv[3].replace('main(sys.argv[2:])', 'print(" ".join(sorted(sys.modules)))')
    assert script != argv[3]
    p = subprocess.run([sys.executable, '-S', '-c', script, argv[4]], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    loaded = p.stdout.split()
    assert 'psij.executors.local._keeper' in loaded
    assert {'psij.job', 'psij.executors.local.local_executor'}.isdisjoint(loaded), loaded
