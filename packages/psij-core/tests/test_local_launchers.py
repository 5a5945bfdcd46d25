"""The single launcher, the ScriptBasedLauncher contract with the local executor, and the
local executor's good manners (no threads or signal handlers at import, no idle wake-ups)."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from psij import Descriptor, Job, JobExecutor, JobSpec, JobState, Launcher, ResourceSpecV1
from psij.executors.local import LocalJobExecutorConfig
from psij.launchers.script_based_launcher import LAUNCHER_FAILURE_MARKER, ScriptBasedLauncher
from psij.launchers.single import SingleLauncher

# A launcher script in the documented shape: runs one copy of the command per line of
# $PSIJ_NODEFILE, each with its rank in PSIJ_TEST_RANK, and exits with the first non-zero code.
RANKS_SH = textwrap.dedent('''\
    prefix=$1
    shift
    [ "$1" = "--" ] || { echo "%s bad arguments"; exit 99; }
    shift
    rank=0
    pids=""
    while read -r host; do
        PSIJ_TEST_RANK="$prefix$rank" "$@" &
        pids="$pids $!"
        rank=$((rank + 1))
    done < "$PSIJ_NODEFILE"
    rc=0
    for p in $pids; do
        wait "$p"
        c=$?
        [ "$rc" -eq 0 ] && rc=$c
    done
    exit "$rc"
    ''' % LAUNCHER_FAILURE_MARKER)


class RanksLauncher(ScriptBasedLauncher):
    """Test launcher built on ScriptBasedLauncher."""

    script = None

    def __init__(self, config=None):
        super().__init__(Path(RanksLauncher.script), config)

    def get_additional_args(self, job):
        return ['r']


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


@pytest.fixture(scope='module')
def ranks_launcher(tmp_path_factory):
    script = tmp_path_factory.mktemp('launcher') / 'ranks.sh'
    script.write_text(RANKS_SH)
    RanksLauncher.script = str(script)
    try:
        Launcher.register_launcher(Descriptor(name='psij-test-ranks', version='0.0.1',
                                              cls='test_local_launchers.RanksLauncher'))
    except ValueError:
        pass
    return 'psij-test-ranks'


def test_single_launcher_command():
    job = Job(JobSpec('/bin/echo', ['a', 'b c']))
    assert SingleLauncher().get_launch_command(job) == ['/bin/echo', 'a', 'b c']
    assert not SingleLauncher().is_launcher_failure('anything')


def test_script_based_launcher_command_and_failure_marker():
    RanksLauncher.script = '/x/ranks.sh'
    job = Job(JobSpec('/bin/echo', ['$x']))
    assert RanksLauncher().get_launch_command(job) == ['/bin/sh', '/x/ranks.sh', 'r', '--',
                                                       '/bin/echo', '$x']
    out = 'noise\n%s mpirun not found\n' % LAUNCHER_FAILURE_MARKER
    launcher = RanksLauncher()
    assert launcher.is_launcher_failure(out)
    assert launcher.get_launcher_failure_message(out) == 'mpirun not found'
    assert not launcher.is_launcher_failure('all fine')


def test_script_launcher_runs_all_ranks(ex, ranks_launcher, tmp_path):
    out = tmp_path / 'out'
    pre = tmp_path / 'pre.sh'
    pre.write_text('export FROM_PRE=yes\n')
    spec = JobSpec('/bin/sh', ['-c', 'echo "$PSIJ_TEST_RANK $FROM_PRE $0"', 'x y'],
                   launcher=ranks_launcher, resources=ResourceSpecV1(process_count=3),
                   stdout_path=out, pre_launch=pre)
    job = Job(spec)
    ex.submit(job)
    st = job.wait()
    assert st.state is JobState.COMPLETED, st
    assert sorted(out.read_text().splitlines()) == ['r0 yes x y', 'r1 yes x y', 'r2 yes x y']


def test_script_launcher_first_failing_rank(ex, ranks_launcher):
    spec = JobSpec('/bin/sh', ['-c', 'exit $((${PSIJ_TEST_RANK#r} + 3))'],
                   launcher=ranks_launcher, resources=ResourceSpecV1(process_count=2))
    job = Job(spec)
    ex.submit(job)
    st = job.wait()
    assert st.state is JobState.FAILED and st.exit_code == 3


def test_import_starts_no_thread_and_no_signal_handler():
    # compared with the dispositions before the import: the tests may run where SIGINT is
    # ignored (a background job of a shell)
    code = textwrap.dedent('''
        import signal, threading
        SIGNALS = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT)
        before = [signal.getsignal(s) for s in SIGNALS]
        import psij
        from psij.executors.local import LocalJobExecutor
        ex = psij.JobExecutor.get_instance('local')
        assert threading.active_count() == 1, threading.enumerate()
        assert [signal.getsignal(s) for s in SIGNALS] == before, before
        print('ok')
    ''')
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       timeout=60)
    assert p.stdout.strip() == 'ok', p.stderr


def _voluntary_switches(tid):
    with open('/proc/self/task/%d/status' % tid) as f:
        for line in f:
            if line.startswith('voluntary_ctxt_switches'):
                return int(line.split()[1])
    raise AssertionError('no voluntary_ctxt_switches')


def test_reaper_does_not_wake_up_when_idle(ex):
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    job.wait()
    reaper = [t for t in threading.enumerate() if t.name == 'psij-local-reaper']
    assert len(reaper) == 1
    tid = reaper[0].native_id
    # A reaper that polls wakes up in every window; ours in none (the first window may still
    # see it finish with the job on a loaded machine).
    deltas = []
    for _ in range(3):
        before = _voluntary_switches(tid)
        time.sleep(0.2)
        deltas.append(_voluntary_switches(tid) - before)
    assert 0 in deltas, deltas


def test_launcher_failure_message(ex, ranks_launcher, tmp_path):
    err = tmp_path / 'err'
    # The test script reports bad arguments with the marker when "--" is missing: simulate a
    # launcher failure by making a rank print the marker line and fail.
    spec = JobSpec('/bin/sh', ['-c', 'echo "%s no such host" >&2; exit 2'
                               % LAUNCHER_FAILURE_MARKER],
                   launcher=ranks_launcher, resources=ResourceSpecV1(process_count=1),
                   stderr_path=err)
    job = Job(spec)
    ex.submit(job)
    st = job.wait()
    assert st.state is JobState.FAILED and st.exit_code == 2
    assert st.message.startswith('The psij-test-ranks launcher failed')
    assert 'no such host' in st.message
