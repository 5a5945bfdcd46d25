"""The sge executor without a cell: directives, values, errors, status, qacct and cancel
handling.

Where a command must run, the executor's command directory holds small scripts that replay
the real outputs in tests/samples/sge (stdout, stderr and exit code) and log their arguments.
"""

from __future__ import annotations

import io
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import List

import pytest
from psij import Job, JobAttributes, JobExecutor, JobSpec, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import check_native_id_forms
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import InvalidJobStateError
from psij.executors.batch.status_engine import StatusEngine
from psij_sge.executor import SGEExecutorConfig, SGEJobExecutor, sge_job_name
from psij_sge.job_book import JobBook
from sge_helpers import SAMPLES

S = SAMPLES / 'sge'


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _command(bin_dir: Path, name: str, out: str = '', err: str = '', code: int = 0,
             log: Path | None = None) -> None:
    path = bin_dir / name
    logline = 'echo "%s $*" >> %s\n' % (name, log) if log else ''
    path.write_text('#!/bin/sh\n%sprintf "%%s" %s\nprintf "%%s" %s >&2\nexit %d\n'
                    % (logline, _sh(out), _sh(err), code))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _qstat(bin_dir: Path, log: Path, xml: str, j: str = '', zombies: str = '') -> None:
    """A qstat answering -help, -xml, -j and -s z from the given texts."""
    path = bin_dir / 'qstat'
    path.write_text('#!/bin/sh\necho "qstat $*" >> %s\ncase "$*" in\n'
                    '  -help) printf "%%s" %s ;;\n'
                    '  -j*) printf "%%s" %s ;;\n'
                    '  "-s z"*) printf "%%s" %s ;;\n'
                    '  *) printf "%%s" %s ;;\nesac\n'
                    % (log, _sh((S / 'qstat_-help.out').read_text()), _sh(j), _sh(zombies),
                       _sh(xml)))
    path.chmod(0o755)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / 'calls.log'


@pytest.fixture
def bin_dir(tmp_path: Path, log: Path) -> Path:
    d = tmp_path / 'sgebin'
    d.mkdir()
    _qstat(d, log, (S / 'qstat_-xml.out').read_text())
    return d


def _private(ex: SGEJobExecutor) -> SGEJobExecutor:
    # jobs "submitted" to the fake commands must not stay in the process's shared status
    # engine, whose next poll would run these commands for the real cell's jobs
    ex._engine = StatusEngine('sge-unit-test')
    ex._book = JobBook()
    return ex


@pytest.fixture
def ex(tmp_path: Path, bin_dir: Path) -> SGEJobExecutor:
    SGEJobExecutor._checked_commands.clear()
    return _private(SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path / 'work',
                                                            command_directory=bin_dir)))


def _calls(log: Path) -> List[str]:
    return log.read_text().splitlines() if log.exists() else []


def _script(ex: SGEJobExecutor, spec: JobSpec) -> str:
    job = Job(spec)
    ex._check_job(job)
    f = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job), f)
    return f.getvalue()


def _directives(ex: SGEJobExecutor, spec: JobSpec) -> List[str]:
    return [line for line in _script(ex, spec).splitlines() if line.startswith('#$')]


def test_every_field_maps_to_a_directive(ex: SGEJobExecutor, tmp_path: Path) -> None:
    spec = JobSpec('/bin/true', name='my job/x:y@z*?', directory=tmp_path,
                   resources=ResourceSpecV1(node_count=2, processes_per_node=3,
                                            cpu_cores_per_process=2, gpu_cores_per_process=2,
                                            exclusive_node_use=True, memory=3 * 2**30 + 1),
                   attributes=JobAttributes(duration=timedelta(days=1, hours=2, minutes=3,
                                                               seconds=4, milliseconds=1),
                                            queue_name='all.q', account='acct',
                                            reservation_id='42',
                                            custom_attributes={'sge.P': 'proj',
                                                               'sge.R': True,
                                                               'sge.r': False,
                                                               'sge.hold_jid': '12,13',
                                                               'slurm.qos': 'ignored'}))
    slots = 2 * 3 * 2
    assert _directives(ex, spec) == [
        '#$ -N my_job_x_y_z__', '#$ -S /bin/bash', '#$ -j y', '#$ -o /dev/null',
        '#$ -pe mpi %d' % slots,
        '#$ -l h_vmem=%d,gpu=1,exclusive=true' % -(-(3 * 2**30 + 1) // slots),
        '#$ -l h_rt=26:03:05', '#$ -q all.q', '#$ -A acct', '#$ -ar 42', '#$ -P proj',
        '#$ -R', '#$ -hold_jid 12,13']
    job = Job(spec)
    assert ex.get_submit_command(job, Path('/w/s.job')) == [
        'qsub', '-terse', '-wd', str(tmp_path), '/w/s.job']


def test_directory_grid_engine_would_cut_is_reached_by_the_scripts_cd(
        ex: SGEJobExecutor) -> None:
    # qsub -wd cuts a path at a line break: such a job starts in the work directory
    for d in ('/tmp/a\n#$ -N x', '/tmp/caf\u00e9', '/tmp/a\rb'):
        job = Job(JobSpec('/bin/true', directory=d))
        assert ex.get_submit_command(job, Path('/s')) == [
            'qsub', '-terse', '-wd', str(ex.work_directory), '/s']
        script = ex.script_for(Job(JobSpec('/bin/true', directory=d)))
        assert not [ln for ln in script.splitlines() if ln.startswith('#$ -N x')]


def test_defaults(ex: SGEJobExecutor) -> None:
    d = _directives(ex, JobSpec('/bin/true'))
    assert d[1:] == ['#$ -S /bin/bash', '#$ -j y', '#$ -o /dev/null', '#$ -cwd',
                     '#$ -l h_rt=0:10:00']  # PSI/J's default duration, no PE for one slot
    assert ex.get_submit_command(Job(JobSpec('/bin/true')), Path('/s')) == [
        'qsub', '-terse', '/s']


@pytest.mark.parametrize('resources, pe', [
    (ResourceSpecV1(node_count=1, processes_per_node=4), '#$ -pe smp 4'),
    (ResourceSpecV1(process_count=3), '#$ -pe mpi 3'),
    (ResourceSpecV1(node_count=2, processes_per_node=1), '#$ -pe mpi 2'),
    (ResourceSpecV1(process_count=1, cpu_cores_per_process=4, node_count=1), '#$ -pe smp 4'),
])
def test_parallel_environment_by_shape(ex: SGEJobExecutor, resources: ResourceSpecV1,
                                       pe: str) -> None:
    d = _directives(ex, JobSpec('/bin/true', resources=resources))
    assert [x for x in d if ' -pe ' in x] == [pe]


def test_parallel_environment_configured(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    res = ResourceSpecV1(process_count=4)
    monkeypatch.setenv('PSIJ_SGE_PE', 'orte')
    ex = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path))
    assert '#$ -pe orte 4' in _directives(ex, JobSpec('/bin/true', resources=res))
    monkeypatch.delenv('PSIJ_SGE_PE')
    ex = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path,
                                                 mpi_parallel_environment='mpich'))
    assert '#$ -pe mpich 4' in _directives(ex, JobSpec('/bin/true', resources=res))
    attrs = JobAttributes(custom_attributes={'sge.pe': 'fill'})
    d = _directives(ex, JobSpec('/bin/true', resources=res, attributes=attrs))
    assert [x for x in d if ' -pe ' in x] == ['#$ -pe fill 4']
    with pytest.raises(ValueError):
        SGEExecutorConfig(parallel_environment='a b')


def test_memory_resources_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_SGE_MEMORY_RESOURCES', 'mem_free, h_vmem')
    ex = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path))
    res = ResourceSpecV1(process_count=2, memory=2**30)
    d = _directives(ex, JobSpec('/bin/true', resources=res))
    assert '#$ -l mem_free=536870912,h_vmem=536870912' in d
    ex = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path, memory_resources=()))
    assert not [x for x in _directives(ex, JobSpec('/bin/true', resources=res))
                if 'mem' in x]


def test_own_output_options_replace_the_defaults(ex: SGEJobExecutor) -> None:
    attrs = JobAttributes(custom_attributes={'sge.o': '/tmp/sge.out'})
    d = _directives(ex, JobSpec('/bin/true', attributes=attrs))
    assert '#$ -o /tmp/sge.out' in d and '#$ -o /dev/null' not in d and '#$ -j y' not in d


@pytest.mark.parametrize('field, attrs', [
    ('queue_name', JobAttributes(queue_name='all.q -l x=y')),
    ('queue_name', JobAttributes(queue_name='all.q\n#$ -l x')),
    ('account', JobAttributes(account='-Afoo')),
    ('account', JobAttributes(account='a"b')),
    ('account', JobAttributes(account="a'b")),
    ('account', JobAttributes(account='$(reboot)')),
    ('reservation_id', JobAttributes(reservation_id='1 2')),
    ("sge.P", JobAttributes(custom_attributes={'sge.P': 'x y'})),
    ("sge.l", JobAttributes(custom_attributes={'sge.l': 'a\rb'})),
    ("sge.pe", JobAttributes(custom_attributes={'sge.pe': 'smp 99'})),
    ("sge.bad key", JobAttributes(custom_attributes={'sge.bad key': 'v'})),
    ("sge.1", JobAttributes(custom_attributes={'sge.1': 'v'})),
])
def test_unsafe_values_are_refused_naming_the_field(ex: SGEJobExecutor, field: str,
                                                    attrs: JobAttributes) -> None:
    with pytest.raises(InvalidJobException) as ei:
        _directives(ex, JobSpec('/bin/true', attributes=attrs))
    assert field in str(ei.value)


@pytest.mark.parametrize('name, expected', [
    ('hello', 'hello'), ('a b\tc', 'a_b_c'), ('1job', 'psij-1job'),
    ('a/b:c@d\\e*f?g', 'a_b_c_d_e_f_g'),
    ('-N x', 'psij--N_x'), ('#$ -l', '___-l'), ('', 'psij'), ('ünï', '_n_'),
    ('x' * 300, 'x' * 200),
])
def test_job_name(name: str, expected: str) -> None:
    assert sge_job_name(name) == expected


def test_inherited_environment_is_written_into_the_script(
        ex: SGEJobExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_T_INHERITED', "it's $(not) `run` ${HOME}\nline2")
    monkeypatch.setenv('PE_HOSTFILE', 'from-the-submitter')
    script = _script(ex, JobSpec('/bin/true', environment={'PSIJ_T_OWN': 'x'}))
    # the line break in double quotes: the next line of the script starts with '"'
    assert "export PSIJ_T_INHERITED='it'\"'\"'s $(not) `run` ${HOME}'\"\n\"line2" in script
    assert 'from-the-submitter' not in script
    assert script.index('PSIJ_T_INHERITED') < script.index('PSIJ_T_OWN')  # the spec wins
    assert '#$ -V' not in script
    assert 'PSIJ_T_INHERITED' not in _script(ex, JobSpec('/bin/true',
                                                         inherit_environment=False))


def test_nodefile_from_pe_hostfile(ex: SGEJobExecutor, tmp_path: Path) -> None:
    import subprocess
    res = ResourceSpecV1(process_count=3, cpu_cores_per_process=2)
    lines = ex.nodefile_commands(Job(JobSpec('/bin/true', resources=res)))
    hostfile = tmp_path / 'pe_hostfile'
    hostfile.write_text('vm 4 all.q@vm UNDEFINED\nnode2 2 all.q@node2 UNDEFINED\n')
    out = tmp_path / 'nodes'
    subprocess.run(['/bin/sh', '-c', '\n'.join(lines)], check=True, env=dict(
        os.environ, PE_HOSTFILE=str(hostfile), PSIJ_NODEFILE=str(out)))
    assert out.read_text().split() == ['vm', 'vm', 'node2']
    lines = ex.nodefile_commands(Job(JobSpec('/bin/true')))
    sample = S / 'job_output_mpi.txt'
    subprocess.run(['/bin/sh', '-c', '\n'.join(lines)], check=True, env=dict(
        os.environ, PE_HOSTFILE=str(sample), PSIJ_NODEFILE=str(out)))
    assert out.read_text().split() == ['vm', 'vm']


def test_submit_output(ex: SGEJobExecutor) -> None:
    assert ex.job_id_from_submit_output((S / 'qsub_-terse.out').read_text()) == '8'
    assert ex.job_id_from_submit_output((S / 'qsub_script.out').read_text()) == '7'
    assert ex.job_id_from_submit_output('15.1-3:1\n') == '15'
    for other in ('12.vm\n', 'Submitted batch job 12\n', ''):
        with pytest.raises(SubmitException, match='not a Grid Engine job id'):
            ex.job_id_from_submit_output(other)


@pytest.mark.parametrize('sample', ['qsub_bad_queue.err', 'qsub_bad_pe.err'])
def test_rejected_request_is_invalid_job(ex: SGEJobExecutor, bin_dir: Path,
                                         sample: str) -> None:
    err = (S / sample).read_text()
    _command(bin_dir, 'qsub', err=err, code=1)
    job = Job(JobSpec('/bin/true'))
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert 'Unable to run job' in str(ei.value)
    assert job.status.state is JobState.NEW and job.executor is None


def test_unreachable_master_is_transient(ex: SGEJobExecutor, bin_dir: Path) -> None:
    err = ('error: commlib error: got select error (Connection refused)\n'
           'Unable to run job: unable to send message to qmaster using port 6444 on host '
           '"vm": got send error\nExiting.\n')
    _command(bin_dir, 'qsub', err=err, code=1)
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert ei.value.transient and not isinstance(ei.value, InvalidJobException)


@pytest.mark.parametrize('banner, ok', [
    ((S / 'qstat_-help.out').read_text(), True),
    ((S / 'openpbs_qstat_-help.err').read_text(), False),
    ('pbs_version = 23.06.06\n', False),
    ('', False),
])
def test_another_schedulers_qstat_is_named(tmp_path: Path, banner: str, ok: bool) -> None:
    d = tmp_path / 'otherbin'
    d.mkdir()
    _command(d, 'qstat', err=banner, code=0 if ok else 2)
    _command(d, 'qsub', '12\n')
    _command(d, 'qdel')
    SGEJobExecutor._checked_commands.clear()
    ex = _private(SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path / 'w',
                                                          command_directory=d)))
    job = Job(JobSpec('/bin/true'))
    if ok:
        ex.submit(job)
        assert job.native_id == '12'
        ex.cancel(job)
        return
    with pytest.raises(SubmitException) as ei:
        ex.submit(job)
    assert str(d / 'qstat') in str(ei.value) and 'PSIJ_SGE_COMMAND_DIR' in str(ei.value)


def test_command_directory_from_the_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_SGE_COMMAND_DIR', '/var/lib/gridengine/bin/lx-amd64')
    ex = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path))
    assert ex.command_path('qsub') == '/var/lib/gridengine/bin/lx-amd64/qsub'
    assert ex.get_status_command(['1'])[:2] == ['qstat', '-xml']


def test_status_is_one_qstat_for_many_jobs(ex: SGEJobExecutor, bin_dir: Path,
                                           log: Path) -> None:
    _command(bin_dir, 'qacct', err=(S / 'qacct_-j_unknown.err').read_text(), code=1, log=log)
    got = ex._query_status(['9', '10', '12', '14', '11'])
    assert {k: v.state for k, v in got.items()} == {
        '9': JobState.ACTIVE, '10': JobState.ACTIVE, '12': JobState.QUEUED,
        '14': JobState.QUEUED, '11': JobState.QUEUED}
    assert len(_calls(log)) == 1 and _calls(log)[0].startswith('qstat -xml -u ')
    assert set(ex._query_status(['9'])) == {'9'}  # other jobs of the user are not reported


def test_jobs_gone_from_qstat_are_looked_up_in_the_same_cycle(
        ex: SGEJobExecutor, bin_dir: Path, log: Path) -> None:
    text = ''.join((S / n).read_text() for n in ('qacct_-j_ok.out', 'qacct_-j_deleted.out',
                                                   'qacct_-j_h_rt.out'))
    # job 10 of the h_rt sample is still running in qstat_-xml.out: call the record 20's
    text = text.replace('jobnumber    10 ', 'jobnumber    20 ')
    _command(bin_dir, 'qacct', text, log=log)
    (ex.work_directory).mkdir(parents=True)
    (ex.work_directory / '7.ec').write_text('0\n')  # recorded its exit code: no qacct
    for nid in ('7', '20', '13'):
        ex._book.submitted(nid, 1796169837.0, None)
    ex._book.canceled('13')  # deleted before it started: no record
    ex._book.listed(['77'])  # attached, seen in qstat by an earlier poll
    got = ex._query_status(['9', '7', '20', '13', '77'])
    # 77: in neither qstat nor qacct yet: kept as it is (QUEUED never moves a job) meanwhile
    assert {k: v.state for k, v in got.items()} == {
        '9': JobState.ACTIVE, '20': JobState.FAILED, '13': JobState.CANCELED,
        '77': JobState.QUEUED}
    assert (got['20'].message or '').startswith('walltime exceeded')
    calls = _calls(log)
    assert len(calls) == 3 and calls[0].startswith('qstat -xml')
    # one batched query for the jobs submitted here; one for 77 (attached: no submit time)
    assert calls[1].startswith('qacct -o ') and calls[1].endswith(' -j *')
    assert calls[2] == 'qacct -j 77'


def test_error_state_is_failed_with_reason_and_deleted(ex: SGEJobExecutor, bin_dir: Path,
                                                       log: Path) -> None:
    eqw = (S / 'qstat_-xml_Eqw.out').read_text()
    reason = (S / 'qstat_-j_Eqw.out').read_text().replace('job_number:                 12',
                                                           'job_number:                 17')
    _qstat(bin_dir, log, eqw, j=reason)
    _command(bin_dir, 'qdel', (S / 'qdel_Eqw.out').read_text(), log=log)
    st = ex._query_status(['17'])['17']
    assert st.state is JobState.FAILED
    assert st.message is not None and "can't chdir to /nonexistent/dir" in st.message
    calls = _calls(log)
    assert calls[1:] == ['qstat -j 17', 'qdel 17']


@pytest.mark.parametrize('code, out, err', [
    (1, '', 'error: commlib error: got select error (Connection refused)\nerror: unable to '
     'send message to qmaster using port 6444 on host "vm": got send error\n'),
    (0, "<?xml version='1.0'?>\n<job_info><queue_info><job_list>", ''),
    (0, (S / 'qstat.out').read_text(), ''),
    (0, 'pbs_version = 23.06.06', ''),
])
def test_status_command_failures_are_retried_not_news(ex: SGEJobExecutor, code: int, out: str,
                                                      err: str) -> None:
    with pytest.raises(RuntimeError):
        ex.parse_status_result(code, out, err)


def test_final_status_is_one_batched_qacct(ex: SGEJobExecutor, bin_dir: Path,
                                           log: Path) -> None:
    text = ''.join((S / n).read_text() for n in ('qacct_-j_ok.out', 'qacct_-j_failed.out',
                                                   'qacct_-j_deleted.out', 'qacct_-j_h_rt.out'))
    _command(bin_dir, 'qacct', text, log=log)
    for nid in ('7', '8', '9', '10'):
        ex._book.submitted(nid, 1796169837.0, None)
    ex._book.canceled('9')  # its qdel was sent here: the kill in its record is the cancel
    got = ex.get_final_status(['7', '8', '9', '10'])
    assert {k: (v.state, v.exit_code) for k, v in got.items()} == {
        '7': (JobState.COMPLETED, 0), '8': (JobState.FAILED, 3),
        '9': (JobState.CANCELED, 137), '10': (JobState.FAILED, None)}
    calls = _calls(log)
    assert len(calls) == 1
    words = calls[0].split()
    assert words[:3] == ['qacct', '-o', words[2]] and words[3] == '-b' and words[-2:] == [
        '-j', '*']
    assert words[4].startswith('20')  # [[CC]YY]MMDDhhmm[.SS]


def test_final_status_of_one_job_is_qacct_j(ex: SGEJobExecutor, bin_dir: Path,
                                            log: Path) -> None:
    _command(bin_dir, 'qacct', (S / 'qacct_-j_h_rt.out').read_text(), log=log)
    st = ex.get_final_status(['10'])['10']
    assert st.state is JobState.FAILED and (st.message or '').startswith('walltime exceeded')
    assert _calls(log) == ['qacct -j 10']


def test_final_status_retries_while_the_record_is_not_written(
        ex: SGEJobExecutor, bin_dir: Path, log: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import psij_sge.executor as mod
    monkeypatch.setattr(mod, 'ACCT_RETRY_DELAY', 0.01)
    # the first query finds nothing (exit 1, "not found"), the second the record
    flag = tmp_path / 'second'
    (bin_dir / 'qacct').write_text(
        '#!/bin/sh\necho "qacct $*" >> %s\nif [ -e %s ]; then printf "%%s" %s; exit 0; fi\n'
        ': > %s\nprintf "%%s" %s >&2\nexit 1\n'
        % (log, flag, _sh((S / 'qacct_-j_failed.out').read_text()), flag,
           _sh((S / 'qacct_-j_unknown.err').read_text())))
    (bin_dir / 'qacct').chmod(0o755)
    st = ex.get_final_status(['8'])['8']
    assert (st.state, st.exit_code) == (JobState.FAILED, 3)
    assert _calls(log) == ['qacct -j 8', 'qacct -j 8']


def test_a_job_deleted_before_it_started_is_canceled(ex: SGEJobExecutor, bin_dir: Path,
                                                     log: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import psij_sge.executor as mod
    monkeypatch.setattr(mod, 'ACCT_RETRY_DELAY', 0.01)
    _command(bin_dir, 'qacct', err=(S / 'qacct_-j_held_deleted.err').read_text(), code=1,
             log=log)
    _qstat(bin_dir, log, (S / 'qstat_-xml.out').read_text(),
           zombies=(S / 'qstat_-s_z_-xml.out').read_text().replace(
               '<JB_job_number>13<', '<JB_job_number>11<'))
    got = ex.get_final_status(['11', '99'])
    assert list(got) == ['11'] and got['11'].state is JobState.CANCELED
    assert len([c for c in _calls(log) if c.startswith('qacct')]) == 2 * mod.ACCT_RETRIES


def test_qacct_that_cannot_run_is_retried_later(ex: SGEJobExecutor, bin_dir: Path) -> None:
    _command(bin_dir, 'qacct', err='error: unable to open accounting file\n', code=1)
    with pytest.raises(RuntimeError, match='accounting'):
        ex.get_final_status(['7'])


@pytest.mark.parametrize('sample, done', [
    ('qdel_unknown.out', True), ('qdel_again.out', True), (None, False)])
def test_cancel_output(ex: SGEJobExecutor, sample: str | None, done: bool) -> None:
    out = (S / sample).read_text() if sample else 'error: commlib error: got select error'
    if done:
        with pytest.raises(InvalidJobStateError):
            ex.process_cancel_command_output(1, out)
    else:
        with pytest.raises(SubmitException) as ei:
            ex.process_cancel_command_output(1, out)
        assert ei.value.transient


def test_list_output(ex: SGEJobExecutor) -> None:
    assert ex.get_list_command()[:3] == ['qstat', '-xml', '-u']
    assert ex.parse_list_output((S / 'qstat_-xml.out').read_text()) == [
        '9', '10', '12', '14', '11']
    with pytest.raises(SubmitException):
        ex.parse_list_output((S / 'qstat.out').read_text())


def test_registered_by_name_and_alias() -> None:
    for name in ('sge', 'gridengine'):
        assert isinstance(JobExecutor.get_instance(name), SGEJobExecutor)


def test_work_directory_is_private(ex: SGEJobExecutor, bin_dir: Path) -> None:
    _command(bin_dir, 'qsub', '7\n')
    _command(bin_dir, 'qdel')
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    mode = os.stat(ex.work_directory).st_mode
    assert stat.S_IMODE(mode) == 0o700
    ex.cancel(job)


def test_a_running_job_near_its_time_limit_is_polled_soon(
        ex: SGEJobExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    delays: List[float] = []
    monkeypatch.setattr(ex._engine, 'request_poll', delays.append)
    ex._book.submitted('9', 0.0, 5.0)  # running in qstat_-xml.out, h_rt 5 s
    ex._book.submitted('14', 0.0, 5.0)  # pending: its limit does not run yet
    ex._query_status(['9', '14'])
    assert len(delays) == 1 and 5.0 < delays[0] <= 6.0
    ex._book.submitted('9', 0.0, 3600.0)
    delays.clear()
    ex._query_status(['9', '14'])  # far from any limit: the polling interval decides
    assert delays == []


def test_book_is_shared_by_instances_and_forgets_ended_jobs(tmp_path: Path) -> None:
    a = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path))
    b = SGEJobExecutor(config=SGEExecutorConfig(work_directory=tmp_path))
    assert a._book is b._book
    book = JobBook()
    book.submitted('1', 10.0, None)
    book.deleting('2')
    assert book.was_deleted('2') and not book.was_deleted('1')
    assert book.submit_times(['1', '2', '3']) == {'1': 10.0}
    book.forget(['1', '2'])
    assert book.known() == set()


def test_a_job_without_accounting_record_is_missing_only_after_the_delay(
        tmp_path: Path, bin_dir: Path, log: Path) -> None:
    ex = _private(SGEJobExecutor(config=SGEExecutorConfig(
        work_directory=tmp_path / 'work', command_directory=bin_dir, accounting_delay=0.2)))
    _command(bin_dir, 'qacct', err=(S / 'qacct_-j_unknown.err').read_text(), code=1)
    ex._book.listed(['77'])  # seen in qstat by an earlier poll
    assert set(ex._query_status(['9', '77'])) == {'9', '77'}
    import time
    time.sleep(0.3)
    assert set(ex._query_status(['9', '77'])) == {'9'}  # the engine counts it missing now


def test_a_transferring_job_that_started_is_active(ex: SGEJobExecutor) -> None:
    ex.work_directory.mkdir(parents=True)
    assert ex._query_status(['12'])['12'].state is JobState.QUEUED  # 't' in qstat_-xml.out
    (ex.work_directory / '12.active').write_text('')
    assert ex._query_status(['12'])['12'].state is JobState.ACTIVE


def test_a_queued_job_deleted_from_outside_is_canceled_without_waiting(
        ex: SGEJobExecutor, bin_dir: Path, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psij_sge.executor as mod
    monkeypatch.setattr(mod, 'NEVER_RAN_GRACE', 0.0)
    _command(bin_dir, 'qacct', err=(S / 'qacct_-j_held_deleted.err').read_text(), code=1)
    _qstat(bin_dir, log, (S / 'qstat_-xml_Eqw.out').read_text().replace('Eqw', 'qw'),
           zombies=(S / 'qstat_-s_z_-xml.out').read_text().replace(
               '<JB_job_number>13<', '<JB_job_number>11<'))
    ex.work_directory.mkdir(parents=True)
    (ex.work_directory / '5.active').write_text('')
    ex._book.listed(['5'])  # seen in qstat by an earlier poll
    got = ex._query_status(['17', '11', '5'])
    assert got['17'].state is JobState.QUEUED
    assert got['11'].state is JobState.CANCELED  # never ran, no record, a zombie
    assert got['5'].state is JobState.QUEUED  # a zombie too, but it ran: await its record


def test_a_job_never_seen_gets_no_placeholder(ex: SGEJobExecutor, bin_dir: Path) -> None:
    """An id this process neither submitted nor saw in qstat (attach) is not kept QUEUED
    while "awaiting its accounting record": the caller decides (attach refuses it)."""
    _command(bin_dir, 'qacct', err=(S / 'qacct_-j_unknown.err').read_text(), code=1)
    assert set(ex._query_status(['9', '77'])) == {'9'}


def test_attach_refuses_what_is_no_job_id(ex: SGEJobExecutor) -> None:
    """An id that is not one of this scheduler's never reaches a command (``-uroot`` would be
    an option of the cancel command; a malformed id would break the shared status command)."""
    check_native_id_forms(ex, good=['12', '12345', '12.3'],
                          bad=['abc', '12.', '.3', '12.1-3:1', '12;x'])
