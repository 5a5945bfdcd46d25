"""
The checks, grouped by what they exercise. `ConformanceSuite` combines them all.

Each check submits real jobs through the executor under test and looks at what the job did
(files it wrote) and what the executor reported (states, exit codes, callbacks). A check that
needs a capability an executor declared missing skips with the declared reason.
"""

from __future__ import annotations

import json
import select
import shlex
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import pytest

from psij import (
    InvalidJobException,
    Job,
    JobSpec,
    JobState,
    ResourceSpecV1,
    StageIn,
    StageOut,
    StageOutFlags,
)
from psij.conformance import capabilities as cap
from psij.conformance.base import KitBase, requires
from psij.conformance.crash_checks import CrashChecks
from psij.conformance.dropin_checks import DropInChecks
from psij.conformance.harness import (
    ARGS_SCRIPT,
    ENDED_SUFFIX,
    RANK_SCRIPT,
    Kit,
    env_dump_script,
    environ_sentinel,
    read_nul_list,
)
from psij.conformance.hostile_checks import HostileInputChecks
from psij.conformance.smoke_checks import SmokeChecks

COMPLETED, FAILED, CANCELED, ACTIVE = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELED,
                                       JobState.ACTIVE)

# Strings that break careless quoting, by name. None contains "${", which would be substituted.
AWKWARD: Dict[str, str] = {
    'SPACES': 'a b  c',
    'SINGLE_QUOTE': "it's",
    'DOUBLE_QUOTE': 'say "hi"',
    'DOLLAR': '$HOME',
    'BACKTICK': '`echo injected`',
    'SUBSHELL': '$(echo injected)',
    'NEWLINES': 'line 1\nline 2\n',
    'NON_ASCII': 'gr\u00fc\u00dfe \u65e5\u672c \U0001f680',
    'EMPTY': '',
    'BACKSLASH': 'a\\b\\\\c\\',
    'GLOB': '*',
    'SEMICOLON': 'a; echo injected',
    'OPTION': '-n',
    'TAB': 'a\tb',
    'PERCENT': '%s %d %%',
    'EDGE_SPACES': ' lead and trail ',
    'LONG': 'psij' * 8192,
}


def _diff(expected: Dict[str, str], got: Dict[str, str]) -> List[str]:
    out = []
    for k, v in expected.items():
        g = got.get(k, '<unset>')
        if g != v:
            out.append('%s: expected %r, got %r' % (k, v[:200], g[:200]))
    return out


def _env_of(kit: Kit, out: Path) -> Dict[str, str]:
    got = {}
    for item in read_nul_list(out):
        if '=' in item:
            k, _, v = item.partition('=')
            got[k] = v
    return got


# -- states, callbacks, wait --------------------------------------------------------------------

class StateChecks(KitBase):
    """The state chain and its order; exactly one final state."""

    def test_states_of_completed_job(self, kit: Kit) -> None:
        """A job exiting 0 goes QUEUED, STAGE_IN, ACTIVE, STAGE_OUT, CLEANUP, COMPLETED."""
        job = kit.submit(kit.sh_spec('exit 0'))
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, COMPLETED)
        assert st.state is COMPLETED and job.status.state is COMPLETED

    def test_states_of_failed_job(self, kit: Kit) -> None:
        """A job exiting 1 was ACTIVE, then FAILED, and nothing follows."""
        job = kit.submit(kit.sh_spec('exit 1'))
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, FAILED)
        assert st.state is FAILED

    def test_active_while_running(self, kit: Kit) -> None:
        """A running job is reported ACTIVE while it runs, not only after it ended."""
        b = kit.submit_blocked()
        st = kit.wait(b.job, ACTIVE)
        assert st.state is ACTIVE, ('wait(target_states=ACTIVE) returned %s for a job that '
                                    'cannot end before it is released' % st)
        b.release()
        kit.wait(b.job)
        kit.settle()
        kit.check_history(b.job, COMPLETED)


class CallbackChecks(KitBase):
    """Job and executor callbacks: once per state, in order, never concurrent for one job."""

    def test_callbacks_of_one_job(self, kit: Kit) -> None:
        """Both callbacks see every state once, in order; wait() returns after them."""
        job = kit.submit(kit.sh_spec('exit 0'))
        st = kit.wait(job)
        delivered = kit.recorder.statuses(job)
        assert delivered and delivered[-1].state is st.state, (
            'wait() returned %s before the callbacks for it were called (delivered: %s)'
            % (st, [s.state for s in delivered]))
        kit.settle()
        kit.check_history(job, COMPLETED)

    def test_callbacks_of_many_jobs(self, kit: Kit) -> None:
        """Ten jobs at once: each one's callbacks follow the rules, none overlap."""
        codes = [i % 3 for i in range(10)]
        jobs = [kit.submit(kit.sh_spec('exit %d' % c)) for c in codes]
        for j in jobs:
            kit.wait(j)
        kit.settle()
        for j, c in zip(jobs, codes, strict=True):
            kit.check_history(j, COMPLETED if c == 0 else FAILED)


class WaitChecks(KitBase):
    """``Job.wait()`` with target states and with a timeout."""

    def test_wait_for_target_states(self, kit: Kit) -> None:
        """wait(target_states=...) returns at the target, or at once for an earlier one."""
        b = kit.submit_blocked()
        assert kit.wait(b.job, ACTIVE).state is ACTIVE
        st = b.job.wait(timeout=kit.remaining(), target_states=[JobState.QUEUED])
        assert st is not None and st.state is ACTIVE, (
            'wait() for a state already passed must return the current status, got %s' % st)
        b.release()
        final = kit.wait(b.job)
        assert final.state is COMPLETED
        again = b.job.wait(timeout=kit.remaining(), target_states=ACTIVE)
        assert again is not None and again.state is COMPLETED

    def test_wait_timeout(self, kit: Kit) -> None:
        """wait(timeout=...) returns None while the job cannot have ended."""
        b = kit.submit_blocked()
        kit.wait(b.job, ACTIVE)
        assert b.job.wait(timeout=0.2) is None
        assert b.job.wait(timeout=timedelta(milliseconds=200), target_states=COMPLETED) is None
        b.release()
        assert kit.wait(b.job).state is COMPLETED


# -- exit codes and cancel ----------------------------------------------------------------------

class ExitCodeChecks(KitBase):
    """Exit codes: 0 completes, anything else fails, and the code is reported."""

    @pytest.mark.parametrize('code', [0, 1, 42])
    def test_exit_code(self, kit: Kit, code: int) -> None:
        """The job's exit code is reported with its final state."""
        job = kit.submit(kit.sh_spec('exit %d' % code))
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, COMPLETED if code == 0 else FAILED)
        assert st.exit_code == code, 'expected exit code %d, got %s' % (code, st)

    @requires(cap.SIGNAL_EXIT)
    def test_killed_by_signal(self, kit: Kit) -> None:
        """A job killed by SIGKILL fails with exit code -9 or 128+9."""
        job = kit.submit(kit.sh_spec('kill -KILL $$'))
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, FAILED)
        assert st.exit_code in (-9, 137, 265), 'expected exit code -9 or 137, got %s' % st


class CancelChecks(KitBase):
    """Cancel of queued and running jobs: CANCELED, and no other final state after."""

    def test_cancel_running_job(self, kit: Kit) -> None:
        """A running job that is canceled ends CANCELED."""
        b = kit.submit_blocked()
        kit.wait(b.job, ACTIVE)
        kit.cancel(b.job)
        st = kit.wait(b.job)
        b.release()
        kit.settle()
        kit.check_history(b.job, CANCELED)
        assert st.state is CANCELED

    def test_cancel_right_after_submit(self, kit: Kit) -> None:
        """A job canceled right after submit (queued, as far as the client knows) ends
        CANCELED."""
        b = kit.submit_blocked()
        kit.cancel(b.job)
        st = kit.wait(b.job)
        b.release()
        kit.settle()
        kit.check_history(b.job, CANCELED, ran=False)
        assert st.state is CANCELED

    def test_cancel_of_job_trapping_term(self, kit: Kit) -> None:
        """A canceled job that traps SIGTERM and exits 0 ends CANCELED, with exit code 0 (its
        own, where the scheduler records it) or none: never a code the job did not exit
        with."""
        started = kit.unique('started')
        limit = int(kit.options.timeout * 10) + 10
        job = kit.submit(kit.sh_spec(
            'trap "exit 0" TERM; : > "$1"; i=0; while [ $i -lt %d ]; do sleep 0.1; '
            'i=$((i + 1)); done; exit 99' % limit, started))
        kit.wait(job, ACTIVE)
        while not started.exists():  # the trap is set once the file exists
            assert kit.remaining() > 0, 'the job never started its script'
            time.sleep(0.1)
        kit.cancel(job)
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, CANCELED)
        assert st.exit_code in (0, None), 'a canceled job that exited 0 was reported with exit ' \
            'code %s: %s' % (st.exit_code, st)

    def test_cancel_finished_job(self, kit: Kit) -> None:
        """Canceling a finished job changes nothing."""
        job = kit.submit(kit.sh_spec('exit 0'))
        kit.wait(job)
        job.cancel()
        kit.settle()
        kit.check_history(job, COMPLETED)


# -- attach and list ----------------------------------------------------------------------------

class AttachChecks(KitBase):
    """``attach()`` from a new executor instance and from another process; ``list()``."""

    @requires(cap.ATTACH)
    def test_attach_from_new_instance(self, kit: Kit) -> None:
        """A job attached by a new executor instance reports its state and exit code."""
        b = kit.submit_blocked(code=42)
        kit.wait(b.job, ACTIVE)
        ex2 = kit.new_executor()
        job2 = Job()
        job2.set_job_status_callback(kit.recorder.job_callback)
        kit.jobs.append(job2)
        assert b.job.native_id is not None
        ex2.attach(job2, b.job.native_id)
        assert kit.wait(job2, ACTIVE).state is ACTIVE
        b.release()
        st2 = kit.wait(job2)
        st1 = kit.wait(b.job)
        kit.settle()
        kit.check_history(b.job, FAILED)
        kit.check_history(job2, FAILED)
        assert st1.exit_code == 42 and st2.exit_code == 42, (st1, st2)

    @requires(cap.ATTACH)
    def test_attach_to_ended_job(self, kit: Kit) -> None:
        """Attaching to a job that already ended reports exactly one status change: its
        final state, with its true exit code (no synthesized intermediate states)."""
        ended = {code: kit.submit(kit.sh_spec('exit %d' % code)) for code in (0, 3)}
        for job in ended.values():
            kit.wait(job)
        if cap.LIST not in kit.unsupported:
            # ended for the scheduler too: a batch job's script records its exit code a
            # moment before it leaves the queue
            deadline = time.monotonic() + min(60.0, kit.remaining())
            while set(kit.executor.list()) & {j.native_id for j in ended.values()}:
                assert time.monotonic() < deadline, 'jobs that ended are still listed'
                time.sleep(0.5)
        ex2 = kit.new_executor()
        for code, job in ended.items():
            job2 = Job()
            job2.set_job_status_callback(kit.recorder.job_callback)
            kit.jobs.append(job2)
            assert job.native_id is not None
            ex2.attach(job2, job.native_id)
            st = kit.wait(job2)
            kit.settle()
            seen = [(s.state, s.exit_code) for s in kit.recorder.statuses(job2)]
            assert seen == [(COMPLETED if code == 0 else FAILED, code)], \
                'attach to a job that ended with exit code %d reported %s (%s)' % (
                    code, seen, st)

    @requires(cap.ATTACH_OTHER_PROCESS)
    def test_attach_from_other_process(self, kit: Kit) -> None:
        """A job attached from another process reports its state and exit code there."""
        b = kit.submit_blocked(code=42)
        kit.wait(b.job, ACTIVE)
        assert b.job.native_id is not None
        o = kit.options
        cmd = [sys.executable, '-m', 'psij.conformance._attach_child', '--executor',
               str(o.executor), '--timeout', str(kit.remaining())]
        if o.url:
            cmd += ['--url', o.url]
        for m in o.import_:
            cmd += ['--import', m]
        cmd.append(b.job.native_id)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], kit.remaining())
            line = proc.stdout.readline() if ready else ''
            if not line.startswith('attached'):
                proc.kill()
                out, err = proc.communicate()
                pytest.fail('the attaching process did not attach: %r %s %s'
                            % (line, out, err))
            b.release()
            out, err = proc.communicate(timeout=kit.remaining())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, 'the attaching process failed:\n%s\n%s' % (out, err)
        result = json.loads(out.strip().splitlines()[-1])
        assert not result['problems'], '\n'.join(result['problems'])
        assert result['state'] == 'FAILED' and result['exit_code'] == 42, result
        kit.wait(b.job)

    @requires(cap.LIST)
    def test_list_shows_running_job(self, kit: Kit) -> None:
        """``list()`` includes the native id of a running job, and not once the job ended
        (the rule of every executor: jobs that have not ended, whatever history the backend
        keeps); the scheduler may take a moment to drop it, so that is waited for."""
        b = kit.submit_blocked()
        kit.wait(b.job, ACTIVE)
        ids = kit.executor.list()
        assert all(isinstance(i, str) for i in ids), ids
        assert b.job.native_id in ids, '%s not in list() = %s' % (b.job.native_id, ids[:20])
        b.release()
        kit.wait(b.job)
        deadline = time.monotonic() + min(60.0, kit.remaining())
        while b.job.native_id in kit.executor.list():
            assert time.monotonic() < deadline, \
                '%s, which ended, is still in list()' % b.job.native_id
            time.sleep(0.5)


# -- what the job sees ------------------------------------------------------------------------

class EnvironmentChecks(KitBase):
    """Arguments and environment values byte-exact; ``${NAME}``; ``inherit_environment``."""

    def test_arguments_byte_exact(self, kit: Kit) -> None:
        """Every argument reaches the program unchanged, empty ones included."""
        out = kit.unique('args')
        values = list(AWKWARD.values())
        st = kit.run(kit.sh_spec(ARGS_SCRIPT, out, *values))
        assert st.state is COMPLETED, st
        got = read_nul_list(out)
        assert len(got) == len(values), 'expected %d arguments, got %d' % (len(values),
                                                                           len(got))
        bad = _diff(dict(zip(AWKWARD, values, strict=True)), dict(zip(AWKWARD, got, strict=True)))
        assert not bad, '\n'.join(bad)

    def test_environment_byte_exact(self, kit: Kit) -> None:
        """Every environment value reaches the program unchanged, empty ones included."""
        env = {'PSIJ_K_' + k: v for k, v in AWKWARD.items()}
        out = kit.unique('env')
        st = kit.run(kit.sh_spec(env_dump_script(env), out, environment=dict(env)))
        assert st.state is COMPLETED, st
        bad = _diff(env, _env_of(kit, out))
        assert not bad, '\n'.join(bad)

    def test_environment_substitution(self, kit: Kit) -> None:
        """``${NAME}`` in a value is replaced by the value of NAME."""
        env = {'PSIJ_K_BASE': 'b a$e', 'PSIJ_K_REF': '${PSIJ_K_BASE}/x',
               'PSIJ_K_HOME': '${HOME}:y'}
        out = kit.unique('env')
        names = list(env) + ['HOME']
        st = kit.run(kit.sh_spec(env_dump_script(names), out, environment=dict(env)))
        assert st.state is COMPLETED, st
        got = _env_of(kit, out)
        expected = {'PSIJ_K_BASE': 'b a$e', 'PSIJ_K_REF': 'b a$e/x'}
        if 'HOME' in got:
            expected['PSIJ_K_HOME'] = got['HOME'] + ':y'
        bad = _diff(expected, got)
        assert not bad, '\n'.join(bad)

    @requires(cap.SUBMITTER_ENVIRONMENT)
    def test_inherit_environment(self, kit: Kit) -> None:
        """With inherit_environment (the default) the job sees the submitter's variables."""
        name, value = environ_sentinel()
        out = kit.unique('env')
        st = kit.run(kit.sh_spec(env_dump_script([name, 'PSIJ_K_SET']), out,
                                 environment={'PSIJ_K_SET': 'set'}))
        assert st.state is COMPLETED, st
        bad = _diff({name: value, 'PSIJ_K_SET': 'set'}, _env_of(kit, out))
        assert not bad, '\n'.join(bad)

    def test_no_inherit_environment(self, kit: Kit) -> None:
        """With inherit_environment=False the job does not see the submitter's variables."""
        name, _ = environ_sentinel()
        out = kit.unique('env')
        st = kit.run(kit.sh_spec(env_dump_script([name, 'PSIJ_K_SET']), out,
                                 inherit_environment=False,
                                 environment={'PSIJ_K_SET': 'set'}))
        assert st.state is COMPLETED, st
        got = read_nul_list(out)
        assert '%s unset' % name in got, 'the job inherited %s: %s' % (name, got)
        assert 'PSIJ_K_SET=set' in got, got


class StdioChecks(KitBase):
    """stdin, stdout and stderr redirection."""

    def test_stdin_to_stdout(self, kit: Kit) -> None:
        """stdin_path is the job's input, stdout_path receives its output, byte-exact."""
        data = b'line 1\n\xc3\xa9t\xc3\xa9\n\x00\x01binary\r\nno newline at the end'
        inp, out = kit.unique('stdin'), kit.unique('stdout')
        inp.write_bytes(data)
        st = kit.run(kit.sh_spec('exec cat', stdin_path=inp, stdout_path=out))
        assert st.state is COMPLETED, st
        assert out.read_bytes() == data

    def test_stderr(self, kit: Kit) -> None:
        """stderr_path receives the job's standard error, separately from its output."""
        out, err = kit.unique('stdout'), kit.unique('stderr')
        st = kit.run(kit.sh_spec('printf "to stdout\\n"; printf "to stderr\\n" >&2',
                                 stdout_path=out, stderr_path=err))
        assert st.state is COMPLETED, st
        assert out.read_bytes() == b'to stdout\n'
        assert err.read_bytes() == b'to stderr\n'


class DirectoryChecks(KitBase):
    """The job's working directory."""

    def test_working_directory(self, kit: Kit) -> None:
        """The job runs in JobSpec.directory."""
        d = kit.path('work dir')
        d.mkdir()
        out = kit.unique('pwd')
        st = kit.run(kit.sh_spec('pwd -P > "$1"', out, directory=d))
        assert st.state is COMPLETED, st
        assert out.read_text().rstrip('\n') == str(d.resolve())

    def test_missing_directory(self, kit: Kit) -> None:
        """A job whose directory does not exist does not run: `submit` refuses it with an
        `InvalidJobException` naming the directory, or it ends FAILED with exit code 1 and a
        message about the directory (the same answer on every executor)."""
        d = kit.path('no such dir')
        ran = kit.unique('ran')
        job = Job(kit.sh_spec(': > "$1"', ran, directory=d))
        try:
            kit.submit(job)
        except InvalidJobException as ex:
            assert str(d) in str(ex), ex
            return
        st = kit.wait(job)
        assert (st.state, st.exit_code) == (FAILED, 1), st
        assert 'directory' in (st.message or ''), st
        assert not ran.exists()

    def test_relative_paths(self, kit: Kit) -> None:
        """Relative stdout/stderr paths are relative to the job's directory."""
        d = kit.path('relative')
        d.mkdir()
        st = kit.run(kit.sh_spec('echo out; echo err >&2', directory=d,
                                 stdout_path=Path('out.txt'), stderr_path=Path('err.txt')))
        assert st.state is COMPLETED, st
        assert (d / 'out.txt').read_text() == 'out\n'
        assert (d / 'err.txt').read_text() == 'err\n'


# -- launchers ----------------------------------------------------------------------------------

def _ranks(kit: Kit) -> int:
    return 1 if cap.MULTI_PROCESS in kit.unsupported else kit.options.processes


def _rank_files(d: Path) -> List[List[str]]:
    return [p.read_text().splitlines() for p in sorted(d.iterdir())]


class LaunchChecks(KitBase):
    """Pre/post launch scripts, rank counts, ``PSIJ_NODEFILE``, several nodes."""

    @requires(cap.PRE_POST_LAUNCH)
    def test_pre_launch(self, kit: Kit) -> None:
        """pre_launch is sourced once, before the ranks, and what it exports reaches them."""
        log, out = kit.unique('log'), kit.unique('env')
        pre = kit.path('pre.sh')
        pre.write_text('printf "pre\\n" >> %s\nexport PSIJ_K_PRE="from pre"\n'
                       % shlex.quote(str(log)))
        st = kit.run(kit.sh_spec(env_dump_script(['PSIJ_K_PRE']), out, pre_launch=pre))
        assert st.state is COMPLETED, st
        assert log.read_text() == 'pre\n'
        assert read_nul_list(out) == ['PSIJ_K_PRE=from pre']

    @requires(cap.PRE_POST_LAUNCH)
    def test_failing_pre_launch(self, kit: Kit) -> None:
        """A failing pre-launch script (a non-zero status, or ``exit`` in it) stops the job
        before its command: FAILED with the script's exit code and a message naming the
        pre-launch script and that code."""
        for body in ('(exit 7)\n', 'exit 7\n'):
            pre, ran = kit.unique('pre.sh'), kit.unique('ran')
            pre.write_text(body)
            st = kit.run(kit.sh_spec(': > "$1"', ran, pre_launch=pre,
                                     stderr_path=kit.unique('stderr')))
            assert (st.state, st.exit_code) == (FAILED, 7), (body, st)
            message = st.message or ''
            assert 'pre-launch' in message and str(pre) in message and '7' in message, \
                'the message of a job whose pre-launch script %s failed (%r) must name it ' \
                'and its exit code: %s' % (pre, body, st)
            assert not ran.exists(), 'the command ran after its pre-launch script failed'

    @requires(cap.PRE_POST_LAUNCH)
    def test_post_launch_after_all_ranks(self, kit: Kit) -> None:
        """post_launch runs once, after every rank ended; pre_launch once for all ranks."""
        n = _ranks(kit)
        ranks, log, count = kit.unique('ranks'), kit.unique('log'), kit.unique('count')
        ranks.mkdir()
        q = shlex.quote
        pre, post = kit.path('pre.sh'), kit.path('post.sh')
        pre.write_text('printf "pre\\n" >> %s\n' % q(str(log)))
        post.write_text('ls %s | wc -l > %s\nprintf "post\\n" >> %s\n'
                        % (q(str(ranks)), q(str(count)), q(str(log))))
        st = kit.run(kit.sh_spec(RANK_SCRIPT, ranks, pre_launch=pre, post_launch=post,
                                 resources=ResourceSpecV1(process_count=n)))
        assert st.state is COMPLETED, st
        assert log.read_text() == 'pre\npost\n'
        assert int(count.read_text()) == n, 'post_launch ran before all %d ranks ended' % n

    @staticmethod
    def _run_ranks(kit: Kit, n: int) -> List[List[str]]:
        """Runs RANK_SCRIPT with process_count=n; checks that n ranks ran; their files."""
        ranks = kit.unique('ranks')
        ranks.mkdir()
        st = kit.run(kit.sh_spec(RANK_SCRIPT, ranks, resources=ResourceSpecV1(process_count=n)))
        assert st.state is COMPLETED, st
        files = _rank_files(ranks)
        assert len(files) == n, '%d ranks ran, not process_count=%d' % (len(files), n)
        return files

    @requires(cap.MULTI_PROCESS)
    def test_rank_count(self, kit: Kit) -> None:
        """process_count ranks are started."""
        self._run_ranks(kit, kit.options.processes)

    @requires(cap.MULTI_PROCESS)
    def test_nodefile(self, kit: Kit) -> None:
        """Every rank of a multi-process job can read $PSIJ_NODEFILE, one line per node or
        per process."""
        n = kit.options.processes
        files = self._run_ranks(kit, n)
        for lines in files:
            assert len(lines) > 1 and lines[1] == 'nodefile', \
                'a rank could not read $PSIJ_NODEFILE: %s' % lines
            hosts = [h for h in lines[2:] if h.strip()]
            assert len(hosts) in (1, n), 'PSIJ_NODEFILE has %d lines for 1 node and %d ' \
                'processes' % (len(hosts), n)

    @requires(cap.MULTI_NODE, cap.MULTI_PROCESS)
    def test_multi_node(self, kit: Kit) -> None:
        """node_count nodes, one rank each, on distinct hosts listed in $PSIJ_NODEFILE."""
        n = kit.options.nodes
        ranks = kit.unique('ranks')
        ranks.mkdir()
        st = kit.run(kit.sh_spec(RANK_SCRIPT, ranks, resources=ResourceSpecV1(
            node_count=n, processes_per_node=1)))
        assert st.state is COMPLETED, st
        files = _rank_files(ranks)
        assert len(files) == n, '%d ranks ran, not %d' % (len(files), n)
        assert len({f[0] for f in files}) == n, 'ranks ran on %s' % [f[0] for f in files]

    @requires(cap.MULTI_NODE)
    def test_multi_node_job_with_this_launcher(self, kit: Kit) -> None:
        """A job of node_count nodes runs with the launcher under test, whatever it is: one
        process with ``single`` (on the lead node, in an allocation of all the nodes), one
        rank per node with a launcher that starts several."""
        n = kit.options.nodes
        ranks = kit.unique('ranks')
        ranks.mkdir()
        st = kit.run(kit.sh_spec(RANK_SCRIPT, ranks, resources=ResourceSpecV1(
            node_count=n, process_count=n)))
        assert st.state is COMPLETED, st
        files = _rank_files(ranks)
        expected = 1 if cap.MULTI_PROCESS in kit.unsupported else n
        assert len(files) == expected, '%d processes ran, not %d' % (len(files), expected)


# -- resources and attributes ---------------------------------------------------------------------

class ResourceChecks(KitBase):
    """Walltime and memory enforcement; requests reaching the scheduler."""

    @requires(cap.WALLTIME)
    def test_walltime_enforced(self, kit: Kit) -> None:
        """A job running past its walltime is stopped and FAILED, with no exit code (the
        scheduler's kill signal is not the job's own exit) and a message starting with
        "walltime exceeded"."""
        spec, started, _ = kit.blocking_spec()
        spec.attributes.duration = timedelta(seconds=kit.options.walltime)
        job = kit.submit(spec)
        st = kit.wait(job)
        kit.settle()
        kit.check_history(job, FAILED)
        assert not Path(str(started) + ENDED_SUFFIX).exists(), \
            'the job ended on its own; the walltime was not enforced: %s' % st
        assert st.exit_code is None and (st.message or '').startswith('walltime exceeded'), \
            'a walltime kill must be FAILED with exit code None and a message starting with ' \
            '"walltime exceeded", not %s' % st

    @requires(cap.MEMORY_LIMITS)
    def test_memory_limit_enforced(self, kit: Kit) -> None:
        """A job using far more memory than it asked for is stopped and FAILED."""
        # tail keeps all of its input that has no newline: 1 GiB, held for 10 s (an enforcement
        # that samples, as Slurm's jobacct_gather does, sees it) unless tail is stopped first
        job = kit.submit(kit.sh_spec(
            '{ head -c 1073741824 /dev/zero; i=0; while [ $i -lt 50 ]; do sleep 0.2; '
            'printf 0 || exit 1; i=$((i + 1)); done; } | tail > /dev/null',
            resources=ResourceSpecV1(memory=64 * 1024 * 1024)))
        kit.wait(job)
        kit.settle()
        kit.check_history(job, FAILED)

    def test_attributes_reach_scheduler(self, kit: Kit) -> None:
        """Walltime, queue, account, reservation and custom attributes appear in the
        scheduler's view of the job (needs a scheduler_view hook)."""
        if kit.scheduler_view is None:
            pytest.skip('no scheduler_view hook: override KitBase.scheduler_view in a test '
                        'subclass or pass --psij-scheduler-view MODULE:FUNCTION')
        o = kit.options
        spec, _, release = kit.blocking_spec()
        spec.attributes.duration = timedelta(minutes=7)
        job = kit.submit(spec)
        kit.wait(job, ACTIVE)
        assert job.native_id is not None
        try:
            view = kit.scheduler_view(job.native_id)
        finally:
            release.touch()
        kit.wait(job)
        expected: Dict[str, str] = {'walltime': '420', 'node_count': '1'}
        if o.queue:
            expected['queue'] = o.queue
        if o.account:
            expected['account'] = o.account
        if o.reservation:
            expected['reservation'] = o.reservation
        expected.update(o.attr)
        got = {k: str(view[k]) for k in expected if k in view}
        bad = _diff({k: v for k, v in expected.items() if k in got}, got)
        assert not bad, '\n'.join(bad)
        # walltime and node_count are compared when the view shows them; what the site asked
        # for (queue, account, reservation, attributes) must be shown to be checked at all
        missing = sorted(k for k in set(expected) - set(got)
                         if k not in ('walltime', 'node_count'))
        if missing or not got:
            pytest.skip('the scheduler view does not show %s'
                        % ', '.join(missing or sorted(expected)))


# -- staging ------------------------------------------------------------------------------------

class StagingChecks(KitBase):
    """stage_in, stage_out (with flags) and cleanup."""

    @requires(cap.STAGING)
    def test_stage_in_out_and_cleanup(self, kit: Kit) -> None:
        """Files are staged in before the job, out after it, then cleaned up."""
        src, dst = kit.unique('source'), kit.unique('staged-out')
        src.write_bytes(b'staged \xc3\xa9\n')
        d = kit.unique('jobdir')
        d.mkdir()
        st = kit.run(kit.sh_spec('cat in.txt > out.txt && printf x > scratch.txt', directory=d,
                                 stage_in={StageIn(src, 'in.txt')},
                                 stage_out={StageOut('out.txt', dst)},
                                 cleanup={'scratch.txt'}))
        assert st.state is COMPLETED, st
        assert dst.read_bytes() == b'staged \xc3\xa9\n'
        assert not (d / 'scratch.txt').exists(), 'cleanup did not remove scratch.txt'

    @requires(cap.STAGING)
    def test_stage_out_flags(self, kit: Kit) -> None:
        """ON_SUCCESS files are not staged out of a failed job; ON_ERROR files are."""
        ok, err = kit.unique('on-success'), kit.unique('on-error')
        d = kit.unique('jobdir')
        d.mkdir()
        st = kit.run(kit.sh_spec('echo a > a.txt; echo b > b.txt; exit 3', directory=d,
                                 stage_out={StageOut('a.txt', ok, StageOutFlags.ON_SUCCESS),
                                            StageOut('b.txt', err, StageOutFlags.ON_ERROR)}))
        assert st.state is FAILED and st.exit_code == 3, st
        assert err.read_text() == 'b\n'
        assert not ok.exists()

    def test_unsupported_staging_is_refused(self, kit: Kit) -> None:
        """An executor that declares staging unsupported refuses a job that asks for it, at
        submit, with InvalidJobException naming the field: never runs it without its files."""
        if cap.STAGING not in kit.unsupported:
            pytest.skip('the executor stages files (checked by the other staging checks)')
        src, marker = kit.unique('source'), kit.unique('ran')
        src.write_text('in\n')
        job = Job(kit.sh_spec(': > "$1"', marker, stage_in={StageIn(src, 'in.txt')}))
        with pytest.raises(InvalidJobException) as ei:
            kit.executor.submit(job)
        assert 'stage_in' in str(ei.value), ei.value
        assert job.status.state is JobState.NEW
        kit.settle()
        assert not marker.exists(), 'the job ran without its files'

    @requires(cap.STAGING)
    def test_missing_stage_in_fails(self, kit: Kit) -> None:
        """A job whose stage-in source is missing fails without running."""
        marker = kit.unique('ran')
        st = kit.run(kit.sh_spec(': > "$1"', marker,
                                 stage_in={StageIn(kit.unique('missing'), 'in.txt')}))
        assert st.state is FAILED, st
        assert not marker.exists()


# -- bad specs and many jobs ----------------------------------------------------------------------

def _invalid(kit: Kit, case: str, marker: Path) -> Job:
    if case == 'no_spec':
        return Job()
    if case == 'no_executable':
        return Job(JobSpec(directory=kit.dir))
    spec = kit.sh_spec(': > "$1"', marker)
    if case == 'unknown_launcher':
        spec.launcher = 'psij-conformance-no-such-launcher'
    elif case == 'inconsistent_resources':
        r = ResourceSpecV1(node_count=2, processes_per_node=2)
        r.process_count = 3
        spec.resources = r
    return Job(spec)


class InvalidSpecChecks(KitBase):
    """Bad specs are rejected by submit() with InvalidJobException, before anything runs."""

    @pytest.mark.parametrize('case', ['no_spec', 'no_executable', 'unknown_launcher',
                                      'inconsistent_resources'])
    def test_invalid_spec_rejected(self, kit: Kit, case: str) -> None:
        """submit() raises InvalidJobException; the job stays NEW and nothing runs."""
        marker = kit.unique('ran')
        job = _invalid(kit, case, marker)
        with pytest.raises(InvalidJobException):
            kit.executor.submit(job)
        assert job.status.state is JobState.NEW, job.status
        kit.settle()
        assert not marker.exists(), 'the job ran although submit() rejected it'

    def test_resubmit_rejected(self, kit: Kit) -> None:
        """Submitting a job a second time raises InvalidJobException."""
        job = kit.submit(kit.sh_spec('exit 0'))
        with pytest.raises(InvalidJobException):
            kit.executor.submit(job)
        kit.wait(job)
        kit.settle()
        kit.check_history(job, COMPLETED)


class BulkChecks(KitBase):
    """Many jobs submitted at once."""

    def test_submit_many(self, kit: Kit) -> None:
        """``--psij-bulk`` (100) jobs at once all end with their own state and exit code."""
        codes = [(0, 1, 42)[i % 3] for i in range(kit.options.bulk)]
        jobs = [kit.submit(kit.sh_spec('exit %d' % c)) for c in codes]
        statuses = [kit.wait(j) for j in jobs]
        kit.settle()
        for j, c, st in zip(jobs, codes, statuses, strict=True):
            kit.check_history(j, COMPLETED if c == 0 else FAILED)
            assert st.exit_code == c, (j, st)

    def test_submit_many_api(self, kit: Kit) -> None:
        """``executor.submit_many``: each job keeps its own native id, arguments, environment,
        stdout, states and exit code; a job with a bad spec ends FAILED alone, with the
        exception in its status metadata (``submit_exception``)."""
        n = max(2, min(kit.options.bulk, 30))
        codes = [(0, 1, 42)[i % 3] for i in range(n)]
        outs = [kit.unique('many') for _ in codes]
        jobs = [Job(kit.sh_spec('printf "%s|%s" "$1" "$PSIJ_KIT_V"; exit "$2"',
                                AWKWARD['SUBSHELL'] + str(i), str(c), stdout_path=out,
                                environment={'PSIJ_KIT_V': AWKWARD['SINGLE_QUOTE'] + str(i)}))
                for i, (c, out) in enumerate(zip(codes, outs, strict=True))]
        bad = Job(JobSpec(directory=kit.dir))
        for j in jobs + [bad]:
            j.set_job_status_callback(kit.recorder.job_callback)
            kit.jobs.append(j)
        refused = kit.executor.submit_many(jobs[:n // 2] + [bad] + jobs[n // 2:])
        assert refused == [bad], refused
        assert bad.status.state is FAILED, bad.status
        assert isinstance((bad.status.metadata or {}).get('submit_exception'),
                          InvalidJobException), bad.status
        assert len({j.native_id for j in jobs}) == n and all(j.native_id for j in jobs)
        for i, (j, c, out) in enumerate(zip(jobs, codes, outs, strict=True)):
            st = kit.wait(j)
            assert st.exit_code == c, (j, st)
            assert out.read_text() == '%s%d|%s%d' % (AWKWARD['SUBSHELL'], i,
                                                     AWKWARD['SINGLE_QUOTE'], i)
        kit.settle()
        for j, c in zip(jobs, codes, strict=True):
            kit.check_history(j, COMPLETED if c == 0 else FAILED)


class ConformanceSuite(StateChecks, CallbackChecks, WaitChecks, ExitCodeChecks, CancelChecks,
                       AttachChecks, EnvironmentChecks, StdioChecks, DirectoryChecks,
                       LaunchChecks, ResourceChecks, StagingChecks, InvalidSpecChecks,
                       BulkChecks, HostileInputChecks, CrashChecks, DropInChecks,
                       SmokeChecks):
    """Every check of the kit. Subclass it in a test file, setting ``executor = 'NAME'``."""


__all__ = ['AttachChecks', 'BulkChecks', 'CallbackChecks', 'CancelChecks', 'ConformanceSuite',
           'DirectoryChecks', 'EnvironmentChecks', 'ExitCodeChecks', 'InvalidSpecChecks',
           'LaunchChecks', 'ResourceChecks', 'StagingChecks', 'StateChecks', 'StdioChecks',
           'WaitChecks']
