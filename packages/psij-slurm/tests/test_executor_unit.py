"""The Slurm executor without a cluster: directives, error classification, status mapping.

Scheduler commands are replaced by small scripts on ``PATH`` where a command must run.
"""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from psij import Job, JobAttributes, JobSpec, JobState, JobStatus, ResourceSpecV1
from psij.conformance.executor_test_helpers import check_native_id_forms
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import InvalidJobStateError
from psij_slurm import executor as executor_module
from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor, slurm_job_name
from psij_slurm.slurm_status import SlurmJobStatus

SAMPLES = Path(__file__).parent / 'samples'


@pytest.fixture
def ex(tmp_path: Path) -> SlurmJobExecutor:
    return SlurmJobExecutor(config=SlurmExecutorConfig(work_directory=tmp_path / 'work'))


def _directives(ex: SlurmJobExecutor, spec: JobSpec) -> List[str]:
    job = Job(spec)
    ex._check_job(job)
    ctx = ex._create_script_context(job)
    return ex.get_directives(job, ctx)


def _opts(lines: List[str]) -> Dict[str, str]:
    out = {}
    for line in lines:
        assert line.startswith('#SBATCH --'), line
        key, _, value = line[len('#SBATCH --'):].partition('=')
        out[key] = value
    return out


def test_every_field_maps_to_a_directive(ex: SlurmJobExecutor, tmp_path: Path) -> None:
    spec = JobSpec('/bin/true', name='my job\tname', directory=tmp_path,
                   resources=ResourceSpecV1(node_count=2, processes_per_node=3,
                                            cpu_cores_per_process=2, gpu_cores_per_process=1,
                                            exclusive_node_use=True, memory=3 * 2**30),
                   attributes=JobAttributes(duration=timedelta(days=1, hours=2, minutes=3,
                                                               seconds=4, milliseconds=1),
                                            queue_name='debug', account='acct',
                                            reservation_id='resv',
                                            custom_attributes={'slurm.qos': 'high',
                                                               'slurm.hold': True,
                                                               'slurm.requeue': False,
                                                               'pbs.foo': 'ignored'}))
    o = _opts(_directives(ex, spec))
    assert o['job-name'] == '"my_job_name"'
    assert o['chdir'] == '"%s"' % tmp_path
    # the script's output file, named with the submission's token (never an earlier job's)
    assert re.fullmatch(r'"%s/%%j\.[0-9a-f]{16}\.out"' % re.escape(str(tmp_path / 'work')),
                        o['output']), o['output']
    assert o['open-mode'] == '"append"'
    assert o['export'] == '"ALL"'
    assert o['nodes'] == '"2"'
    assert o['ntasks'] == '"6"'
    assert o['ntasks-per-node'] == '"3"'
    assert o['cpus-per-task'] == '"2"'
    assert o['gpus-per-task'] == '"1"'
    assert o['mem'] == '"%dK"' % (3 * 2**20 // 2)  # total for the job, per node
    assert o['exclusive'] == ''
    assert o['time'] == '"1-02:03:05"'  # rounded up, never less than asked
    assert o['partition'] == '"debug"'
    assert o['account'] == '"acct"'
    assert o['reservation'] == '"resv"'
    assert o['qos'] == '"high"'
    assert o['hold'] == ''
    assert 'requeue' not in o and 'foo' not in o


def test_defaults(ex: SlurmJobExecutor) -> None:
    o = _opts(_directives(ex, JobSpec('/bin/true', inherit_environment=False)))
    assert o['job-name'] == '"/bin/true"'
    assert o['export'] == '"NONE"'
    assert (o['nodes'], o['ntasks'], o['ntasks-per-node']) == ('"1"', '"1"', '"1"')
    assert o['time'] == '"0-00:10:00"'
    for k in ('chdir', 'cpus-per-task', 'gpus-per-task', 'mem', 'exclusive', 'partition',
              'account', 'reservation'):
        assert k not in o


def test_small_memory_is_never_zero(ex: SlurmJobExecutor) -> None:
    # --mem=0 would mean "all the memory of the node"
    o = _opts(_directives(ex, JobSpec('/bin/true', resources=ResourceSpecV1(memory=10))))
    assert o['mem'] == '"1K"'


def test_custom_attributes_come_last(ex: SlurmJobExecutor) -> None:
    lines = _directives(ex, JobSpec('/bin/true', attributes=JobAttributes(
        custom_attributes={'slurm.time': '5'})))
    assert lines[-1] == '#SBATCH --time="5"'


@pytest.mark.parametrize('attrs', [
    {'slurm.comment': 'a"b'}, {'slurm.comment': 'x\n#SBATCH --uid=0'}, {'slurm.comment': '$(id)'},
    {'slurm.comment': '-x'}, {'slurm.bad key': 'v'}, {'slurm.-x': 'v'},
])
def test_unsafe_custom_attributes_are_refused(ex: SlurmJobExecutor,
                                              attrs: Dict[str, object]) -> None:
    with pytest.raises(InvalidJobException):
        _directives(ex, JobSpec('/bin/true', attributes=JobAttributes(custom_attributes=attrs)))


def test_unsafe_queue_is_refused(ex: SlurmJobExecutor) -> None:
    with pytest.raises(InvalidJobException, match='queue_name'):
        _directives(ex, JobSpec('/bin/true', attributes=JobAttributes(queue_name='a"b')))


def test_directory_that_cannot_be_a_directive_is_left_to_the_script(
        ex: SlurmJobExecutor) -> None:
    job = Job(JobSpec('/bin/true', directory=Path('/tmp/we"ird $dir')))
    ex._check_job(job)
    buf = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job), buf)
    assert '--chdir' not in buf.getvalue()
    assert "cd -- '/tmp/we\"ird $dir'" in buf.getvalue()


@pytest.mark.parametrize('name,expected', [
    ('a b', 'a_b'), ('--x', 'x'), ('', 'psij'), ('name|pipe"q', 'name_pipe_q'),
    ('ok-1.2_x', 'ok-1.2_x'), ('é', '_'),
])
def test_job_name(name: str, expected: str) -> None:
    assert slurm_job_name(name) == expected


def test_script_has_no_blank_in_name_and_records_exit_code(ex: SlurmJobExecutor) -> None:
    job = Job(JobSpec('/bin/echo', ['a b'], name='x y'))
    ex._check_job(job)
    buf = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job), buf)
    text = buf.getvalue()
    assert text.startswith('#!/bin/bash\n#SBATCH --job-name="x_y"\n')
    assert '_psij_id="${SLURM_JOB_ID}"' in text
    assert 'export SLURM_EXPORT_ENV=ALL' in text


# -- the node file ----------------------------------------------------------------------------

@pytest.mark.parametrize('nodelist,hosts,tpn,expected', [
    ('n[1-2]', 'n1 n2', '2(x2)', ['n1', 'n1', 'n2', 'n2']),
    ('n[1-3]', 'n1 n2 n3', '2(x2),1', ['n1', 'n1', 'n2', 'n2', 'n3']),
    ('n1', 'n1', '3', ['n1', 'n1', 'n1']),
    ('a,b', 'a b', '1,2', ['a', 'b', 'b']),
])
def test_nodefile(ex: SlurmJobExecutor, tmp_path: Path, nodelist: str, hosts: str, tpn: str,
                  expected: List[str]) -> None:
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    _script(bindir / 'scontrol', '[ "$1 $2 $3" = "show hostnames %s" ] || exit 1\n'
            'for h in %s; do echo $h; done\n' % (nodelist, hosts))
    nf = tmp_path / 'nodes'
    code = '\n'.join(ex.nodefile_commands(Job(JobSpec('/bin/true'))))
    env = dict(os.environ, PATH='%s:%s' % (bindir, os.environ['PATH']), PSIJ_NODEFILE=str(nf),
               SLURM_JOB_NODELIST=nodelist, SLURM_TASKS_PER_NODE=tpn)
    subprocess.run(['bash', '-c', code], env=env, check=True)
    assert nf.read_text().splitlines() == expected


# -- submission -------------------------------------------------------------------------------

def _script(path: Path, body: str) -> None:
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / 'fakebin'
    d.mkdir()
    monkeypatch.setenv('PATH', '%s:%s' % (d, os.environ['PATH']))
    return d


def _sbatch_says(fake_bin: Path, out: str, err: str, code: int) -> None:
    _script(fake_bin / 'sbatch', 'printf "%%s" %s\nprintf "%%s\\n" %s >&2\nexit %d\n'
            % (_sh(out), _sh(err), code))


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


@pytest.mark.parametrize('msg', [
    'sbatch: error: Batch job submission failed: More processors requested than permitted',
    'sbatch: error: Batch job submission failed: Invalid partition name specified',
    'sbatch: error: Batch job submission failed: Invalid account or account/partition '
    'combination specified',
    'sbatch: error: Memory specification can not be satisfied\nsbatch: error: Batch job '
    'submission failed: Requested node configuration is not available',
    "sbatch: unrecognized option '--no-such-option=x'",
])
def test_rejected_request_is_invalid_job(ex: SlurmJobExecutor, fake_bin: Path, msg: str) -> None:
    _sbatch_says(fake_bin, '', msg, 1)
    job = Job(JobSpec('/bin/true'))
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert msg.splitlines()[-1] in str(ei.value)
    assert job.status.state is JobState.NEW and job.executor is None


@pytest.mark.parametrize('msg', [
    'sbatch: error: Batch job submission failed: Unable to contact slurm controller '
    '(connect failure)',
    'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation',
    'sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying',
])
def test_unreachable_controller_is_transient(ex: SlurmJobExecutor, fake_bin: Path,
                                             msg: str) -> None:
    _sbatch_says(fake_bin, '', msg, 1)
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert ei.value.transient
    assert msg in str(ei.value)


def test_other_errors_are_not_transient(ex: SlurmJobExecutor, fake_bin: Path) -> None:
    msg = 'sbatch: error: Batch job submission failed: Job violates accounting/QOS policy'
    _sbatch_says(fake_bin, '', msg, 1)
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert not isinstance(ei.value, InvalidJobException)
    assert not ei.value.transient and msg in str(ei.value)


def test_submit_output(ex: SlurmJobExecutor) -> None:
    assert ex.job_id_from_submit_output('123\n') == '123'
    with pytest.raises(SubmitException):
        ex.job_id_from_submit_output('Submitted batch job 5 (not parsable)\n')


def test_a_job_sent_to_a_named_cluster_is_refused_or_canceled(tmp_path: Path) -> None:
    # a job on another cluster of a multi-cluster Slurm would be followed without -M and
    # declared lost (or another job with its number canceled): refused, never half-followed
    d = tmp_path / 'bin'
    d.mkdir()
    log = tmp_path / 'scancel.log'
    (d / 'scancel').write_text('#!/bin/sh\necho "$@" >> %s\n' % log)
    (d / 'scancel').chmod(0o755)
    ex = SlurmJobExecutor(config=SlurmExecutorConfig(work_directory=tmp_path / 'w',
                                                     command_directory=d))
    with pytest.raises(SubmitException, match='cluster c2'):
        ex.job_id_from_submit_output('123;c2\n')
    assert log.read_text().split() == ['-M', 'c2', '123']
    for key in ('slurm.clusters', 'slurm.M'):
        job = Job(JobSpec('/bin/true', attributes=JobAttributes(custom_attributes={key: 'c2'})))
        with pytest.raises(InvalidJobException, match='multi-cluster'):
            _directives(ex, job.spec)


# -- status -----------------------------------------------------------------------------------

@pytest.mark.parametrize('state,reason,word', [
    ('OUT_OF_MEMORY', 'OutOfMemory', 'memory'),
    ('TIMEOUT', 'TimeLimit', 'time limit'),
    ('NODE_FAIL', 'NodeDown', 'node'),
    ('PREEMPTED', None, 'preempted'),
    ('BOOT_FAIL', None, 'boot'),
    ('DEADLINE', None, 'deadline'),
])
def test_scheduler_failures_name_their_cause(ex: SlurmJobExecutor, state: str,
                                             reason: str, word: str) -> None:
    out = '7|%s|%s|9|\n' % (state, reason or 'None')
    st = ex.parse_status_output(0, out)['7']
    assert st.state is JobState.FAILED
    assert st.message is not None and word in st.message.lower() and state in st.message
    # a walltime kill's signal is Slurm's, not the job's exit (see exit_codes.limit_exceeded)
    assert st.exit_code == (None if state == 'TIMEOUT' else 137)
    assert (st.metadata or {})['slurm_state'] == state


def test_oom_from_compact_state(ex: SlurmJobExecutor) -> None:
    st = ex.parse_status_output(0, '8|OOM|None|0|\n')['8']
    assert st.state is JobState.FAILED and 'memory' in (st.message or '')


def test_plain_nonzero_exit_has_no_scheduler_message(ex: SlurmJobExecutor) -> None:
    st = ex.parse_status_output(0, '20|FAILED|NonZeroExitCode|1792|\n')['20']
    assert st.state is JobState.FAILED and st.exit_code == 7 and st.message is None


def test_real_samples(ex: SlurmJobExecutor) -> None:
    def sample(name: str) -> Dict[str, JobStatus]:
        return ex.parse_status_output(0, (SAMPLES / 'ci' / name).read_text())

    sts = sample('squeue_-O_pending_cancelled_and_oomstep.out')
    assert sts['132'].state is JobState.CANCELED
    assert sts['131'].state is JobState.ACTIVE
    st = sample('squeue_-O_oomstep_done.out')['131']
    assert st.state is JobState.FAILED and st.exit_code == 137
    st = sample('squeue_-O_timeout.out')['130']
    assert st.state is JobState.FAILED and (st.message or '').startswith('walltime exceeded')
    assert 'time limit' in (st.message or '') and st.exit_code is None


def test_arrays_do_not_confuse_the_parser(ex: SlurmJobExecutor) -> None:
    out = ('9|PENDING|JobArrayTaskLimit|0|\n12|RUNNING|None|0|\n'
           '13|COMPLETED|None|0|\n14|FAILED|NonZeroExitCode|256|\n')
    sts = ex.parse_status_output(0, out)
    assert sts['9'].state is JobState.QUEUED
    assert sts['12'].state is JobState.ACTIVE
    assert sts['13'].state is JobState.COMPLETED
    assert sts['14'].exit_code == 1
    # a '%i' style answer (9_1, 9_[3-6%2]) never yields a bogus id either
    sts = ex.parse_status_output(0, '9_[3-6%2]|PENDING|JobArrayTaskLimit|0|\n'
                                    '9_1|RUNNING|None|0|\n')
    assert set(sts) <= {'9_[3-6%2]', '9_1'}


def test_jobs_sharing_an_answer_get_what_each_line_says(ex: SlurmJobExecutor,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # a long queue of held array elements: one "STATE|REASON|EXIT|" for thousands of ids,
    # read once per poll (issue 24: the parse was most of a poll's cost); the answer of a
    # line must still be its own, and a bad id among known answers still refused
    lines = ['%d_%d|PENDING|JobHeldUser|0|' % (40 + i // 5, i % 5) for i in range(20)]
    lines += ['7|FAILED|NonZeroExitCode|1792|', '8|PENDING|JobHeldUser|0|',
              '9|FAILED|NonZeroExitCode|256|', '10|RUNNING|None|0|']
    made: List[SlurmJobStatus] = []
    real = executor_module.slurm_to_job_status

    def counted(s: SlurmJobStatus) -> Optional[JobStatus]:
        made.append(s)
        return real(s)

    monkeypatch.setattr(executor_module, 'slurm_to_job_status', counted)
    sts = ex.parse_status_output(0, '\n'.join(lines) + '\n')
    assert len(sts) == 24
    assert len(made) == 4  # PENDING/JobHeldUser, two FAILED exits, RUNNING
    monkeypatch.undo()
    for line in lines:
        native_id = line.partition('|')[0]
        alone = ex.parse_status_output(0, line + '\n')[native_id]
        got = sts[native_id]
        assert (got.state, got.exit_code, got.message, got.metadata) == \
            (alone.state, alone.exit_code, alone.message, alone.metadata), line
    assert sts['7'].exit_code == 7 and sts['9'].exit_code == 1
    assert sts['40_0'].metadata == {'slurm_state': 'PENDING', 'slurm_reason': 'JobHeldUser'}
    with pytest.raises(RuntimeError, match='not a job record'):
        ex.parse_status_output(0, '5|PENDING|JobHeldUser|0|\n5x|PENDING|JobHeldUser|0|\n')


def test_status_command_failures(ex: SlurmJobExecutor) -> None:
    # a lone id Slurm forgot: absent, not an error
    assert ex.parse_status_output(1, 'slurm_load_jobs error: Invalid job id specified') == {}
    with pytest.raises(RuntimeError, match='Unable to contact'):
        ex.parse_status_output(1, 'slurm_load_jobs error: Unable to contact slurm controller '
                                  '(connect failure)')


def test_unknown_state_is_no_news(ex: SlurmJobExecutor) -> None:
    assert ex.parse_status_output(0, '5|SOMETHING_NEW|None|0|\n') == {}


def test_status_command_is_one_call(ex: SlurmJobExecutor) -> None:
    cmd = ex.get_status_command(['1', '2', '3'])
    assert cmd[0] == 'squeue' and '--jobs=1,2,3' in cmd and '--states=all' in cmd


def test_final_status_without_accounting_uses_jobcomp(ex: SlurmJobExecutor,
                                                      fake_bin: Path) -> None:
    log = fake_bin / 'calls'
    _script(fake_bin / 'sacct', 'echo "$*" >>%s\n'
            'case "$1" in -c) printf "5|FAILED|3:0\\n4|COMPLETED|0:0\\n6|RUNNING|0:0\\n'
            '7|TIMEOUT|0:0\\n";;\n'
            '*) echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1;; esac\n'
            % log)
    sts = ex.get_final_status(['4', '5', '6', '7', '99'])
    assert sts['4'].state is JobState.COMPLETED
    assert sts['5'].state is JobState.FAILED and sts['5'].exit_code == 3
    assert sts['7'].state is JobState.FAILED and 'time limit' in (sts['7'].message or '')
    assert '6' not in sts and '99' not in sts  # not final / unknown
    ex.get_final_status(['4'])
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ['-X', '-c', '-c']  # plain sacct asked once


def test_final_status_with_accounting(ex: SlurmJobExecutor, fake_bin: Path) -> None:
    _script(fake_bin / 'sacct', 'case "$1" in -c) exit 1;; esac\n'
            'printf "5|CANCELLED by 0|0:15\\n5.batch|CANCELLED|0:15\\n"\n')
    sts = ex.get_final_status(['5'])
    assert sts['5'].state is JobState.CANCELED


def test_final_status_when_nothing_works(ex: SlurmJobExecutor, fake_bin: Path) -> None:
    _script(fake_bin / 'sacct', 'exit 1\n')
    assert ex.get_final_status(['5']) == {}


# -- cancel and list --------------------------------------------------------------------------

def test_cancel_output(ex: SlurmJobExecutor) -> None:
    with pytest.raises(InvalidJobStateError):
        ex.process_cancel_command_output(1, 'scancel: error: Kill job error on job id 5: Job/step'
                                            ' already completing or completed')
    with pytest.raises(SubmitException) as ei:
        ex.process_cancel_command_output(8, 'scancel: error: Kill job error on job id 5: Unable '
                                            'to contact slurm controller (connect failure)')
    assert ei.value.transient
    assert ex.get_cancel_command('5') == ['scancel', '5']


def test_list_output(ex: SlurmJobExecutor) -> None:
    assert ex.parse_list_output('12|\n13|\n\n') == ['12', '13']
    assert '--Format=JobID:|' in ex.get_list_command()


def test_registered_by_name() -> None:
    from psij import JobExecutor

    ex = JobExecutor.get_instance('slurm')
    assert isinstance(ex, SlurmJobExecutor) and ex.name == 'slurm'
    from psij_slurm.slurm import SlurmJobExecutor as Alias

    assert Alias is SlurmJobExecutor


def test_slurm_status_tuple_signal_exit() -> None:
    from psij_slurm.executor import slurm_to_job_status

    st = slurm_to_job_status(SlurmJobStatus('FAILED', 'JobLaunchFailure', None, 9))
    assert st is not None and st.state is JobState.FAILED and st.exit_code == 137
    assert 'SIGKILL' in (st.message or '')


# -- running commands -------------------------------------------------------------------------

def test_run_command_output_and_exit_code() -> None:
    from psij_slurm.executor import run_command

    big = 200_000  # more than a pipe holds: both streams must be read while it runs
    res = run_command(['sh', '-c', 'head -c %d /dev/zero | tr "\\0" a; '
                       'head -c %d /dev/zero | tr "\\0" b >&2; echo ü; exit 3' % (big, big)],
                      60)
    assert res.returncode == 3
    assert res.stdout == 'a' * big + 'ü\n'
    assert res.stderr == 'b' * big


def test_run_command_timeout_kills() -> None:
    from psij_slurm.executor import run_command

    with pytest.raises(subprocess.TimeoutExpired):
        run_command(['sleep', '30'], 0.3)


def test_psij_python_import_path() -> None:
    from psij.executors.batch.slurm import SlurmExecutorConfig as C
    from psij.executors.batch.slurm import SlurmJobExecutor as E
    from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor
    assert (E, C) == (SlurmJobExecutor, SlurmExecutorConfig)


def test_50000_tracked_jobs_are_asked_about_in_chunks(tmp_path: Path) -> None:
    # one squeue argument holds every id: past ~16,000 ids it exceeds Linux's 128 KiB limit
    # per argument (E2BIG) and status would fail for good
    d = tmp_path / 'bin'
    d.mkdir()
    log = tmp_path / 'calls'
    squeue = d / 'squeue'
    squeue.write_text('#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "${#a}"; done >> %s\n'
                      'echo END >> %s\n' % (log, log))
    squeue.chmod(0o755)
    ex = SlurmJobExecutor(config=SlurmExecutorConfig(work_directory=tmp_path / 'w',
                                                     command_directory=d))
    ids = [str(10_000_000 + i) for i in range(50_000)]
    assert ex._query_status(ids) == {}
    calls = log.read_text().split('END\n')[:-1]
    assert len(calls) == 25
    longest = max(int(n) for c in calls for n in c.split())
    assert longest < 128 * 1024


def test_attach_refuses_what_is_no_job_id(ex: SlurmJobExecutor) -> None:
    """An id that is not one of this scheduler's never reaches a command (``-uroot`` would be
    an option of the cancel command; a malformed id would break the shared status command)."""
    check_native_id_forms(ex, good=['1234', '1234_7'],
                          bad=['abc', '1234_', '_7', '12.3', '1234;cluster', '1234_7_8'])
