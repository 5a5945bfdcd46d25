"""The batch-scheduler framework, end to end against a simulated scheduler (real processes)."""

import os
import pathlib
import sys
import threading
import time
from datetime import timedelta
from typing import Dict, List, Optional

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobAttributes,
    JobSpec,
    JobState,
    JobStatus,
    ResourceSpecV1,
)
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij.executors.batch.script_writer import directive_value
from psij.executors.batch.status_engine import POLL, StatusEngine

FAKE = str(pathlib.Path(__file__).parent / 'fake_scheduler.py')
STATES = {'QUEUED': JobState.QUEUED, 'RUNNING': JobState.ACTIVE, 'DONE': JobState.COMPLETED,
          'CANCELLED': JobState.CANCELED, 'TIMEOUT': JobState.FAILED}


class FakeExecutor(BatchSchedulerExecutor):
    job_id_variable = 'FAKE_JOB_ID'
    _NAME_ = 'fake'

    def get_directives(self, job, context):
        spec = job.spec
        out = []
        if spec.attributes.queue_name:
            out.append('#FAKE --queue="%s"' % directive_value('queue_name',
                                                              spec.attributes.queue_name))
        if spec.name:
            out.append('#FAKE --name="%s"' % directive_value('name', spec.name))
        for k, v in context['custom_attributes'].items():
            out.append('#FAKE --%s' % k if v == 'true' else '#FAKE --%s="%s"' % (k, v))
        return out

    def get_submit_command(self, job, path):
        return [sys.executable, FAKE, 'submit', str(path)]

    def job_id_from_submit_output(self, out):
        return out.split()[-1]

    def get_status_command(self, ids):
        return [sys.executable, FAKE, 'status', *ids]

    def parse_status_output(self, exit_code, out):
        if exit_code != 0:
            raise RuntimeError(out)
        res: Dict[str, JobStatus] = {}
        for line in out.splitlines():
            i, st, code = line.split()
            state = STATES[st]
            if st == 'DONE' and code != '0':
                state = JobState.FAILED
            res[i] = JobStatus(state, exit_code=None if code == '-' else int(code),
                               message='the job hit its time limit' if st == 'TIMEOUT'
                               else None)
        return res

    def get_cancel_command(self, native_id):
        return [sys.executable, FAKE, 'cancel', native_id]

    def process_cancel_command_output(self, exit_code, out):
        raise InvalidJobStateError()

    def get_list_command(self):
        return [sys.executable, FAKE, 'list']


@pytest.fixture
def sched(tmp_path, monkeypatch):
    d = tmp_path / 'sched'
    d.mkdir()
    monkeypatch.setenv('FAKE_SCHED_DIR', str(d))
    return d


def make_executor(tmp_path, **kw):
    cfg = BatchSchedulerExecutorConfig(work_directory=tmp_path / 'work',
                                       queue_polling_interval=kw.pop('poll', 0.5),
                                       initial_queue_polling_delay=0.1,
                                       file_check_interval=0.1, **kw)
    return FakeExecutor(config=cfg)


def run(ex, spec, timeout=30):
    job = Job(spec)
    states: List[JobState] = []
    job.set_job_status_callback(lambda j, s: states.append(s.state))
    ex.submit(job)
    st = job.wait(timeout=timeout)
    assert st is not None, 'job did not finish: %s' % job.status
    return job, st, states


WEIRD = ['', 'a b', '"dq"', "'sq'", '$HOME', '`id`', '$(id)', 'new\nline', 'é✓', '*', '\\']


def test_success_exit_codes_and_byte_exact_arguments(sched, tmp_path):
    ex = make_executor(tmp_path)
    out = tmp_path / 'o u t.txt'
    job, st, states = run(ex, JobSpec(
        '/usr/bin/printf', ['%s|'] + WEIRD, stdout_path=out))
    assert st.state is JobState.COMPLETED and st.exit_code == 0
    assert states == [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
                      JobState.CLEANUP, JobState.COMPLETED]
    assert out.read_text() == ''.join(w + '|' for w in WEIRD)
    assert job.native_id is not None
    # files are cleaned up; the work directory is private
    assert list((tmp_path / 'work').iterdir()) == []
    assert (tmp_path / 'work').stat().st_mode & 0o777 == 0o700


def test_failure_reports_exit_code_and_output(sched, tmp_path):
    ex = make_executor(tmp_path)
    err = tmp_path / 'err'
    job, st, states = run(ex, JobSpec('/bin/sh', ['-c', 'echo went wrong >&2; exit 3'],
                                      stderr_path=err))
    assert st.state is JobState.FAILED and st.exit_code == 3
    assert 'went wrong' in st.message
    assert JobState.ACTIVE in states and states[-1] is JobState.FAILED


def test_environment_directory_and_substitution(sched, tmp_path):
    ex = make_executor(tmp_path)
    wd = tmp_path / 'work dir'
    wd.mkdir()
    out = tmp_path / 'env.txt'
    env = {'A': 'x y', 'B': '${A}-$(id)-`id`-$A', 'C': ''}
    job, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'pwd; printf "%s|" "$A" "$B" "$C"'],
                                 directory=wd, environment=env, stdout_path=out))
    assert st.state is JobState.COMPLETED, st
    assert out.read_text() == '%s\nx y|x y-$(id)-`id`-$A||' % wd


@pytest.mark.parametrize('attrs, words', [
    (JobAttributes(queue_name='debug\n#FAKE --evil'), ['queue_name', "'\\n'"]),
    (JobAttributes(queue_name='--evil'), ['queue_name', 'another scheduler option']),
    (JobAttributes(custom_attributes={'fake.x': '-y'}), ['fake.x']),
    (JobAttributes(custom_attributes={'fake.x y': 'z'}), ['not a valid option name']),
    (JobAttributes(custom_attributes={'fake.x': 'a"b'}), ['fake.x']),
])
def test_directive_injection_is_rejected_before_submission(sched, tmp_path, attrs, words):
    ex = make_executor(tmp_path)
    job = Job(JobSpec('/bin/true', attributes=attrs))
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    for w in words:
        assert w in str(ei.value)
    assert not any(n.endswith('.state') for n in os.listdir(sched))  # nothing was submitted
    assert job.status.state is JobState.NEW and job.executor is None


def test_custom_attributes_become_directives_and_shell_strings_stay_data(sched, tmp_path):
    ex = make_executor(tmp_path, keep_files=True)
    marker = tmp_path / 'pwned'
    job, st, _ = run(ex, JobSpec('/bin/true', name='n; touch %s' % marker,
                                 attributes=JobAttributes(custom_attributes={
                                     'fake.color': 'blue', 'other.x': 'ignored'})))
    directives = (sched / ('%s.directives' % job.native_id)).read_text().splitlines()
    assert '--color="blue"' in directives and not any('ignored' in d for d in directives)
    assert not marker.exists()


def test_outage_of_the_status_command_fails_no_job(sched, tmp_path):
    ex = make_executor(tmp_path, poll=0.3)
    (sched / 'down').write_text('')
    jobs = []
    for code in (0, 3, 0, 5):
        j = Job(JobSpec('/bin/sh', ['-c', 'sleep 0.3; exit %d' % code]))
        ex.submit(j)
        jobs.append((j, code))
    time.sleep(2)
    # successes are known from the files the jobs wrote; failures wait for the scheduler's
    # verdict, and the scheduler is unreachable: nobody may be declared FAILED meanwhile
    for j, code in jobs:
        if code == 0:
            assert j.wait(timeout=5).state is JobState.COMPLETED
        else:
            assert not j.status.state.final, j.status
    (sched / 'down').unlink()
    for j, code in jobs:
        st = j.wait(timeout=30)
        assert st.exit_code == code
        assert st.state is (JobState.COMPLETED if code == 0 else JobState.FAILED)


def test_one_status_command_per_cycle_for_all_jobs_and_two_threads(sched, tmp_path):
    executors = [make_executor(tmp_path / str(i), poll=0.2) for i in range(3)]
    before = threading.active_count()
    held = JobAttributes(custom_attributes={'fake.hold': 'true'})
    jobs = []
    for i in range(15):
        j = Job(JobSpec('/bin/true', attributes=held))
        executors[i % 3].submit(j)
        jobs.append(j)
    ids = {j.native_id for j in jobs}
    log = sched / 'status.log'
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        calls = log.read_text().splitlines() if log.exists() else []
        if any(set(c.split()) == ids for c in calls):
            break
        time.sleep(0.1)
    # one status command asked about all the jobs of all three executors at once
    assert any(set(c.split()) == ids for c in calls)
    # the engine's two threads (files, status command), whatever the number of jobs
    assert threading.active_count() - before <= 2
    # no per-job status commands: once all were submitted, every call was for all of them
    first = next(i for i, c in enumerate(calls) if set(c.split()) == ids)
    assert all(set(c.split()) == ids for c in calls[first:])
    for j in jobs:
        j.cancel()
    for j in jobs:
        assert j.wait(timeout=20).state is JobState.CANCELED


def test_cancel_queued_and_running_jobs(sched, tmp_path):
    ex = make_executor(tmp_path)
    held = Job(JobSpec('/bin/true', attributes=JobAttributes(
        custom_attributes={'fake.hold': 'true'})))
    running = Job(JobSpec('/bin/sleep', ['60']))
    finals = []
    for j in (held, running):
        j.set_job_status_callback(lambda job, s: s.state.final and finals.append(s.state))
        ex.submit(j)
    assert running.wait(timeout=10, target_states=[JobState.ACTIVE]).state is JobState.ACTIVE
    for j in (held, running):
        j.cancel()
        assert j.wait(timeout=10).state is JobState.CANCELED
    time.sleep(0.5)
    assert finals == [JobState.CANCELED, JobState.CANCELED]
    held.cancel()  # harmless once final


def test_scheduler_side_failure_keeps_its_cause(sched, tmp_path):
    ex = make_executor(tmp_path)
    j = Job(JobSpec('/bin/sleep', ['60']))
    ex.submit(j)
    j.wait(timeout=10, target_states=[JobState.ACTIVE])
    import subprocess
    subprocess.run([sys.executable, FAKE, 'cancel', j.native_id, 'TIMEOUT'], check=True)
    st = j.wait(timeout=10)
    assert st.state is JobState.FAILED and 'time limit' in st.message


def test_attach_to_a_job_gone_from_the_queue_and_forged_status_files(sched, tmp_path):
    ex = make_executor(tmp_path)
    work = tmp_path / 'work'
    work.mkdir(mode=0o700)
    (work / '777.ec').write_text('4\n')
    j = Job()
    ex.attach(j, '777')
    # the status is real as soon as attach returns, taken from the recorded exit code
    assert j.status.state is JobState.FAILED and j.status.exit_code == 4
    if os.getuid() != 0:
        pytest.skip('chown to another user needs root')  # the rest needs root
    (work / '778.ec').write_text('0\n')
    os.chown(work / '778.ec', 65534, 65534)
    forged = Job()
    # a file another user wrote proves nothing: a job nobody knows is refused
    with pytest.raises(InvalidJobException, match="'778'"):
        ex.attach(forged, '778')
    assert forged.status.state is JobState.NEW


def test_attach_many_asks_the_scheduler_once_for_all_jobs(sched, tmp_path):
    """attach_many: one status command for 12 jobs (attach runs one per job); each job gets
    its true state at once, the running ones are followed to their end; a pair attach would
    refuse is returned with its exception and does not stop the others."""
    ex = make_executor(tmp_path)
    go = tmp_path / 'go'
    jobs = [Job(JobSpec('/bin/sh', ['-c', 'exit %d' % (5 if i % 2 else 0)])) for i in range(8)]
    jobs += [Job(JobSpec('/bin/sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.05; done; exit 6',
                                     str(go)])) for _ in range(4)]
    for j in jobs:
        ex.submit(j)
    for j in jobs[:8]:
        assert j.wait(timeout=30) is not None

    main = threading.get_ident()

    class Counting(FakeExecutor):
        asked: List[List[str]] = []

        def get_status_command(self, ids):
            if threading.get_ident() == main:
                self.asked.append(list(ids))
            return super().get_status_command(ids)

    b = Counting(config=ex.config)
    pairs = [(Job(), j.native_id) for j in jobs]
    busy = Job()
    b.attach(busy, jobs[0].native_id)
    Counting.asked.clear()
    stray = Job()
    refused = b.attach_many(pairs + [(busy, jobs[1].native_id), (stray, '-uroot')])
    assert Counting.asked == [[j.native_id for j in jobs]]
    assert [(j, type(e)) for j, e in refused] == [(busy, InvalidJobException),
                                                  (stray, InvalidJobException)]
    assert stray.executor is None and stray.status.state is JobState.NEW
    for (a, _), j in zip(pairs[:8], jobs[:8], strict=True):
        assert a.status.state is j.status.state and a.status.exit_code == j.status.exit_code
        assert a.status.exit_code == (5 if jobs.index(j) % 2 else 0)
    for a, _ in pairs[8:]:
        assert a.status.state in (JobState.QUEUED, JobState.ACTIVE)
    go.touch()
    for a, _ in pairs[8:]:
        st = a.wait(timeout=30)
        assert st is not None and st.state is JobState.FAILED and st.exit_code == 6
    with pytest.raises(TypeError):
        b.attach_many([(Job(), 7)])
    with pytest.raises(ValueError):
        again = Job()
        b.attach_many([(again, '1'), (again, '2')])


def test_attach_refuses_strings_no_scheduler_takes_as_a_job_id(sched, tmp_path):
    """Without a pattern of its own, an executor still refuses ids that would be options,
    lists or several words in a scheduler command; others are the scheduler's to judge."""
    from psij.conformance.executor_test_helpers import check_native_id_forms
    check_native_id_forms(make_executor(tmp_path), good=['12', 'abc.server', '12[3]'], bad=[])


def test_list_and_transient_submit_errors(sched, tmp_path):
    ex = make_executor(tmp_path)
    j = Job(JobSpec('/bin/true'))
    ex.submit(j)
    assert j.native_id in ex.list()
    j.wait(timeout=10)
    from psij import SubmitException

    class Down(FakeExecutor):
        def get_submit_command(self, job, path):
            return ['/bin/sh', '-c', 'echo "Unable to contact slurm controller" >&2; exit 1']

    d = Down(config=ex.config)
    with pytest.raises(SubmitException) as ei:
        d.submit(Job(JobSpec('/bin/true')))
    assert ei.value.transient and 'Unable to contact' in ei.value.message


def test_a_crashing_status_parser_does_not_stop_the_engine(sched, tmp_path):
    class Flaky(FakeExecutor):
        calls = 0

        def parse_status_output(self, exit_code, out):
            Flaky.calls += 1
            if Flaky.calls <= 2:
                raise ValueError('a parser bug')
            return super().parse_status_output(exit_code, out)

    ex = Flaky(config=make_executor(tmp_path).config)
    held = Job(JobSpec('/bin/true', attributes=JobAttributes(
        custom_attributes={'fake.hold': 'true'})))
    ex.submit(held)
    held.cancel()
    # only the scheduler can say that a held job was canceled: the engine must survive the
    # parser's failures and ask again
    st = held.wait(timeout=60)
    assert st is not None and st.state is JobState.CANCELED
    assert Flaky.calls > 2


def test_the_job_needs_nothing_from_the_submitting_installation(sched, tmp_path):
    # the launch wrapper travels in the script: a job script that cannot see this host's
    # site-packages (a venv on a node-local disk, a container) still runs
    from psij.launchers.launch_wrapper import LAUNCH_SCRIPT_PATH
    ex = make_executor(tmp_path, keep_files=True)
    out = tmp_path / 'out'
    job, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'echo "$1"', 'x', 'ran'], stdout_path=out,
                                 pre_launch=None))
    assert st.state is JobState.COMPLETED and out.read_text() == 'ran\n'
    script = (tmp_path / 'work' / (job.id + '.job')).read_text()
    installed = str(LAUNCH_SCRIPT_PATH.parent.parent.parent)
    assert installed not in script, 'the job script refers to %s' % installed


def test_stdout_and_stderr_to_one_file_keep_both(sched, tmp_path):
    ex = make_executor(tmp_path)
    both = tmp_path / 'both.txt'
    _, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'echo one; echo two >&2; echo three'],
                               stdout_path=both, stderr_path=both))
    assert st.state is JobState.COMPLETED
    assert both.read_text() == 'one\ntwo\nthree\n'


def test_a_fifo_as_stderr_does_not_freeze_the_engine(sched, tmp_path):
    # on a failure the engine reads the tail of the job's stderr: a FIFO nobody writes to
    # must not block it (it serves every job of the process)
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    ex = make_executor(tmp_path)
    holder = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the job open it for writing
    try:
        _, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'exit 4'], stderr_path=fifo))
        assert st.state is JobState.FAILED and st.exit_code == 4
        _, st2, _ = run(ex, JobSpec('/bin/true'))
        assert st2.state is JobState.COMPLETED
    finally:
        os.close(holder)


def _pool_worker(args):
    # runs in a forked child of a process that already submitted jobs
    base, worker = args
    ex = make_executor(pathlib.Path(base))
    results = []
    for i in range(8):
        out = pathlib.Path(base) / ('out-%d-%d' % (worker, i))
        job = Job(JobSpec('/bin/sh', ['-c', 'echo %d-%d' % (worker, i)], stdout_path=out))
        ex.submit(job)
        results.append((job.id, str(out)))
    return results


def test_forked_workers_never_share_job_ids_or_scripts(sched, tmp_path):
    import multiprocessing
    ex = make_executor(tmp_path)
    _, st, _ = run(ex, JobSpec('/bin/true'))  # the parent's engine and ids are in use
    assert st.state is JobState.COMPLETED
    ctx = multiprocessing.get_context('fork')
    with ctx.Pool(4) as pool:
        done = pool.map(_pool_worker, [(str(tmp_path), w) for w in range(4)])
    ids = [job_id for worker in done for job_id, _ in worker]
    assert len(ids) == 32 and len(set(ids)) == 32, ids
    import time as _time
    end = _time.monotonic() + 60
    outs = [(pathlib.Path(p), p.rsplit('out-', 1)[1]) for worker in done for _, p in worker]
    while _time.monotonic() < end and not all(p.exists() and p.read_text() for p, _ in outs):
        _time.sleep(0.2)
    wrong = [(str(p), p.read_text() if p.exists() else None) for p, want in outs
             if not p.exists() or p.read_text() != want + '\n']
    assert not wrong, wrong


def test_a_forked_child_follows_its_own_jobs(sched, tmp_path):
    ex = make_executor(tmp_path)
    _, st, _ = run(ex, JobSpec('/bin/true'))  # the parent's status engine runs
    assert st.state is JobState.COMPLETED
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: submit and wait with the inherited module state
        os.close(r)
        try:
            child_ex = make_executor(tmp_path)
            _, cst, _ = run(child_ex, JobSpec('/bin/sh', ['-c', 'exit 3']), timeout=60)
            os.write(w, ('%s %s' % (cst.state, cst.exit_code)).encode())
        except BaseException as ex:  # report anything to the parent
            os.write(w, repr(ex).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        got = f.read()
    os.waitpid(pid, 0)
    assert got == 'FAILED 3'
    _, st, _ = run(ex, JobSpec('/bin/true'))  # and the parent still follows its own
    assert st.state is JobState.COMPLETED


class SlowSubmitExecutor(FakeExecutor):
    """Its submit command takes a second: long enough to cancel the job meanwhile."""

    def get_submit_command(self, job, path):
        return ['/bin/sh', '-c', 'sleep 1; exec "$@"', 'sh', sys.executable, FAKE, 'submit',
                str(path)]


def test_cancel_while_submit_is_under_way(sched, tmp_path):
    import threading
    cfg = BatchSchedulerExecutorConfig(work_directory=tmp_path / 'work',
                                       queue_polling_interval=0.5,
                                       initial_queue_polling_delay=0.1, file_check_interval=0.1)
    ex = SlowSubmitExecutor(config=cfg)
    job = Job(JobSpec('/bin/sleep', ['30']))
    t = threading.Thread(target=ex.submit, args=(job,))
    t.start()
    import time as _time
    _time.sleep(0.3)
    assert job.native_id is None
    job.cancel()  # no "has no native id" error: done once the id is known
    t.join()
    st = job.wait(timeout=30)
    assert st is not None and st.state is JobState.CANCELED, st


def test_a_work_directory_that_is_a_symlink_or_shared_is_refused_or_fixed(sched, tmp_path):
    from psij.exceptions import SubmitException
    real = tmp_path / 'real'
    real.mkdir()
    (tmp_path / 'work').symlink_to(real)
    with pytest.raises(SubmitException, match='symbolic link'):
        make_executor(tmp_path).submit(Job(JobSpec('/bin/true')))
    (tmp_path / 'work').unlink()
    (tmp_path / 'work').mkdir(mode=0o777)
    os.chmod(tmp_path / 'work', 0o777)
    _, st, _ = run(make_executor(tmp_path), JobSpec('/bin/true'))
    assert st.state is JobState.COMPLETED
    assert (tmp_path / 'work').stat().st_mode & 0o777 == 0o700


def test_files_of_an_earlier_job_with_the_same_id_are_ignored_whatever_their_clock(sched,
                                                                                    tmp_path):
    # a file server whose clock runs ahead gives an earlier job's files a "newer" time than
    # the submission: only the submission's token tells them apart
    ex = make_executor(tmp_path)
    work = tmp_path / 'work'
    work.mkdir(mode=0o700)
    ahead = time.time() + 3600
    nxt = str(max([int(n.split('.')[0]) for n in os.listdir(sched) if n.endswith('.state')],
                  default=99) + 1)
    for suffix, text in (('.ec', '0\n'), ('.active', ''),
                         ('.out', 'old output\n')):
        f = work / (nxt + suffix)
        f.write_text(text)
        os.utime(f, (ahead, ahead))
    job, st, states = run(ex, JobSpec('/bin/sh', ['-c', 'sleep 1; exit 5']))
    assert job.native_id == nxt
    assert st.state is JobState.FAILED and st.exit_code == 5, st
    assert 'old output' not in (st.message or '')


class DirStatusExecutor(FakeExecutor):
    """Its status command is looked up in the executor's command directory."""

    def get_status_command(self, ids):
        return ['fakestat', *ids]


def test_a_canceled_job_that_dies_of_the_signal_is_canceled_when_the_scheduler_missed_it(
        sched, tmp_path):
    # seen with LSF: the status command answered without the job (ended, not yet in the
    # accounting) right after the cancel; the job had recorded 143 (the shell's SIGTERM)
    ex = make_executor(tmp_path)
    for code, expected in ((143, JobState.CANCELED), (-9, JobState.CANCELED),
                           (3, JobState.FAILED)):
        job = Job(JobSpec('/bin/sleep', ['30']))
        job.executor = ex
        job._native_id = 'gone-%d' % code
        with ex._cancel_lock:
            ex._cancel_requested.add(job.native_id)
        ex._finish(job, code, None)
        assert (job.status.state, job.status.exit_code) == (expected, code), job.status


def test_executors_with_other_commands_do_not_share_a_failing_status_command(sched,
                                                                            tmp_path):
    # one executor's commands are broken (a wrong command directory, a test's stand-in): the
    # jobs of another executor of the same scheduler must still be followed
    good, bad = tmp_path / 'good', tmp_path / 'bad'
    for d, body in ((good, 'exec %s %s status "$@"' % (sys.executable, FAKE)),
                    (bad, 'echo garbage; exit 3')):
        d.mkdir()
        (d / 'fakestat').write_text('#!/bin/sh\n%s\n' % body)
        (d / 'fakestat').chmod(0o755)

    def make(cmd_dir, name):
        return DirStatusExecutor(config=BatchSchedulerExecutorConfig(
            work_directory=tmp_path / name, queue_polling_interval=0.5,
            initial_queue_polling_delay=0.1, file_check_interval=0.1,
            command_directory=cmd_dir))
    flag = tmp_path / 'flag'
    stuck = Job(JobSpec('/bin/sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.05; done',
                                    str(flag)]))
    make(bad, 'w1').submit(stuck)  # tracked first: its executor used to poll for everyone
    engine = StatusEngine.for_scheduler('fake')
    # its failing status command backs the engine off...
    deadline = time.monotonic() + 60
    while engine._backoff < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine._backoff >= 4
    # ...which must not hold back the first status of another executor's job
    good_ex = make(good, 'w2')
    job = Job(JobSpec('/bin/sh', ['-c', 'exit 3']))
    good_ex.submit(job)
    due = engine._deadlines.due(POLL)
    assert due is not None and due - time.monotonic() < 1.0, due
    st = job.wait(timeout=30)
    assert st is not None and st.state is JobState.FAILED and st.exit_code == 3
    flag.touch()  # the stuck job ends with exit code 0, which its file tells: not left behind
    assert stuck.wait(timeout=30) is not None


@pytest.mark.parametrize('field', ['stage_in', 'stage_out', 'cleanup'])
def test_staging_is_refused_not_dropped_by_a_subclass_writing_its_own_script(sched, tmp_path,
                                                                           field):
    # psij-python style: the subclass writes the whole script, so the base cannot stage
    class OwnScript(FakeExecutor):
        def generate_submit_script(self, job, context, submit_file):
            submit_file.write('#!/bin/bash\n')

    from psij import StageIn, StageOut
    src = tmp_path / 'in.txt'
    src.write_text('x')
    value = {'stage_in': {StageIn(src, 'in.txt')},
             'stage_out': {StageOut('out.txt', tmp_path / 'out.txt')},
             'cleanup': {'scratch.txt'}}[field]
    marker = tmp_path / 'ran'
    job = Job(JobSpec('/bin/sh', ['-c', ': > "$1"', 'sh', str(marker)], **{field: value}))
    with pytest.raises(InvalidJobException, match='JobSpec.%s' % field):
        OwnScript(config=make_executor(tmp_path).config).submit(job)
    assert job.status.state is JobState.NEW and job.executor is None
    assert not marker.exists() and not os.listdir(sched)


def test_a_missing_hook_or_job_id_variable_is_named_before_the_first_job(tmp_path):
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

    class Incomplete(BatchSchedulerExecutor):
        def get_directives(self, job, context):
            return []

        def get_submit_command(self, job, path):
            return ['true', str(path)]

    cfg = BatchSchedulerExecutorConfig(work_directory=tmp_path / 'w')
    with pytest.raises(TypeError) as ei:
        Incomplete(config=cfg)
    msg = str(ei.value)
    for name in ('job_id_from_submit_output', 'get_status_command', 'get_cancel_command',
                 'get_list_command', 'parse_status_output', 'job_id_variable'):
        assert name in msg, (name, msg)
    assert 'get_submit_command' not in msg and 'get_directives' not in msg

    class NoIdVariable(FakeExecutor):
        job_id_variable = None

    with pytest.raises(TypeError, match='job_id_variable'):
        NoIdVariable(config=cfg)


def test_the_script_can_be_seen_without_submitting(sched, tmp_path):
    ex = make_executor(tmp_path)
    job = Job(JobSpec('/bin/echo', ['$(id)'], attributes=JobAttributes(
        custom_attributes={'fake.partition': 'p1'})))
    text = ex.script_for(job)
    assert text.startswith('#!/bin/bash\n') and "'$(id)'" in text
    assert job.status.state is JobState.NEW and job.executor is None and not os.listdir(sched)
    ex.submit(job)  # still submittable
    assert job.wait(timeout=30).state is JobState.COMPLETED


class QueueOnlyExecutor(FakeExecutor):
    """Passes only a queue to its scheduler."""

    honoured_fields = frozenset({'queue_name'})


@pytest.mark.parametrize('spec_kw, field', [
    ({'attributes': JobAttributes(account='a')}, 'JobAttributes.account'),
    ({'attributes': JobAttributes(duration=timedelta(minutes=3))}, 'JobAttributes.duration'),
    ({'resources': ResourceSpecV1(memory=2**20)}, 'ResourceSpecV1.memory'),
    ({'resources': ResourceSpecV1(node_count=2)}, 'ResourceSpecV1.node_count'),
    ({'attributes': JobAttributes(custom_attributes={'fake.qos': 'x'})},
     'JobAttributes.custom_attributes'),
])
def test_fields_the_subclass_does_not_honour_are_refused(sched, tmp_path, spec_kw, field):
    ex = QueueOnlyExecutor(config=BatchSchedulerExecutorConfig(work_directory=tmp_path / 'w'))
    job = Job(JobSpec('/bin/true', **spec_kw))
    with pytest.raises(InvalidJobException, match=field.replace('.', r'\.')):
        ex.submit(job)
    assert job.status.state is JobState.NEW and job.executor is None and not os.listdir(sched)


def test_fields_the_subclass_honours_or_leaves_at_default_are_accepted(sched, tmp_path):
    ex = QueueOnlyExecutor(config=BatchSchedulerExecutorConfig(
        work_directory=tmp_path / 'w', queue_polling_interval=0.5,
        initial_queue_polling_delay=0.1, file_check_interval=0.1))
    job = Job(JobSpec('/bin/true', attributes=JobAttributes(
        queue_name='q', custom_attributes={'slurm.qos': 'for another executor'})))
    ex.submit(job)
    assert job.wait(timeout=30).state is JobState.COMPLETED


def test_not_inheriting_the_environment_is_done_by_the_base(sched, tmp_path, monkeypatch):
    # the fake scheduler passes the submitter's environment through, as many would
    monkeypatch.setenv('PSIJ_T_SENTINEL', "from the submitter $(x) 'q'")
    out = tmp_path / 'env.txt'
    ex = make_executor(tmp_path)
    _, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'env'], stdout_path=out,
                               inherit_environment=False, environment={'MINE': 'kept'}))
    assert st.state is JobState.COMPLETED
    env = out.read_text()
    assert 'PSIJ_T_SENTINEL' not in env and 'MINE=kept\n' in env and 'PATH=' in env
    assert 'FAKE_JOB_ID=' in env  # what the scheduler sets stays
    _, st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'env'], stdout_path=out))
    assert 'PSIJ_T_SENTINEL=' in out.read_text()


class SlowStatusExecutor(FakeExecutor):
    """Its status command answers only once the file `release` exists (at most 600 s), as a
    qstat of hundreds of jobs on a busy server may take long: a job that ends meanwhile must be
    noticed by its files, however loaded the machine (a fixed delay was not always enough)."""

    release: Optional[pathlib.Path] = None

    def get_status_command(self, ids):
        assert self.release is not None
        wait = ('i=0; while [ ! -e "$0" ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i+1)); done; '
                'exec "$@"')
        return ['/bin/sh', '-c', wait, str(self.release), sys.executable, FAKE, 'status', *ids]


def test_a_slow_status_command_does_not_delay_what_the_files_tell(sched, tmp_path):
    ex = SlowStatusExecutor(config=BatchSchedulerExecutorConfig(
        work_directory=tmp_path / 'w', queue_polling_interval=0.5,
        initial_queue_polling_delay=0.0, file_check_interval=0.1))
    ex.release = tmp_path / 'release'
    blocker = Job(JobSpec('/bin/sleep', ['30']))
    ex.submit(blocker)
    try:
        _, st, _ = run(ex, JobSpec('/bin/true'), timeout=600)
        assert st.state is JobState.COMPLETED
        # the fake scheduler logs each status call when it answers: none could answer yet
        assert not (sched / 'status.log').exists(), 'the job was noticed only by a status command'
    finally:
        ex.release.touch()
        blocker.cancel()


def test_a_configuration_of_another_class_is_adopted_with_its_settings(tmp_path):
    from psij import JobExecutorConfig

    class MyConfig(BatchSchedulerExecutorConfig):
        def __init__(self, *args, flavour='vanilla', **kwargs):
            super().__init__(*args, **kwargs)
            self.flavour = flavour

    class MyExecutor(FakeExecutor):
        config_class = MyConfig

    ex = MyExecutor(config=BatchSchedulerExecutorConfig(work_directory=tmp_path / 'w',
                                                        queue_polling_interval=7))
    assert isinstance(ex.config, MyConfig) and ex.config.flavour == 'vanilla'
    assert ex.config.queue_polling_interval == 7 and ex.work_directory == tmp_path / 'w'
    plain = MyExecutor(config=JobExecutorConfig(work_directory=tmp_path / 'p'))
    assert isinstance(plain.config, MyConfig) and plain.work_directory == tmp_path / 'p'
    assert isinstance(MyExecutor().config, MyConfig)
