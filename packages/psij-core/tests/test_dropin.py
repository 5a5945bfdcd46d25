"""
psij-python behaviour that programs written for it rely on (issue 16, items 1-4), each with
the reference behaviour of psij-python written into the test:

1. every job that ran passes through STAGE_OUT and CLEANUP, failed ones too;
2. relative staging paths are relative to the job's directory, and flags naming no outcome
   (``IF_PRESENT`` alone) mean every outcome; ``cleanup_flags`` are honoured;
3. a missing executable raises ``SubmitException`` at submit (psij-python's local executor
   wraps Popen's error in ``SubmitException('Failed to submit job')``);
4. ``JobAttributes.custom_attributes`` is the caller's dict, not a copy.
"""

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobAttributes,
    JobExecutor,
    JobSpec,
    JobState,
    StageIn,
    StageOut,
    StageOutFlags,
    SubmitException,
)
from psij.executors.local import LocalJobExecutorConfig
from test_batch_framework import sched  # noqa: F401 (fixture)

S = JobState


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


def run(ex, spec):
    job = Job(spec)
    seen = []
    job.set_job_status_callback(lambda j, s: seen.append(s.state))
    ex.submit(job)
    st = job.wait()
    return st, seen


def test_failed_job_passes_through_stage_out_and_cleanup(ex):
    # psij-python: QUEUED, STAGE_IN, ACTIVE, STAGE_OUT, CLEANUP, FAILED for /bin/false
    st, seen = run(ex, JobSpec('/bin/false'))
    assert st.state is S.FAILED and st.exit_code == 1
    assert seen == [S.QUEUED, S.STAGE_IN, S.ACTIVE, S.STAGE_OUT, S.CLEANUP, S.FAILED]


def test_relative_stage_out_source_is_in_job_directory(ex, tmp_path):
    d, dest = tmp_path / 'd', tmp_path / 'dest.txt'
    d.mkdir()
    # the example, verbatim: IF_PRESENT alone, stdout in the job's directory
    st, _ = run(ex, JobSpec('/bin/echo', ['hello'], directory=d, stdout_path='out.txt',
                            stage_out={StageOut('out.txt', dest,
                                                flags=StageOutFlags.IF_PRESENT)}))
    assert st.state is S.COMPLETED, st
    assert dest.read_text() == 'hello\n'


def test_if_present_alone_applies_to_failed_jobs_too(ex, tmp_path):
    d, dest = tmp_path / 'd', tmp_path / 'dest.txt'
    d.mkdir()
    st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'echo x > o.txt; exit 2'], directory=d,
                            stage_out={StageOut('o.txt', dest, flags=StageOutFlags.IF_PRESENT),
                                       StageOut('missing', tmp_path / 'never',
                                                flags=StageOutFlags.IF_PRESENT)}))
    assert st.state is S.FAILED and st.exit_code == 2, st
    assert dest.read_text() == 'x\n'
    assert not (tmp_path / 'never').exists()


def test_none_flags_never_stage_out(ex, tmp_path):
    d, dest = tmp_path / 'd', tmp_path / 'dest.txt'
    d.mkdir()
    st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'echo x > o.txt'], directory=d,
                            stage_out={StageOut('o.txt', dest, flags=StageOutFlags.NONE)}))
    assert st.state is S.COMPLETED
    assert not dest.exists()


def test_relative_stage_in_target_and_cleanup_in_job_directory(ex, tmp_path):
    d, src = tmp_path / 'd', tmp_path / 'src.txt'
    d.mkdir()
    src.write_text('in\n')
    st, _ = run(ex, JobSpec('/bin/sh', ['-c', 'cat sub/in.txt > copy.txt'], directory=d,
                            stage_in={StageIn(src, 'sub/in.txt')},
                            cleanup={'sub'}))
    assert st.state is S.COMPLETED, st
    assert (d / 'copy.txt').read_text() == 'in\n'
    assert not (d / 'sub').exists()


@pytest.mark.parametrize('code,flags,removed', [
    (0, StageOutFlags.ON_SUCCESS, True), (0, StageOutFlags.ON_ERROR, False),
    (3, StageOutFlags.ON_ERROR, True), (3, StageOutFlags.ON_SUCCESS, False),
    (3, StageOutFlags.IF_PRESENT, True), (0, StageOutFlags.NONE, False)])
def test_cleanup_flags_honoured(ex, tmp_path, code, flags, removed):
    d = tmp_path / 'd'
    d.mkdir()
    st, seen = run(ex, JobSpec('/bin/sh', ['-c', 'echo > scratch; exit %d' % code],
                               directory=d, cleanup={'scratch'}, cleanup_flags=flags))
    assert st.exit_code == code
    assert (d / 'scratch').exists() is not removed
    assert S.CLEANUP in seen  # the flags decide what is done, not whether the state happens


@pytest.mark.parametrize('exe', ['/no/such/executable', 'no-such-command-psij-dropin'])
def test_missing_executable_is_submit_exception(ex, exe):
    job = Job(JobSpec(exe))
    # a psij-python program catches SubmitException around submit()
    with pytest.raises(SubmitException) as ei:
        ex.submit(job)
    assert exe in str(ei.value)
    assert isinstance(ei.value, InvalidJobException)  # and it is still a spec problem
    assert job.status.state is S.NEW


def test_unsupported_scheme_refused_naming_field(ex, tmp_path):
    job = Job(JobSpec('/bin/true', stage_in={StageIn('gsiftp://host/x', 'x')}))
    with pytest.raises(InvalidJobException, match=r'JobSpec\.stage_in.*gsiftp'):
        ex.submit(job)


def test_custom_attributes_is_the_callers_dict():
    attrs = {'slurm.qos': 'debug'}
    a = JobAttributes(custom_attributes=attrs)
    attrs['slurm.comment'] = 'later'  # psij-python keeps the dict, so this counts
    assert a.custom_attributes is attrs
    assert a.get_custom_attribute('slurm.comment') == 'later'
    b = JobAttributes()
    b.custom_attributes = attrs
    assert b.custom_attributes is attrs


def test_missing_executable_on_a_batch_executor_fails_the_job(sched, tmp_path):  # noqa: F811
    # a batch job cannot look at the compute node's files at submit: it ends FAILED with the
    # shell's "not found" exit code, which psij-python programs see as a failed job
    from test_batch_framework import make_executor
    st, _ = run(make_executor(tmp_path), JobSpec('/no/such/executable'))
    assert st.state is S.FAILED and st.exit_code == 127, st
    assert '/no/such/executable' in (st.message or '')
