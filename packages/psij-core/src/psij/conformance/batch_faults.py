"""
Faults every batch executor must survive, as one test base each scheduler package subclasses.

The faults are injected only through the executor's command directory: a directory of wrapper
scripts in front of the real scheduler commands (the daemons are shared and never touched).
Faults target an **operation** (``submit``, ``status``, ``cancel``, ``list``), whatever program
serves it: each wrapper tells the operation of a call by its program and leading arguments
(`BatchFaultTests.operations`), so a scheduler with one program for everything (``tctl submit``,
``tctl dump``, ``tctl kill``) gets its status calls broken while its cancels still work.
On each status call the wrapper reads a mode file:

===========  ====================================================================================
``ok``       runs the real command
``hang``     never answers (a child ``sleep``, as a stuck RPC would): the engine must give it up
             at its time-out, kill it and its children, and retry
``garbage``  prints `BatchFaultTests.garbage` (text that is not a status document), exit 0
``truncated`` runs the real command and prints its output without its last bytes, exit 0
``fail``     prints a "cannot connect" error, exit 1 (the scheduler unreachable)
===========  ====================================================================================

Besides: the work directory unusable or full at submit (a clear `SubmitException`, the submit
command never run, no file left behind); exit-code files corrupted after the job ended (garbage,
a FIFO, a symbolic link); the wall clock jumping back and forth by hours while jobs run (the
process's ``time.time``, which is what a clock step changes; the engine's deadlines are on the
monotonic clock).

After each fault the test checks: no job lost or given a false final state, exactly one final
state per job, updates of other jobs kept coming, the engine's threads are the same, and no
process the status command started is left. Whatever the outcome, a test cancels the jobs it
started that have not ended.

A package subclasses `BatchFaultTests` in a ``Test...`` class (with its scheduler fixture) and
sets `executor_class`, `operations` (or, as older subclasses do, `commands` with the submit
command first and the cancel command third, and `status_command`), `real_command_dir` and, if
its status document is not line-based, `garbage`; see psij-slurm's
``tests/test_faults_common.py`` and, for one program with subcommands, psij-core's
``tests/tctl/``.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from psij import Job, JobSpec, JobState, JobStatus
from psij.exceptions import SubmitException
from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

WAIT = 240.0
"""A bound against hangs only: nothing asserts how long anything took."""

OPERATIONS = ('submit', 'status', 'cancel', 'list')
'''The operations a fault can target.'''

# One wrapper per program: it tells the operation of a call by the leading arguments (the
# longest match wins; "other" for calls no operation names, e.g. an accounting command), logs
# the call, applies the status faults to status calls only and loses a call on request.
_WRAPPER = r'''#!/bin/sh
d=%(dir)s
op=other
%(match)s
printf '%%s\n' "$*" >>"$d/$op.calls"
if [ "$op" = status ]; then
    echo "$$" >>"$d/status-calls"
    case "$(cat "$d/mode" 2>/dev/null)" in
    hang)
        sleep 3600 &
        echo "$!" >>"$d/hung-pids"
        wait
        ;;
    garbage)
        cat "$d/garbage"
        exit 0
        ;;
    truncated)
        %(real)s "$@" >"$d/full.$$" 2>/dev/null
        n=$(wc -c <"$d/full.$$")
        head -c $((n > 12 ? n - 12 : 0)) "$d/full.$$"
        rm -f "$d/full.$$"
        exit 0
        ;;
    fail)
        echo "fault: cannot connect to the server: Connection refused" >&2
        exit 1
        ;;
    esac
fi
if rm "$d/$op-lose" 2>/dev/null; then
    exit 0
fi
exec %(real)s "$@"
'''


def _match_lines(prefixes: List[Tuple[str, Tuple[str, ...]]]) -> str:
    '''Shell lines setting ``op`` to the operation whose leading arguments the call has,
    longest first.'''
    lines = []
    for op, args in sorted(prefixes, key=lambda p: -len(p[1])):
        tests = ['[ "$op" = other ]', '[ "$#" -ge %d ]' % len(args)]
        tests += ['[ "$%d" = %s ]' % (i + 1, _quote(a)) for i, a in enumerate(args)]
        lines.append('if %s; then op=%s; fi' % (' && '.join(tests), op))
    return '\n'.join(lines)


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


class FaultyCommands:
    """A command directory of wrappers in front of a scheduler's real commands."""

    def __init__(self, root: Path, real: Dict[str, str],
                 operations: Dict[str, Tuple[str, ...]], garbage: str) -> None:
        """
        :param root: an empty directory for the wrappers and their state.
        :param real: program name -> the real program's path.
        :param operations: operation (see `OPERATIONS`) -> the program and the leading
            arguments that select it (``('tctl', 'dump')``); the status faults apply to the
            calls of ``'status'``, the others are only logged (and lost on request).
        """
        self.dir = root / 'bin'
        self.state = root / 'state'
        self.dir.mkdir(parents=True)
        self.state.mkdir()
        (self.state / 'garbage').write_text(garbage)
        self.set_mode('ok')
        for name, path in real.items():
            prefixes = [(op, tuple(cmd[1:])) for op, cmd in operations.items()
                        if cmd and cmd[0] == name]
            args = {'dir': _quote(str(self.state)), 'real': _quote(path),
                    'match': _match_lines(prefixes)}
            w = self.dir / name
            w.write_text(_WRAPPER % args)
            w.chmod(0o755)

    def set_mode(self, mode: str) -> None:
        """``ok``, ``hang``, ``garbage``, ``truncated`` or ``fail`` (see the module)."""
        (self.state / 'mode.tmp').write_text(mode + '\n')
        os.replace(self.state / 'mode.tmp', self.state / 'mode')

    def status_calls(self) -> List[int]:
        """The process id of each status command run so far."""
        return self._ints('status-calls')

    def hung_pids(self) -> List[int]:
        """The processes the hanging status commands started."""
        return self._ints('hung-pids')

    def calls(self, operation: str) -> List[str]:
        """The arguments of each call of `operation` (``'submit'``, ``'cancel'``...) so far."""
        p = self.state / ('%s.calls' % operation)
        return p.read_text().splitlines() if p.exists() else []

    def lose_next(self, operation: str) -> None:
        """The next call of `operation` (not ``'status'``) does nothing and exits 0, as a
        request the scheduler accepted and then lost."""
        (self.state / ('%s-lose' % operation)).touch()

    def _ints(self, name: str) -> List[int]:
        p = self.state / name
        return [int(x) for x in p.read_text().split()] if p.exists() else []


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _session_members(sid: int) -> List[int]:
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != 'Z':
            out.append(int(name))
    return out


def _children() -> List[int]:
    out: List[int] = []
    for task in os.listdir('/proc/self/task'):
        try:
            with open('/proc/self/task/%s/children' % task) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return [p for p in out if process_alive(p)]


def _until(cond: Any, what: str, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, 'gave up waiting for ' + what
        time.sleep(0.1)


def _until_flag(flag: Path, code: int) -> str:
    """A job script that waits for `flag`, then exits with `code`; it gives up after ten
    minutes (exit 99), so that a failed test leaves no job on a shared cluster for long."""
    return ('i=0; while [ ! -e %s ]; do i=$((i + 1)); [ $i -lt 3000 ] || exit 99; sleep 0.2; '
            'done; exit %d' % (_quote(str(flag)), code))


class _History:
    """Every status each job went through."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: Dict[str, List[JobStatus]] = {}

    def follow(self, job: Job) -> Job:
        def record(j: Job, st: JobStatus) -> None:
            with self.lock:
                self.seen.setdefault(j.id, []).append(st)
        job.set_job_status_callback(record)
        return job

    def finals(self, job: Job) -> List[JobStatus]:
        with self.lock:
            return [s for s in self.seen.get(job.id, []) if s.state.final]


class BatchFaultTests:
    """The fault tests; see the module documentation for what a subclass sets."""

    executor_class: type[BatchSchedulerExecutor]
    """The executor under test."""
    operations: Dict[str, Tuple[str, ...]] = {}
    """Each operation of `OPERATIONS` the executor runs -> the program that serves it and the
    leading arguments that select it: ``{'submit': ('sbatch',), 'status': ('squeue',),
    'cancel': ('scancel',), 'list': ('squeue',)}``, or for one program with subcommands
    ``{'submit': ('tctl', 'submit'), 'status': ('tctl', 'dump'), 'cancel': ('tctl', 'kill'),
    'list': ('tctl', 'list')}``. Empty: derived from `commands` and `status_command`."""
    commands: Tuple[str, ...] = ()
    """Every program the executor runs (those of `operations` are added); older subclasses
    name the operations by position here: the submit command first, the cancel command third
    (with `status_command`)."""
    status_command: str = ''
    """The bulk status command (older subclasses; see `operations`)."""
    real_command_dir: Optional[str] = None
    """Where the real commands are; `None`: looked up on ``PATH``."""
    garbage = ('<html><body>502 Bad Gateway</body></html>\n'
               'Segmentation fault (core dumped) 12345 67890\n'
               '\x00\x01\x02 \xff\xfe garbage RUNNING 1|2|3|\n')
    """What a broken status command prints (not a status document of this scheduler)."""
    config: Dict[str, Any] = {}
    """Settings of the executor's configuration besides the test's own (e.g. PBS's place)."""

    # -- helpers ---------------------------------------------------------------------------------

    def operation_commands(self) -> Dict[str, Tuple[str, ...]]:
        """`operations`, or what older subclasses say by position in `commands`."""
        if self.operations:
            return dict(self.operations)
        ops: Dict[str, Tuple[str, ...]] = {}
        if self.commands:
            ops['submit'] = (self.commands[0],)
        if len(self.commands) > 2:
            ops['cancel'] = (self.commands[2],)
        if self.status_command:
            ops['status'] = (self.status_command,)
        return ops

    def real_commands(self) -> Dict[str, str]:
        """Program name -> path of the real program."""
        out = {}
        names = list(self.commands) + [cmd[0] for cmd in self.operation_commands().values()]
        for name in dict.fromkeys(names):
            path = shutil.which(name, path=self.real_command_dir)
            assert path is not None, '%s not found in %s' % (name, self.real_command_dir or
                                                               'PATH')
            out[name] = path
        return out

    @pytest.fixture
    def faulty(self, tmp_path: Path) -> Iterator[FaultyCommands]:
        """The wrapper commands, in mode ``ok``; checks, after the test, that no status
        command's process was left behind and that the engine has no more threads than its
        two."""
        before = {t.name for t in threading.enumerate()}
        # processes this test did not start (e.g. the local executor's keeper of an earlier
        # test in this process) are not its strays
        self._children_before = set(_children())
        ops = self.operation_commands()
        missing = [op for op in ('submit', 'status', 'cancel') if op not in ops]
        assert not missing, '%s.operations must name the %s command' % (
            type(self).__name__, ' and '.join(missing))
        self._started: List[Job] = []
        fc = FaultyCommands(tmp_path / 'commands', self.real_commands(), ops, self.garbage)
        try:
            yield fc
        finally:
            fc.set_mode('ok')
            self._cancel_started()
        # every process a status command started was killed with it (its session is empty)
        left = {sid: _session_members(sid) for sid in fc.status_calls()}
        left = {sid: pids for sid, pids in left.items() if pids}
        assert not left, 'status commands left processes behind: %s' % left
        assert not [p for p in fc.hung_pids() if process_alive(p)]
        engines = [t.name for t in threading.enumerate()
                   if t.name.startswith('psij-') and t.name not in before]
        assert len(engines) <= 2, engines

    def executor(self, work: Path, commands: FaultyCommands,
                 **kw: Any) -> BatchSchedulerExecutor:
        """The executor under test, with short intervals, `work` and the wrapper commands."""
        args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                    file_check_interval=0.2, work_directory=work,
                                    command_directory=commands.dir, command_timeout=60)
        args.update(self.config)
        args.update(kw)
        cls = self.executor_class
        return cls(config=cls.config_class(**args))

    def submit(self, ex: BatchSchedulerExecutor, job: Job) -> Job:
        """Submits `job`; it is canceled after the test if it has not ended by then."""
        getattr(self, '_started', []).append(job)
        ex.submit(job)
        return job

    def _cancel_started(self) -> None:
        """Cancels the jobs the test started that have not ended (a failed test leaves no
        ``sleep 600`` behind) and waits a little for them to end."""
        left = [j for j in getattr(self, '_started', [])
                if j.native_id is not None and not j.status.state.final]
        for job in left:
            try:
                job.cancel()
            except Exception as ex:  # noqa: BLE001 (a clean-up: report, go on with the others)
                print('could not cancel job %s (%s): %s' % (job.id, job.native_id, ex))
        end = time.monotonic() + 60
        for job in left:
            job.wait(timeout=max(0.1, end - time.monotonic()))

    @staticmethod
    def sh(script: str) -> JobSpec:
        """A job running `script` with /bin/sh."""
        return JobSpec('/bin/sh', ['-c', script])

    @staticmethod
    def wait_final(job: Job, timeout: float = WAIT) -> JobStatus:
        """The job's final status; fails the test if it does not end within `timeout`."""
        st = job.wait(timeout=timeout)
        assert st is not None and st.state.final, 'job %s (%s) did not end: %s' % (
            job.id, job.native_id, job.status)
        return st

    def _check(self, hist: _History, expected: Dict[Job, Tuple[JobState, Optional[int]]]) -> None:
        wrong: List[object] = []
        for job, (state, code) in expected.items():
            st = self.wait_final(job)
            if st.state is not state or (code is not None and st.exit_code != code):
                wrong.append((job.native_id, (state, code), st))
            if hist.finals(job) != [st]:
                wrong.append((job.native_id, 'not exactly one final state', hist.finals(job)))
        assert not wrong, wrong

    def _no_stray_children(self) -> None:
        # the status commands are reaped (a short grace for one just ending)
        old: Set[int] = getattr(self, '_children_before', set())

        def new() -> List[int]:
            return [p for p in _children() if p not in old]
        _until(lambda: not new(), 'our child processes to end: %s' % new(), 30)

    # -- the status command ----------------------------------------------------------------------

    def test_status_command_that_hangs_is_given_up_and_retried(
            self, tmp_path: Path, faulty: FaultyCommands) -> None:
        ex = self.executor(tmp_path / 'work', faulty, command_timeout=3)
        hist = _History()
        go_ok, go_fail = tmp_path / 'go-ok', tmp_path / 'go-fail'
        ok = hist.follow(Job(self.sh(_until_flag(go_ok, 0))))
        failing = hist.follow(Job(self.sh(_until_flag(go_fail, 5))))
        for j in (ok, failing):
            self.submit(ex, j)  # (some executors ask the status command what it is at submit)
        _until(lambda: all(j.status.state is JobState.ACTIVE for j in (ok, failing)),
               'the jobs to start')
        faulty.set_mode('hang')
        _until(lambda: len(faulty.hung_pids()) >= 1, 'a status command to hang')
        go_ok.touch()
        # the files keep telling ends while the scheduler hangs
        assert self.wait_final(ok).state is JobState.COMPLETED
        _until(lambda: len(faulty.hung_pids()) >= 2, 'the status command to be retried')
        assert not failing.status.state.final
        go_fail.touch()
        n = len(faulty.hung_pids())
        _until(lambda: len(faulty.hung_pids()) >= n + 1, 'a status command after the end')
        assert not failing.status.state.final  # a non-zero exit waits for the scheduler
        faulty.set_mode('ok')
        self._check(hist, {ok: (JobState.COMPLETED, 0), failing: (JobState.FAILED, 5)})
        self._no_stray_children()

    @pytest.mark.parametrize('mode', ['garbage', 'truncated'])
    def test_status_document_that_is_garbage_or_truncated(
            self, tmp_path: Path, faulty: FaultyCommands, mode: str) -> None:
        ex = self.executor(tmp_path / 'work', faulty)
        hist = _History()
        flag = tmp_path / 'go'
        # two jobs at most at a time: the cluster is shared and may have few free slots
        waiting = [hist.follow(Job(self.sh(_until_flag(flag, code)))) for code in (0, 4)]
        for j in waiting:
            self.submit(ex, j)
        _until(lambda: all(j.status.state is JobState.ACTIVE for j in waiting),
               'the jobs to start')
        faulty.set_mode(mode)
        n = len(faulty.status_calls())
        # more polls than the engine needs to declare a job lost, none of them believed
        _until(lambda: len(faulty.status_calls()) >= n + 4, 'status commands in mode ' + mode)
        assert [j.status.state for j in waiting] == [JobState.ACTIVE] * 2
        flag.touch()
        # other updates go on: an end the files tell
        assert self.wait_final(waiting[0]).state is JobState.COMPLETED
        # (no wait for another bad answer: the retries back off, 2 s, 4 s, ... up to minutes;
        # the failure may also end with the code it recorded, if a cut answer lists no job)
        faulty.set_mode('ok')
        self._check(hist, {waiting[0]: (JobState.COMPLETED, 0),
                           waiting[1]: (JobState.FAILED, 4)})
        self._no_stray_children()

    def test_status_command_failing_for_60_s(self, tmp_path: Path,
                                             faulty: FaultyCommands) -> None:
        ex = self.executor(tmp_path / 'work', faulty)
        hist = _History()
        expected: Dict[Job, Tuple[JobState, Optional[int]]] = {}
        long = hist.follow(Job(self.sh('sleep 600')))
        self.submit(ex, long)  # first, to be running when the outage starts
        expected[long] = (JobState.CANCELED, None)
        for i in range(8):
            code = (0, 0, 1, 7)[i % 4]
            # some end during the outage, some after it
            job = hist.follow(Job(self.sh('sleep %d; exit %d' % (2 + i % 3 * 35, code))))
            self.submit(ex, job)
            expected[job] = (JobState.COMPLETED if code == 0 else JobState.FAILED, code)
        _until(lambda: long.status.state is JobState.ACTIVE, 'a job to start')
        faulty.set_mode('fail')
        down = time.monotonic()
        long.cancel()  # the cancel command works; only the scheduler can confirm it
        while time.monotonic() - down < 60:
            time.sleep(1)
            lost = [j for j, (state, _) in expected.items()
                    if j.status.state.final and j.status.state is not state]
            assert not lost, [(j.native_id, j.status) for j in lost]
        faulty.set_mode('ok')
        self._check(hist, expected)
        for job in expected:
            assert 'left the' not in (job.status.message or ''), job.status
        self._no_stray_children()

    # -- the work directory ----------------------------------------------------------------------

    def test_work_directory_that_cannot_be_created(self, tmp_path: Path,
                                                   faulty: FaultyCommands) -> None:
        blocker = tmp_path / 'a-file'
        blocker.write_text('not a directory\n')
        ex = self.executor(blocker / 'work', faulty)
        job = Job(self.sh('true'))
        with pytest.raises(SubmitException) as ei:
            ex.submit(job)
        assert str(blocker / 'work') in str(ei.value), ei.value
        self._nothing_submitted(faulty, job)
        assert blocker.read_text() == 'not a directory\n'

    def test_work_directory_without_write_permission(self, tmp_path: Path,
                                                     faulty: FaultyCommands) -> None:
        work = tmp_path / 'work'
        ex = self.executor(work, faulty)
        first = Job(self.sh('true'))
        self.submit(ex, first)  # the directory exists and was checked
        assert self.wait_final(first).state is JobState.COMPLETED
        before = sorted(os.listdir(work))
        calls = len(faulty.calls('submit'))
        if os.geteuid() == 0:
            # root ignores permissions; a file size limit makes every write fail instead,
            # as a full disk does
            limit = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, limit[1]))
            try:
                job = Job(self.sh('true'))
                with pytest.raises(SubmitException) as ei:
                    ex.submit(job)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        else:
            work.chmod(0o500)
            try:
                job = Job(self.sh('true'))
                with pytest.raises(SubmitException) as ei:
                    ex.submit(job)
            finally:
                work.chmod(0o700)
        assert str(work) in str(ei.value), ei.value
        assert len(faulty.calls('submit')) == calls, 'the submit command ran'
        assert job.status.state is JobState.NEW and job.native_id is None
        assert sorted(os.listdir(work)) == before, 'files left behind'
        # and the executor works again once the directory does
        again = Job(self.sh('exit 2'))
        self.submit(ex, again)
        st = self.wait_final(again)
        assert (st.state, st.exit_code) == (JobState.FAILED, 2)

    def _nothing_submitted(self, faulty: FaultyCommands, job: Job) -> None:
        assert faulty.calls('submit') == [], 'the submit command ran'
        assert job.status.state is JobState.NEW and job.native_id is None

    # -- the job's files -------------------------------------------------------------------------

    def test_corrupted_exit_code_files(self, tmp_path: Path, faulty: FaultyCommands) -> None:
        # nothing looks before the files are corrupted
        ex = self.executor(tmp_path / 'work', faulty, file_check_interval=3600,
                           initial_queue_polling_delay=3600, queue_polling_interval=3600,
                           keep_files=True)
        hist = _History()
        # the jobs end only once the engine had its first look (at the first submit): a job
        # ending before that would be seen ending
        go = tmp_path / 'go'
        jobs = [hist.follow(Job(self.sh('while [ ! -e %s ]; do sleep 0.05; done; exit 3'
                                        % shlex.quote(str(go)))))
                for _ in range(3)]
        for j in jobs:
            self.submit(ex, j)
        work = ex.work_directory
        ecs = [work / ((j.native_id or '') + '.ec') for j in jobs]
        go.touch()
        _until(lambda: all(p.exists() for p in ecs), 'the jobs to end')
        ecs[0].write_bytes(b'\x00\xffnot a number \n')
        ecs[1].unlink()
        os.mkfifo(ecs[1])  # a FIFO must not block the engine
        forged = tmp_path / 'forged'
        forged.write_text('0 %s\n' % ex._tokens.get(jobs[2].native_id or '', ''))
        ecs[2].unlink()
        ecs[2].symlink_to(forged)  # not a regular file of the work directory: not trusted
        for j in jobs:
            assert not j.status.state.final
        # now the engine looks (the poll thread reads the files; the scheduler may need a few
        # polls to call the jobs finished)
        setattr(ex.config, 'queue_polling_interval', 1.0)
        ex._engine.request_poll(0)
        # the scheduler's verdict decides: the job failed (its code, if the scheduler says it)
        for j in jobs:
            st = self.wait_final(j)
            assert st.state is JobState.FAILED, st
            assert st.exit_code in (3, None), st
            assert hist.finals(j) == [st]

    # -- a lost cancel ---------------------------------------------------------------------------

    def test_a_cancel_the_scheduler_loses_is_sent_again(self, tmp_path: Path,
                                                         faulty: FaultyCommands) -> None:
        # (OpenPBS loses a delete that reaches the mom while it starts the job)
        ex = self.executor(tmp_path / 'work', faulty, queue_polling_interval=3600)
        hist = _History()
        job = hist.follow(Job(self.sh('sleep 600')))
        self.submit(ex, job)
        _until(lambda: job.status.state is JobState.ACTIVE, 'the job to start')
        faulty.lose_next('cancel')
        job.cancel()
        st = self.wait_final(job)
        assert st.state is JobState.CANCELED, st
        assert len(faulty.calls('cancel')) >= 2, faulty.calls('cancel')
        assert hist.finals(job) == [st]

    # -- the clock -------------------------------------------------------------------------------

    def test_wall_clock_jumps_change_nothing(self, tmp_path: Path, faulty: FaultyCommands,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        real = time.time
        offset = [0.0]
        monkeypatch.setattr(time, 'time', lambda: real() + offset[0])
        ex = self.executor(tmp_path / 'work', faulty)
        hist = _History()
        flag = tmp_path / 'go'
        jobs = [hist.follow(Job(self.sh(_until_flag(flag, code)))) for code in (0, 6)]
        for j in jobs:
            self.submit(ex, j)
        _until(lambda: all(j.status.state is JobState.ACTIVE for j in jobs), 'the jobs to start')
        offset[0] = -7200.0  # two hours back: deadlines on this clock would be hours away
        n = len(faulty.status_calls())
        _until(lambda: len(faulty.status_calls()) >= n + 2, 'polls after the clock went back',
               60)
        offset[0] = 7200.0  # and forward: deadlines on this clock would all be due now
        n = len(faulty.status_calls())
        flag.touch()
        self._check(hist, {jobs[0]: (JobState.COMPLETED, 0), jobs[1]: (JobState.FAILED, 6)})
        # polls kept their pace (1 s apart): no storm of status commands
        assert len(faulty.status_calls()) - n < 60
