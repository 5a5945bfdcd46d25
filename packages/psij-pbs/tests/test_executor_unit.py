"""The PBS executors without a server: directives, values, errors, status and cancel handling.

Where a command must run, the executor's command directory holds small scripts that replay
the real outputs in tests/samples (stdout, stderr and exit code).
"""

from __future__ import annotations

import io
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import List, Optional

import pytest
from pbs_helpers import SAMPLES
from psij import Job, JobAttributes, JobExecutor, JobSpec, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import check_native_id_forms
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import InvalidJobStateError
from psij_pbs.classic import PBSClassicExecutorConfig, PBSClassicJobExecutor
from psij_pbs.executor import PBSExecutorConfig, PBSJobExecutor, pbs_job_name

REAL = SAMPLES / 'pbspro-real'


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _command(bin_dir: Path, name: str, out: str = '', err: str = '', code: int = 0) -> None:
    path = bin_dir / name
    path.write_text('#!/bin/sh\nprintf "%%s" %s\nprintf "%%s" %s >&2\nexit %d\n'
                    % (_sh(out), _sh(err), code))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _qstat(bin_dir: Path, version: str) -> None:
    """A qstat answering ``--version`` with `version`, and any job query as for unknown ids
    (so that jobs the tests submit end, FAILED, instead of being followed forever)."""
    unknown = REAL / 'qstat_-x_-f_-F_json_unknown'
    path = bin_dir / 'qstat'
    path.write_text('#!/bin/sh\nif [ "$1" = --version ]; then printf "%%s" %s; exit 0; fi\n'
                    'cat %s; cat %s >&2; exit 153\n'
                    % (_sh(version), _sh(str(unknown) + '.out'), _sh(str(unknown) + '.err')))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    d = tmp_path / 'pbsbin'
    d.mkdir()
    _qstat(d, (REAL / 'qsub_--version.out').read_text())
    return d


@pytest.fixture
def ex(tmp_path: Path, bin_dir: Path) -> PBSJobExecutor:
    PBSJobExecutor._checked_commands.clear()
    return PBSJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path / 'work',
                                                   command_directory=bin_dir))


@pytest.fixture
def torque(tmp_path: Path, bin_dir: Path) -> PBSClassicJobExecutor:
    return PBSClassicJobExecutor(config=PBSClassicExecutorConfig(
        work_directory=tmp_path / 'work', command_directory=bin_dir))


def _script(ex: JobExecutor, spec: JobSpec) -> str:
    assert isinstance(ex, (PBSJobExecutor, PBSClassicJobExecutor))
    job = Job(spec)
    ex._check_job(job)
    f = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job), f)
    return f.getvalue()


def _directives(ex: JobExecutor, spec: JobSpec) -> List[str]:
    return [line for line in _script(ex, spec).splitlines() if line.startswith('#PBS')]


def test_every_field_maps_to_a_directive(ex: PBSJobExecutor, tmp_path: Path) -> None:
    spec = JobSpec('/bin/true', name='my job\tname', directory=tmp_path,
                   resources=ResourceSpecV1(node_count=2, processes_per_node=3,
                                            cpu_cores_per_process=2, gpu_cores_per_process=1,
                                            exclusive_node_use=True, memory=3 * 2**30),
                   attributes=JobAttributes(duration=timedelta(days=1, hours=2, minutes=3,
                                                               seconds=4, milliseconds=1),
                                            queue_name='workq', account='acct',
                                            custom_attributes={'pbs.P': 'proj',
                                                               'pbs.h': True,
                                                               'pbs.r': False,
                                                               'pbs.filesystems': 'home:eagle',
                                                               'slurm.qos': 'ignored'}))
    assert _directives(ex, spec) == [
        '#PBS -N my_job_name', '#PBS -j oe', '#PBS -o /dev/null',
        '#PBS -l select=2:ncpus=6:mpiprocs=3:ngpus=3:mem=1572864kb',
        '#PBS -l place=scatter:excl', '#PBS -l walltime=26:03:05', '#PBS -q workq',
        '#PBS -A acct', '#PBS -P proj', '#PBS -h', '#PBS -l filesystems=home:eagle']
    script = _script(ex, spec)
    assert 'cd -- %s ||' % tmp_path in script
    assert 'PBS_O_WORKDIR' not in script  # the job's own directory wins


def test_defaults(ex: PBSJobExecutor) -> None:
    d = _directives(ex, JobSpec('/bin/true'))
    assert '#PBS -l select=1:ncpus=1:mpiprocs=1' in d
    assert '#PBS -l walltime=0:10:00' in d  # PSI/J's default duration
    assert not [x for x in d if 'place=' in x or ' -q ' in x or ' -A ' in x]
    script = _script(ex, JobSpec('/bin/true'))
    assert 'cd -- "$PBS_O_WORKDIR"' in script  # PBS starts jobs in $HOME


def test_place_can_be_vscatter(tmp_path: Path, bin_dir: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_PBS_PLACE', 'vscatter')
    ex = PBSJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path))
    d = _directives(ex, JobSpec('/bin/true', resources=ResourceSpecV1(node_count=2)))
    assert '#PBS -l place=vscatter' in d
    with pytest.raises(ValueError):
        PBSExecutorConfig(place='everywhere')


def test_reservation_is_its_queue(ex: PBSJobExecutor) -> None:
    attrs = JobAttributes(reservation_id='R123.server')
    assert '#PBS -q R123' in _directives(ex, JobSpec('/bin/true', attributes=attrs))
    attrs = JobAttributes(reservation_id='R123.server', queue_name='workq')
    with pytest.raises(InvalidJobException, match='reservation'):
        _directives(ex, JobSpec('/bin/true', attributes=attrs))
    # a site's reservation named otherwise (a plain name, a hex token: valid PBS queue
    # names) is its own queue too
    for name, queue in (('R123.server', 'R123'), ('maint_window', 'maint_window'),
                        ('5f3a9c', '5f3a9c'), ('9R.x', '9R'), ('resv-7', 'resv-7')):
        attrs = JobAttributes(reservation_id=name)
        assert '#PBS -q %s' % queue in _directives(ex, JobSpec('/bin/true', attributes=attrs))
    # its queue part must be a safe word: '.x' would give an empty -q, '*.x' a queue '*',
    # '-x' an option
    for bad in ('.x', '*.x', '%j.server', '-W.x', 'a b', 'r;x'):
        with pytest.raises(InvalidJobException, match='reservation_id'):
            _directives(ex, JobSpec('/bin/true', attributes=JobAttributes(reservation_id=bad)))


@pytest.mark.parametrize('field, attrs', [
    ('queue_name', JobAttributes(queue_name='workq -W x=y')),
    ('queue_name', JobAttributes(queue_name='workq\n#PBS -W x')),
    ('account', JobAttributes(account='-Wfoo')),
    ('account', JobAttributes(account='a"b')),
    ('account', JobAttributes(account='$(reboot)')),
    ("pbs.P", JobAttributes(custom_attributes={'pbs.P': 'x y'})),
    ("pbs.W", JobAttributes(custom_attributes={'pbs.W': 'a\rb'})),
    ("pbs.bad key", JobAttributes(custom_attributes={'pbs.bad key': 'v'})),
    ("pbs.1", JobAttributes(custom_attributes={'pbs.1': 'v'})),
])
def test_unsafe_values_are_refused_naming_the_field(ex: PBSJobExecutor, field: str,
                                                    attrs: JobAttributes) -> None:
    with pytest.raises(InvalidJobException) as ei:
        _directives(ex, JobSpec('/bin/true', attributes=attrs))
    assert field in str(ei.value)


@pytest.mark.parametrize('name, expected', [
    ('hello', 'hello'), ('a b\tc', 'a_b_c'), ('-N x', 'N_x'), ('#PBS -W', 'PBS_-W'),
    ('', 'psij'), ('ünï', 'n_'), ('___', 'psij'), ('x' * 300, 'x' * 200),
])
def test_job_name(name: str, expected: str) -> None:
    assert pbs_job_name(name) == expected


def test_inherited_environment_is_written_into_the_script(
        ex: PBSJobExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_T_INHERITED', "it's $(not) `run` ${HOME}\nline2")
    monkeypatch.setenv('PBS_JOBID', 'from-the-submitter')
    script = _script(ex, JobSpec('/bin/true', environment={'PSIJ_T_OWN': 'x'}))
    # the line break in double quotes: the next line of the script starts with '"'
    assert "export PSIJ_T_INHERITED='it'\"'\"'s $(not) `run` ${HOME}'\"\n\"line2" in script
    assert 'from-the-submitter' not in script
    assert script.index('PSIJ_T_INHERITED') < script.index('PSIJ_T_OWN')  # the spec wins
    assert '-V' not in script
    assert 'PSIJ_T_INHERITED' not in _script(ex, JobSpec('/bin/true',
                                                         inherit_environment=False))


def test_torque_directives(torque: PBSClassicJobExecutor) -> None:
    spec = JobSpec('/bin/true', resources=ResourceSpecV1(
        node_count=2, processes_per_node=4, cpu_cores_per_process=2, gpu_cores_per_process=1,
        memory=2**30, exclusive_node_use=True),
        attributes=JobAttributes(custom_attributes={'torque.W': 'x=y', 'pbs.m': 'n'}))
    d = _directives(torque, spec)
    assert '#PBS -l nodes=2:ppn=8:gpus=4' in d
    assert '#PBS -l mem=1048576kb' in d
    assert '#PBS -n' in d
    assert '#PBS -W x=y' in d and '#PBS -m n' in d


def test_submit_output(ex: PBSJobExecutor) -> None:
    for name in ('qsub_script_directives.out', 'qsub_-J_1-3.out', 'qsub_-h.out'):
        out = (REAL / name).read_text()
        assert ex.job_id_from_submit_output(out) == out.strip()
    site = (SAMPLES / 'pbspro' / 'qsub_success_ert_site.out').read_text()
    assert ex.job_id_from_submit_output(site) == site.strip()
    for other in ('Your job 3 ("x.job") has been submitted\n', 'Submitted batch job 12\n', ''):
        with pytest.raises(SubmitException, match='not a PBS job id'):
            ex.job_id_from_submit_output(other)


@pytest.mark.parametrize('sample, code', [('qsub_bad_queue.err', 170),
                                          ('qsub_bad_select.err', 166),
                                          ('qsub_bad_walltime.err', 166)])
def test_rejected_request_is_invalid_job(ex: PBSJobExecutor, bin_dir: Path, sample: str,
                                         code: int) -> None:
    err = (REAL / sample).read_text()
    _command(bin_dir, 'qsub', err=err, code=code)
    job = Job(JobSpec('/bin/true'))
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert err.strip() in str(ei.value)
    assert job.status.state is JobState.NEW and job.executor is None


def test_over_the_limits_is_invalid_job(ex: PBSJobExecutor, bin_dir: Path) -> None:
    err = (SAMPLES / 'pbspro' / 'qsub_error_violates_limits.err').read_text()
    _command(bin_dir, 'qsub', err=err, code=188)
    with pytest.raises(InvalidJobException, match='violates'):
        ex.submit(Job(JobSpec('/bin/true')))


def test_unreachable_server_is_transient(ex: PBSJobExecutor, bin_dir: Path) -> None:
    err = (SAMPLES / 'pbspro' / 'qstat_connection_refused.err').read_text()
    _command(bin_dir, 'qsub', err=err.replace('qstat', 'qsub'), code=255)
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert ei.value.transient and not isinstance(ei.value, InvalidJobException)


@pytest.mark.parametrize('version, ok', [
    ('pbs_version = 23.06.06\n', True),
    ('GE 8.1.9\nusage: qstat [options]\n', False),
    ('', False),
])
def test_another_schedulers_qstat_is_named(tmp_path: Path, version: str, ok: bool) -> None:
    d = tmp_path / 'otherbin'
    d.mkdir()
    if ok:
        _qstat(d, version)
    else:
        _command(d, 'qstat', version, code=2)
    _command(d, 'qsub', '12.server\n')
    _command(d, 'qdel')
    PBSJobExecutor._checked_commands.clear()
    ex = PBSJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path / 'w',
                                                 command_directory=d))
    job = Job(JobSpec('/bin/true', attributes=JobAttributes(duration=timedelta(hours=1))))
    if ok:
        ex.submit(job)
        assert job.native_id == '12.server'
        ex.cancel(job)
        return
    with pytest.raises(SubmitException) as ei:
        ex.submit(job)
    assert str(d / 'qstat') in str(ei.value) and 'PSIJ_PBS_COMMAND_DIR' in str(ei.value)


def test_each_flavour_checks_the_same_qstat_for_itself(tmp_path: Path) -> None:
    """OpenPBS's qstat, found right by `pbs`, is still refused by `pbs_classic` (Torque):
    the check's verdict is remembered per executor class, not per path alone."""
    d = tmp_path / 'openpbs-bin'
    d.mkdir()
    _qstat(d, (REAL / 'qsub_--version.out').read_text())
    _command(d, 'qsub', '12.server\n')
    _command(d, 'qdel')
    pbs = PBSJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path / 'w1',
                                                  command_directory=d))
    job = Job(JobSpec('/bin/true'))
    pbs.submit(job)
    assert job.native_id == '12.server'
    pbs.cancel(job)
    torque = PBSClassicJobExecutor(config=PBSClassicExecutorConfig(
        work_directory=tmp_path / 'w2', command_directory=d))
    with pytest.raises(SubmitException) as ei:
        torque.submit(Job(JobSpec('/bin/true')))
    assert 'is not the qstat of Torque' in str(ei.value)
    assert 'PSIJ_PBS_CLASSIC_COMMAND_DIR' in str(ei.value)


def test_command_directory_from_the_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_PBS_COMMAND_DIR', '/somewhere/bin')
    ex = PBSJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path))
    assert ex.command_path('qsub') == '/somewhere/bin/qsub'
    assert ex.get_status_command(['1.s'])[0] == 'qstat'
    monkeypatch.setenv('PSIJ_PBS_CLASSIC_COMMAND_DIR', '/torque/bin')
    t = PBSClassicJobExecutor(config=PBSExecutorConfig(work_directory=tmp_path))
    assert t.command_path('qstat') == '/torque/bin/qstat'


def _status(ex: PBSJobExecutor, out: str, err: str = '', code: int = 0) -> dict[str, object]:
    return {k: (v.state, v.exit_code) for k, v in
            ex.parse_status_result(code, out, err).items()}


def test_known_and_unknown_ids_keep_the_known(ex: PBSJobExecutor) -> None:
    out = (REAL / 'qstat_-x_-f_-F_json_known_and_unknown.out').read_text()
    err = (REAL / 'qstat_-x_-f_-F_json_known_and_unknown.err').read_text()
    assert _status(ex, out, err, 153) == {'9.vm': (JobState.FAILED, 3)}
    assert _status(ex, (REAL / 'qstat_-x_-f_-F_json_unknown.out').read_text(),
                   (REAL / 'qstat_-x_-f_-F_json_unknown.err').read_text(), 153) == {}


def test_running_and_finished_without_history(ex: PBSJobExecutor) -> None:
    out = (REAL / 'qstat_-f_-F_json_running_and_finished_no_-x.out').read_text()
    got = _status(ex, out, '', 35)
    assert list(got.values()) == [(JobState.ACTIVE, None)]


@pytest.mark.parametrize('code, out, err', [
    (255, (SAMPLES / 'pbspro' / 'qstat_connection_refused_REFORMATTED.out').read_text(),
     (SAMPLES / 'pbspro' / 'qstat_connection_refused.err').read_text()),
    (0, '{"timestamp":1, "pbs_version":"23.06.06", "Jobs":{"1.vm":{"job_st', ''),
    (0, 'job-ID  prior   name       user         state submit/start at\n', ''),
    (170, '', (REAL / 'qstat_bad_id.err').read_text()),
])
def test_status_command_failures_are_retried_not_news(ex: PBSJobExecutor, code: int, out: str,
                                                      err: str) -> None:
    with pytest.raises(RuntimeError):
        ex.parse_status_result(code, out, err)


def test_qstat_without_history_is_polled_without_x(ex: PBSJobExecutor) -> None:
    assert ex.get_status_command(['1.s', '2.s']) == ['qstat', '-x', '-f', '-F', 'json',
                                                      '1.s', '2.s']
    with pytest.raises(RuntimeError):
        ex.parse_status_result(2, '', "qstat: invalid option -- 'x'\nusage: qstat ...")
    assert ex.get_status_command(['1.s']) == ['qstat', '-f', '-F', 'json', '1.s']


def test_status_is_one_call_for_many_jobs_chunked_when_long(ex: PBSJobExecutor,
                                                            bin_dir: Path,
                                                            tmp_path: Path) -> None:
    log = tmp_path / 'calls'
    body = (REAL / 'qstat_-x_-f_-F_json_two_ids.out').read_text()
    (bin_dir / 'qstat').write_text('#!/bin/sh\necho "$#" >> %s\nprintf "%%s" %s\n'
                                   % (log, _sh(body)))
    got = ex._query_status(['9.vm', '10.vm'])
    assert sorted(got) == ['10.vm', '9.vm']
    assert log.read_text().split() == ['6']  # -x -f -F json + 2 ids, one call
    log.unlink()
    ex._pbs_config.ids_per_qstat = 2
    ex._query_status(['%d.vm' % i for i in range(5)])
    assert log.read_text().split() == ['6', '6', '5']


@pytest.mark.parametrize('sample, code, done', [
    ('qdel_finished.err', 35, True), ('qdel_unknown.err', 153, True),
    ('qdel_unknown_noserver.err', 153, True), (None, 168, True), (None, 15, False),
])
def test_cancel_output(ex: PBSJobExecutor, sample: Optional[str], code: int,
                       done: bool) -> None:
    out = (REAL / sample).read_text() if sample else 'qdel: something else'
    if done:
        with pytest.raises(InvalidJobStateError):
            ex.process_cancel_command_output(code, out)
    else:
        with pytest.raises(SubmitException):
            ex.process_cancel_command_output(code, out)


def test_list_output(ex: PBSJobExecutor) -> None:
    assert ex.get_list_command()[:2] == ['qselect', '-u']
    assert ex.parse_list_output('12.vm\n13[].vm\n\nqselect: noise\n') == ['12.vm', '13[].vm']


def test_registered_by_name_and_alias() -> None:
    for name in ('pbs', 'pbspro', 'openpbs'):
        assert isinstance(JobExecutor.get_instance(name), PBSJobExecutor)
    for name in ('pbs_classic', 'torque'):
        assert isinstance(JobExecutor.get_instance(name), PBSClassicJobExecutor)


def test_psij_python_import_paths() -> None:
    from psij.executors.batch.pbs import PBSJobExecutor as A
    from psij.executors.batch.pbs_classic import PBSClassicJobExecutor as B
    assert A is PBSJobExecutor and B is PBSClassicJobExecutor


def test_work_directory_is_private(ex: PBSJobExecutor, bin_dir: Path) -> None:
    _command(bin_dir, 'qsub', '7.vm\n')
    _command(bin_dir, 'qdel')
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    mode = os.stat(ex.work_directory).st_mode
    assert stat.S_IMODE(mode) == 0o700
    ex.cancel(job)


def test_psij_script_shows_the_pbs_script(tmp_path: Path) -> None:
    import subprocess
    import sys
    psij = Path(sys.executable).parent / 'psij'
    p = subprocess.run([str(psij), 'script', '-x', 'pbs', '--name', 'a b', '--nodes', '2', '--',
                        '/bin/echo', '$(id)'], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert '#PBS -N a_b\n' in p.stdout and '#PBS -l select=2:' in p.stdout
    assert "'$(id)'" in p.stdout
    p = subprocess.run([str(psij), 'script', '-x', 'local', '--', '/bin/true'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and 'writes no submit script' in p.stderr


def test_attach_refuses_what_is_no_job_id(ex: PBSJobExecutor) -> None:
    """An id that is not one of this scheduler's never reaches a command (``-uroot`` would be
    an option of the cancel command; a malformed id would break the shared status command)."""
    check_native_id_forms(ex, good=['12', '12.server', '12[].server', '12[7].pbs-1.example.org'],
                          bad=['abc', '12.', '12[7', 'server.12', '12.ser ver', '12.$(id)'])
