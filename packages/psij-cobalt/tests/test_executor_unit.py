"""The executor's directives, validation, status parsing and import paths; no cluster."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from psij import Job, JobAttributes, JobExecutor, JobSpec, JobState, ResourceSpecV1
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import SCHEDULER_FIELDS
from psij_cobalt.executor import CobaltExecutorConfig, CobaltJobExecutor, cobalt_job_name


@pytest.fixture
def ex(tmp_path: Path) -> CobaltJobExecutor:
    return CobaltJobExecutor(config=CobaltExecutorConfig(work_directory=tmp_path / 'w'))


def _directives(ex: CobaltJobExecutor, **kw: object) -> list[str]:
    spec = JobSpec('/bin/true', **kw)  # type: ignore[arg-type]
    script = ex.script_for(Job(spec))
    return [line for line in script.splitlines() if line.startswith('#COBALT')]


def test_every_field_becomes_a_directive(ex: CobaltJobExecutor) -> None:
    lines = _directives(
        ex, name='my job; $(x)',
        resources=ResourceSpecV1(node_count=2, processes_per_node=3, exclusive_node_use=True),
        attributes=JobAttributes(duration=timedelta(minutes=61, seconds=1), queue_name='debug',
                                 account='proj', custom_attributes={
                                     'cobalt.attrs': 'mcdram=cache:numa=quad',
                                     'cobalt.M': 'a@b.c', 'cobalt.held': True,
                                     'cobalt.no': False, 'slurm.qos': 'x'}))
    assert lines == ['#COBALT --jobname my_job____x_', '#COBALT -n 2', '#COBALT --proccount 6',
                     '#COBALT -t 62', '#COBALT -q "debug"', '#COBALT -A "proj"',
                     '#COBALT --attrs "mcdram=cache:numa=quad"', '#COBALT -M "a@b.c"',
                     '#COBALT --held']


def test_reservation_is_the_queue(ex: CobaltJobExecutor) -> None:
    assert '#COBALT -q "R.mine"' in _directives(
        ex, attributes=JobAttributes(reservation_id='R.mine'))
    assert '#COBALT -q "R.mine"' in _directives(
        ex, attributes=JobAttributes(reservation_id='R.mine', queue_name='R.mine'))
    with pytest.raises(InvalidJobException, match='reservation_id'):
        _directives(ex, attributes=JobAttributes(reservation_id='R.mine', queue_name='debug'))


@pytest.mark.parametrize('attrs,field', [
    (JobAttributes(queue_name='a\n#COBALT -A x'), 'queue_name'),
    (JobAttributes(account='-A other'), 'account'),
    (JobAttributes(account='a"b'), 'account'),
    (JobAttributes(custom_attributes={'cobalt.attrs': 'x=$(id)'}), 'cobalt.attrs'),
    (JobAttributes(custom_attributes={'cobalt.a b': 'x'}), 'cobalt.a b'),
])
def test_unsafe_values_are_refused_naming_the_field(ex: CobaltJobExecutor, attrs: JobAttributes,
                                                     field: str) -> None:
    with pytest.raises(InvalidJobException, match=field.replace('.', r'\.')):
        _directives(ex, attributes=attrs)


@pytest.mark.parametrize('res,field', [
    (ResourceSpecV1(memory=1 << 30), 'memory'),
    (ResourceSpecV1(cpu_cores_per_process=2), 'cpu_cores_per_process'),
    (ResourceSpecV1(gpu_cores_per_process=1), 'gpu_cores_per_process'),
])
def test_requests_cobalt_cannot_make_are_refused(ex: CobaltJobExecutor, res: ResourceSpecV1,
                                                 field: str) -> None:
    job = Job(JobSpec('/bin/true', resources=res))
    with pytest.raises(InvalidJobException, match=field):
        ex.submit(job)
    assert job.executor is None and job.status.state is JobState.NEW


def test_honoured_fields() -> None:
    assert SCHEDULER_FIELDS - CobaltJobExecutor.honoured_fields == {
        'memory', 'cpu_cores_per_process', 'gpu_cores_per_process'}


def test_job_names_are_sanitised() -> None:
    assert cobalt_job_name('--x y\n#COBALT -A z') == 'x_y__COBALT_-A_z'
    assert cobalt_job_name('') == 'psij'
    assert len(cobalt_job_name('a' * 500)) == 200


def test_status_output(ex: CobaltJobExecutor) -> None:
    out = ('JobID: 11\n    State : running\n\nJobID: 12\n    State : killing\n\n'
           'JobID: 13\n    State : dep_fail\n\nJobID: 14\n    State : mystery\n')
    st = ex.parse_status_output(0, out)
    assert {k: v.state for k, v in st.items()} == {
        '11': JobState.ACTIVE, '12': JobState.ACTIVE, '13': JobState.FAILED}
    assert st['13'].message is not None and 'depends' in st['13'].message
    assert st['11'].metadata == {'cobalt_state': 'running'}
    # none of the ids known: qstat prints nothing and exits 1
    assert ex.parse_status_output(1, '') == {}
    with pytest.raises(RuntimeError, match='Failed to connect'):
        ex.parse_status_output(1, 'Failed to connect to queue manager\n')


def test_one_status_command_for_all_jobs(ex: CobaltJobExecutor) -> None:
    assert ex.get_status_command(['1', '2', '3'])[1:] == ['-l', '--header=JobID:State',
                                                          '1', '2', '3']


def test_final_status_from_the_cobaltlog(ex: CobaltJobExecutor, tmp_path: Path) -> None:
    work = tmp_path / 'w'
    work.mkdir(mode=0o700)
    (work / '5.cobaltlog').write_text(
        'Jobid: 5\nX Info: maximum execution time exceeded; initiating job termination\n')
    (work / '6.cobaltlog').write_text('Jobid: 6\nX Info: job 6 deleted by user me (qdel)\n')
    (work / '7.cobaltlog').write_text(
        'Jobid: 7\nX Info: task completed normally with an exit code of 3; cleanup\n')
    st = ex.get_final_status(['5', '6', '7', '8'])
    assert st['5'].state is JobState.FAILED and st['5'].exit_code is None
    assert (st['5'].message or '').startswith('walltime exceeded')
    assert st['6'].state is JobState.CANCELED
    assert (st['7'].state, st['7'].exit_code) == (JobState.FAILED, 3)
    assert st['8'].state is JobState.FAILED and 'no longer lists' in (st['8'].message or '')


def test_native_ids(ex: CobaltJobExecutor) -> None:
    ex.check_native_id('123456')
    for bad in ('-u', '1 2', '1,2', '12a', ''):
        with pytest.raises(InvalidJobException):
            ex.check_native_id(bad)


def test_psij_python_import_path_and_registration() -> None:
    from psij.executors.batch.cobalt import CobaltExecutorConfig as C
    from psij.executors.batch.cobalt import CobaltJobExecutor as E
    assert (E, C) == (CobaltJobExecutor, CobaltExecutorConfig)
    assert 'cobalt' in JobExecutor.get_executor_names()
    assert isinstance(JobExecutor.get_instance('cobalt'), CobaltJobExecutor)


def test_old_cobaltlogs_are_pruned_at_the_first_submit(tmp_path: Path) -> None:
    import os
    work = tmp_path / 'w'
    work.mkdir(mode=0o700)
    old, new, other = work / '1.cobaltlog', work / '2.cobaltlog', work / '3.ec'
    for p in (old, new, other):
        p.write_text('x')
    week = 8 * 86400
    for p in (old, other):
        os.utime(p, (p.stat().st_atime - week, p.stat().st_mtime - week))
    ex = CobaltJobExecutor(config=CobaltExecutorConfig(
        work_directory=work, command_directory=tmp_path / 'no-such-bin'))
    with pytest.raises(SubmitException, match='qsub'):
        ex.submit(Job(JobSpec('/bin/true')))  # no qsub here: it fails after the pruning
    assert not old.exists() and new.exists() and other.exists()
