"""The local executor with real processes: states, arguments, environment, stdio, launch
scripts, exit semantics and bad input."""

import logging
import os
import socket
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from psij import InvalidJobException, Job, JobExecutor, JobSpec, JobState, JobStatus, ResourceSpecV1
from psij.executors.local import LocalJobExecutor, LocalJobExecutorConfig

CHAIN = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]
PY = sys.executable


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


def run(ex, spec, **kw):
    job = Job(spec)
    seen = []
    job.set_job_status_callback(lambda j, s: seen.append(s.state))
    ex.submit(job)
    st = job.wait(**kw)
    return job, st, seen


def py(code, *args, **kw):
    return JobSpec(PY, ['-c', code] + list(args), **kw)


def test_importable_and_registered(ex):
    assert isinstance(ex, LocalJobExecutor)
    assert ex.name == 'local'


def test_completed_chain_and_native_id(ex):
    job, st, seen = run(ex, JobSpec('/bin/true'))
    assert st.state is JobState.COMPLETED and st.exit_code == 0
    assert seen == CHAIN + [JobState.COMPLETED]
    ids, host = job.native_id.split('@')
    pid, start = ids.split('-')
    assert pid.isdigit() and start.isdigit()
    assert host == socket.gethostname().split('.')[0]


def test_failed_exit_code_and_stderr_tail(ex, tmp_path):
    err = tmp_path / 'err.txt'
    job, st, seen = run(ex, py('import sys; sys.stderr.write("bad thing\\n"); sys.exit(3)',
                               stderr_path=err))
    assert st.state is JobState.FAILED
    assert st.exit_code == 3
    assert 'bad thing' in st.message
    assert seen[-1] is JobState.FAILED and seen.count(JobState.FAILED) == 1


def test_killed_by_signal(ex):
    job, st, _ = run(ex, py('import os, signal; os.kill(os.getpid(), signal.SIGKILL)'))
    assert st.state is JobState.FAILED
    assert st.exit_code == -9
    assert 'SIGKILL' in st.message


def test_arguments_byte_exact(ex, tmp_path):
    args = ['a b', '', '$(touch %s)' % (tmp_path / 'pwned'), '`id`', '$HOME', '"\'', '\n',
            '*', '-x', 'é\u2603', '\\']
    out = tmp_path / 'out'
    job, st, _ = run(ex, py('import sys, json; print(json.dumps(sys.argv[1:]))', *args,
                            stdout_path=out))
    assert st.state is JobState.COMPLETED
    import json
    assert json.loads(out.read_text()) == args
    assert not (tmp_path / 'pwned').exists()


def test_directory_and_relative_executable(ex, tmp_path):
    d = tmp_path / 'work'
    (d / 'bin').mkdir(parents=True)
    script = d / 'bin' / 'hello.sh'
    script.write_text('#!/bin/sh\npwd > where.txt\n')
    script.chmod(0o755)
    job, st, _ = run(ex, JobSpec('bin/hello.sh', directory=d))
    assert st.state is JobState.COMPLETED
    assert (d / 'where.txt').read_text().strip() == str(d)


def test_path_lookup_uses_job_path(ex, tmp_path):
    bindir = tmp_path / 'mybin'
    bindir.mkdir()
    tool = bindir / 'mytool-xyz'
    tool.write_text('#!/bin/sh\necho found > %s\n' % (tmp_path / 'o'))
    tool.chmod(0o755)
    job, st, _ = run(ex, JobSpec('mytool-xyz', environment={
        'PATH': '%s:${PATH}' % bindir}))
    assert st.state is JobState.COMPLETED
    assert (tmp_path / 'o').read_text() == 'found\n'


def test_environment_substitution(ex, tmp_path, monkeypatch):
    monkeypatch.setenv('PSIJ_T_BASE', 'base')
    out = tmp_path / 'env.json'
    env = {'A': '${PSIJ_T_BASE}/x', 'B': '${A}:y', 'C': '$PSIJ_T_BASE $(id) `id` ${NOPE_XYZ}.',
           'D': '${'}
    job, st, _ = run(ex, py('import os, json; print(json.dumps(dict(os.environ)))',
                            environment=env, stdout_path=out))
    assert st.state is JobState.COMPLETED
    import json
    got = json.loads(out.read_text())
    assert got['A'] == 'base/x'
    assert got['B'] == 'base/x:y'
    assert got['C'] == '$PSIJ_T_BASE $(id) `id` .'
    assert got['D'] == '${'
    assert got['PSIJ_T_BASE'] == 'base'


def test_no_inherited_environment(ex, tmp_path):
    out = tmp_path / 'env.json'
    job, st, _ = run(ex, py('import os, json; print(json.dumps(dict(os.environ)))',
                            inherit_environment=False, environment={'ONLY': 'me'},
                            stdout_path=out))
    assert st.state is JobState.COMPLETED
    import json
    env = json.loads(out.read_text())
    env.pop('LC_CTYPE', None)  # Python itself may set it when coercing the C locale
    assert env == {'ONLY': 'me'}


def test_stdin_stdout_stderr(ex, tmp_path):
    (tmp_path / 'in.txt').write_text('some input\n')
    job, st, _ = run(ex, py('import sys; d = sys.stdin.read(); print(d.upper(), end=""); '
                            'print("e", file=sys.stderr)', directory=tmp_path,
                            stdin_path='in.txt', stdout_path='out.txt', stderr_path='err.txt'))
    assert st.state is JobState.COMPLETED
    assert (tmp_path / 'out.txt').read_text() == 'SOME INPUT\n'
    assert (tmp_path / 'err.txt').read_text() == 'e\n'


def test_same_file_for_stdout_and_stderr(ex, tmp_path):
    out = tmp_path / 'both.txt'
    job, st, _ = run(ex, py('import sys; print("o", flush=True); print("e", file=sys.stderr)',
                            stdout_path=out, stderr_path=out))
    assert st.state is JobState.COMPLETED
    assert out.read_text() == 'o\ne\n'


def test_pre_and_post_launch(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text('echo pre >> %s\nexport FROM_PRE="set by pre"\n' % (tmp_path / 'count'))
    post = tmp_path / 'post.sh'
    post.write_text('echo post >> %s\n' % (tmp_path / 'count'))
    out = tmp_path / 'out'
    job, st, seen = run(ex, py('import os; print(os.environ["FROM_PRE"])', 'a b',
                               pre_launch=pre, post_launch=post, stdout_path=out))
    assert st.state is JobState.COMPLETED, st
    assert out.read_text() == 'set by pre\n'
    assert (tmp_path / 'count').read_text() == 'pre\npost\n'


def test_failing_pre_launch_fails_job(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text('false\n')
    err = tmp_path / 'err'
    job, st, _ = run(ex, JobSpec('/bin/true', pre_launch=pre, stderr_path=err))
    assert st.state is JobState.FAILED
    assert 'pre-launch' in st.message


def test_launch_script_exit_code_and_args(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text(':\n')
    out = tmp_path / 'out'
    args = ['$(echo no)', 'a  b', '']
    job, st, _ = run(ex, py('import sys, json; print(json.dumps(sys.argv[1:])); sys.exit(5)',
                            *args, pre_launch=pre, stdout_path=out))
    assert st.state is JobState.FAILED and st.exit_code == 5
    import json
    assert json.loads(out.read_text()) == args


def test_executor_callback_and_raising_callback(ex, caplog):
    seen = {}
    lock = threading.Lock()

    def cb(job, status):
        with lock:
            seen.setdefault(job.id, []).append(status.state)
        if status.state is JobState.ACTIVE:
            raise RuntimeError('callback failure on purpose')

    ex.set_job_status_callback(cb)
    jobs = [Job(JobSpec('/bin/true')) for _ in range(5)]
    with caplog.at_level(logging.ERROR):
        for j in jobs:
            ex.submit(j)
        for j in jobs:
            assert j.wait().state is JobState.COMPLETED
    for j in jobs:
        assert seen[j.id] == CHAIN + [JobState.COMPLETED]
    assert 'callback failure on purpose' in caplog.text


def test_missing_executable(ex, tmp_path):
    job = Job(JobSpec(str(tmp_path / 'nope')))
    with pytest.raises(InvalidJobException, match=str(tmp_path / 'nope')):
        ex.submit(job)
    assert job.status.state is JobState.NEW
    with pytest.raises(InvalidJobException, match='not found on PATH'):
        ex.submit(Job(JobSpec('no-such-command-psij-xyz')))


def test_resubmit_after_fix(ex, tmp_path):
    job = Job(JobSpec(str(tmp_path / 'nope')))
    with pytest.raises(InvalidJobException):
        ex.submit(job)
    job.spec.executable = '/bin/true'
    ex.submit(job)
    assert job.wait().state is JobState.COMPLETED


def test_not_executable(ex, tmp_path):
    f = tmp_path / 'data.txt'
    f.write_text('x')
    with pytest.raises(InvalidJobException, match='not executable'):
        ex.submit(Job(JobSpec(str(f))))
    with pytest.raises(InvalidJobException, match='not a regular file'):
        ex.submit(Job(JobSpec(str(tmp_path))))


def test_no_shebang_script(ex, tmp_path):
    f = tmp_path / 'noshebang'
    f.write_bytes(b'\x00\x01garbage')
    f.chmod(0o755)
    with pytest.raises(InvalidJobException, match='noshebang'):
        ex.submit(Job(JobSpec(str(f))))


def test_missing_directory(ex, tmp_path):
    with pytest.raises(InvalidJobException, match=str(tmp_path / 'nodir')):
        ex.submit(Job(JobSpec('/bin/true', directory=tmp_path / 'nodir')))


def test_missing_stdin(ex, tmp_path):
    with pytest.raises(InvalidJobException, match=str(tmp_path / 'in.txt')):
        ex.submit(Job(JobSpec('/bin/true', stdin_path=tmp_path / 'in.txt')))


def test_stdout_in_missing_directory(ex, tmp_path):
    p = tmp_path / 'nodir' / 'out.txt'
    with pytest.raises(InvalidJobException, match=str(p)):
        ex.submit(Job(JobSpec('/bin/true', stdout_path=p)))


def test_missing_pre_launch(ex, tmp_path):
    with pytest.raises(InvalidJobException, match='pre.sh'):
        ex.submit(Job(JobSpec('/bin/true', pre_launch=tmp_path / 'pre.sh')))


def test_unknown_launcher(ex):
    with pytest.raises(InvalidJobException, match='no-such-launcher'):
        ex.submit(Job(JobSpec('/bin/true', launcher='no-such-launcher')))


def test_command_not_found_after_pre_launch_fails_at_run_time(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text(':\n')
    err = tmp_path / 'err'
    job, st, _ = run(ex, JobSpec('no-such-command-psij-xyz', pre_launch=pre,
                                 stderr_path=err))
    assert st.state is JobState.FAILED and st.exit_code == 127
    assert 'no-such-command-psij-xyz' in st.message


def test_own_process_group(ex, tmp_path):
    out = tmp_path / 'ids'
    job, st, _ = run(ex, py('import os; print(os.getpid(), os.getpgid(0), os.getsid(0))',
                            stdout_path=out))
    pid, pgid, sid = out.read_text().split()
    assert pid == pgid == sid
    assert job.native_id.startswith(pid + '-')


def test_status_metadata_and_wait_after_end(ex):
    job, st, _ = run(ex, JobSpec('/bin/true'))
    assert job.wait() is job.status
    assert isinstance(job.status, JobStatus)


def test_threads_constant(ex):
    def count():
        return sum(1 for t in threading.enumerate() if t.name.startswith('psij-'))

    run(ex, JobSpec('/bin/true'))
    before = count()
    jobs = [Job(JobSpec('/bin/true')) for _ in range(50)]
    for j in jobs:
        ex.submit(j)
    for j in jobs:
        j.wait()
    assert count() == before


def test_nodefile_for_non_single_launcher(ex, tmp_path):
    from psij import Descriptor, Launcher
    try:
        Launcher.register_launcher(Descriptor(
            name='psij-test-probe', version='0.0.1',
            cls='psij.launchers.single.SingleLauncher'))
    except ValueError:
        pass  # registered by an earlier test in this process
    out = tmp_path / 'nodes'
    job, st, _ = run(ex, py('import os, shutil; shutil.copy(os.environ["PSIJ_NODEFILE"], %r)'
                            % str(out), launcher='psij-test-probe',
                            resources=ResourceSpecV1(process_count=3)))
    assert st.state is JobState.COMPLETED, st
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and len(set(lines)) == 1
    assert not any(p.name.startswith('nodes-') for p in Path(ex.state_directory).iterdir())


def test_state_dir_private(ex):
    run(ex, JobSpec('/bin/true'))
    assert os.stat(ex.state_directory).st_mode & 0o777 == 0o700


def test_no_inherited_environment_with_pre_launch(ex, tmp_path):
    pre = tmp_path / 'pre.sh'
    pre.write_text('export FROM_PRE=1\n')
    out = tmp_path / 'env.json'
    job, st, _ = run(ex, py('import os, json; print(json.dumps(dict(os.environ)))',
                            inherit_environment=False, environment={'ONLY': 'me'},
                            stdout_path=out, pre_launch=pre))
    assert st.state is JobState.COMPLETED
    import json
    env = json.loads(out.read_text())
    env.pop('LC_CTYPE', None)
    assert env == {'ONLY': 'me', 'FROM_PRE': '1'}


def test_out_of_descriptors_fails_the_jobs_with_a_transient_submit_error(tmp_path):
    # The keeper holds a pidfd per running job. It inherits the limit of open files of the
    # process whose first submit starts it, hence a process of its own here. The jobs it
    # cannot watch end FAILED, with the transient SubmitException submit() would have raised
    # in their status metadata (submit does not wait for the keeper); the others run.
    import subprocess
    code = textwrap.dedent('''
        import resource, sys
        import psij
        from psij.executors.local import LocalJobExecutorConfig
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        ex = psij.JobExecutor.get_instance(
            'local', config=LocalJobExecutorConfig(state_directory=sys.argv[1]))
        jobs = [psij.Job(psij.JobSpec('/bin/sleep', ['100'])) for _ in range(100)]
        for j in jobs:
            ex.submit(j)
        started = [j for j in jobs if j.native_id is not None]
        for j in started:
            j.cancel()
        refused = [j.wait(timeout=60) for j in jobs if j.native_id is None]
        errors = [st.metadata.get('submit_exception') for st in refused]
        print(len(started), sorted({j.wait(timeout=60).state.name for j in started}),
              sorted({st.state.name for st in refused}),
              all(e is not None and e.transient for e in errors))
        print(refused[0].message if refused else '')
    ''')
    p = subprocess.run([PY, '-c', code, str(tmp_path / 'state')], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    started, rest = lines[0].split(' ', 1)
    assert 0 < int(started) < 100, p.stdout
    assert rest == "['CANCELED'] ['FAILED'] True", p.stdout
    assert 'ulimit -n' in lines[1], p.stdout


def test_a_fifo_as_stderr_does_not_freeze_the_reaper(ex, tmp_path):
    # on a non-zero exit the reaper reads the tail of stderr; a FIFO must not block it
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'exit 5'], stderr_path=fifo), timeout=30)
        assert st is not None and st.state is JobState.FAILED and st.exit_code == 5
        _, st2, _ = run(ex, JobSpec('/bin/true'), timeout=30)
        assert st2 is not None and st2.state is JobState.COMPLETED
    finally:
        os.close(holder)


def test_a_forked_child_runs_local_jobs_of_its_own(ex, tmp_path):
    _, st, _ = run(ex, JobSpec('/bin/true'), timeout=30)  # the parent's reaper runs
    assert st is not None and st.state is JobState.COMPLETED
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child = JobExecutor.get_instance('local', config=LocalJobExecutorConfig(
                state_directory=tmp_path / 'state'))
            job, cst, _ = run(child, JobSpec('/bin/sh', ['-c', 'exit 6']), timeout=30)
            os.write(w, ('%s %s %s' % (cst.state if cst else None,
                                       cst.exit_code if cst else None, job.id)).encode())
        except BaseException as e:
            os.write(w, repr(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        got = f.read().split()
    os.waitpid(pid, 0)
    assert got[:2] == ['FAILED', '6'], got
    parent_job, st, _ = run(ex, JobSpec('/bin/true'), timeout=30)
    assert st is not None and st.state is JobState.COMPLETED
    assert got[2].split('-')[0] != parent_job.id.split('-')[0]  # ids of its own


def test_a_state_directory_that_is_a_symlink_is_refused(tmp_path):
    from psij import SubmitException
    real = tmp_path / 'elsewhere'
    real.mkdir()
    (tmp_path / 'link').symlink_to(real)
    lex = JobExecutor.get_instance('local', config=LocalJobExecutorConfig(
        state_directory=tmp_path / 'link'))
    with pytest.raises(SubmitException, match='symbolic link'):
        lex.submit(Job(JobSpec('/bin/true')))


def test_a_spec_larger_than_one_message_to_the_keeper(ex, tmp_path):
    # argv and environment go to the keeper process; ~400 kB of them do not fit in one
    # datagram and travel in a memfd, byte-exact all the same
    args = ['%d-%s' % (i, 'x\ty "$(z)" \\ \u00e9' * 200) for i in range(100)]
    env = {'BIG_%d' % i: 'v' * 2000 for i in range(100)}
    out = tmp_path / 'out.json'
    job, st, _ = run(ex, py('import json, os, sys; json.dump([sys.argv[1:], '
                            '{k: v for k, v in os.environ.items() if k.startswith("BIG_")}], '
                            'open(sys.argv[1], "w"))', str(out), *args, environment=env))
    assert st.state is JobState.COMPLETED, st
    import json
    got_args, got_env = json.loads(out.read_text())
    assert got_args == [str(out)] + args
    assert got_env == env


def test_the_job_gets_the_directory_and_environment_of_its_submit(ex, tmp_path, monkeypatch):
    # the keeper was started by an earlier submit, with the directory and environment of
    # that time: a job must get those of its own submit
    run(ex, JobSpec('/bin/true'))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('PSIJ_TEST_LATE', 'late value')
    job, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'echo "$PSIJ_TEST_LATE" > here.txt']))
    assert st.state is JobState.COMPLETED, st
    assert (tmp_path / 'here.txt').read_text() == 'late value\n'


def test_the_job_inherits_only_its_standard_streams(ex, tmp_path):
    # no descriptor of the submitter or of the keeper (sockets, pidfds, journals) leaks in
    out = tmp_path / 'fds'
    inp = tmp_path / 'in'
    inp.write_text('')
    job, st, _ = run(ex, py('import os; print(*sorted(os.listdir("/proc/self/fd")))',
                            stdin_path=inp, stdout_path=out))
    assert st.state is JobState.COMPLETED, st
    # and the one listdir opened
    assert len(out.read_text().split()) == 4, out.read_text()
    assert out.read_text().split()[:3] == ['0', '1', '2'], out.read_text()
