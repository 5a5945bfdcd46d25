"""Staging with the local executor: file:// stage-in, stage-out with flags, cleanup."""

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobExecutor,
    JobSpec,
    JobState,
    StageIn,
    StageOut,
    StageOutFlags,
    StagingMode,
)
from psij.executors.local import LocalJobExecutorConfig

ALL = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
       JobState.CLEANUP]


@pytest.fixture
def ex(tmp_path):
    return JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))


def run(ex, spec):
    job = Job(spec)
    seen = []
    job.set_job_status_callback(lambda j, s: seen.append(s.state))
    ex.submit(job)
    return job.wait(), seen


@pytest.fixture
def dirs(tmp_path):
    src = tmp_path / 'src'
    work = tmp_path / 'work'
    dst = tmp_path / 'dst'
    for d in (src, work, dst):
        d.mkdir()
    (src / 'in.txt').write_text('input\n')
    return src, work, dst


def test_stage_in_out_cleanup(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('/bin/sh', ['-c', 'tr a-z A-Z < in.txt > out.txt'], directory=work,
                   stage_in={StageIn('file://%s' % (src / 'in.txt'), 'in.txt')},
                   stage_out={StageOut('out.txt', 'file://%s' % (dst / 'out.txt'))},
                   cleanup={'in.txt', 'out.txt'})
    st, seen = run(ex, spec)
    assert st.state is JobState.COMPLETED, st
    assert seen == ALL + [JobState.COMPLETED]
    assert (dst / 'out.txt').read_text() == 'INPUT\n'
    assert not (work / 'in.txt').exists() and not (work / 'out.txt').exists()
    assert (src / 'in.txt').exists()


def test_stage_in_link_and_move(ex, dirs):
    src, work, dst = dirs
    (src / 'm.txt').write_text('moved\n')
    spec = JobSpec('/bin/sh', ['-c', 'cat l.txt m.txt > out.txt'], directory=work,
                   stage_in={StageIn(src / 'in.txt', 'l.txt', mode=StagingMode.LINK),
                             StageIn(src / 'm.txt', 'm.txt', mode=StagingMode.MOVE)})
    st, _ = run(ex, spec)
    assert st.state is JobState.COMPLETED
    assert (work / 'l.txt').is_symlink()
    assert not (src / 'm.txt').exists()
    assert (work / 'out.txt').read_text() == 'input\nmoved\n'


def test_stage_in_missing_source_fails_job(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('/bin/true', directory=work,
                   stage_in={StageIn(src / 'missing.txt', 'x.txt')})
    st, seen = run(ex, spec)
    assert st.state is JobState.FAILED
    assert str(src / 'missing.txt') in st.message
    assert JobState.ACTIVE not in seen


def test_stage_out_flags(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('/bin/sh', ['-c', 'echo x > a.txt; echo y > b.txt; exit 1'], directory=work,
                   stage_out={StageOut('a.txt', dst / 'a.txt', StageOutFlags.ON_SUCCESS),
                              StageOut('b.txt', dst / 'b.txt', StageOutFlags.ON_ERROR),
                              StageOut('c.txt', dst / 'c.txt',
                                       StageOutFlags.ALWAYS | StageOutFlags.IF_PRESENT)},
                   cleanup={'a.txt'}, cleanup_flags=StageOutFlags.ON_SUCCESS)
    st, seen = run(ex, spec)
    assert st.state is JobState.FAILED and st.exit_code == 1
    assert not (dst / 'a.txt').exists()
    assert (dst / 'b.txt').read_text() == 'y\n'
    assert (work / 'a.txt').exists()  # cleanup only on success
    assert seen[-3:] == [JobState.STAGE_OUT, JobState.CLEANUP, JobState.FAILED]


def test_missing_stage_out_fails_completed_job(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('/bin/true', directory=work,
                   stage_out={StageOut('nothing.txt', dst / 'nothing.txt')})
    st, _ = run(ex, spec)
    assert st.state is JobState.FAILED
    assert 'nothing.txt' in st.message


def test_stage_out_on_cancel(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('/bin/sh', ['-c', 'echo partial > p.txt; exec sleep 100'], directory=work,
                   stage_out={StageOut('p.txt', dst / 'p.txt',
                                       StageOutFlags.ON_CANCEL | StageOutFlags.IF_PRESENT)})
    job = Job(spec)
    ex.submit(job)
    job.cancel()
    assert job.wait().state is JobState.CANCELED


def test_non_file_url_rejected(ex, dirs):
    src, work, dst = dirs
    with pytest.raises(InvalidJobException, match='file://'):
        ex.submit(Job(JobSpec('/bin/true', directory=work,
                              stage_in={StageIn('https://example.org/x', 'x')})))


def test_staged_in_executable_and_stdin(ex, dirs):
    src, work, dst = dirs
    (src / 'tool.sh').write_text('#!/bin/sh\ntr a-z A-Z\n')
    (src / 'tool.sh').chmod(0o755)
    spec = JobSpec('./tool.sh', directory=work, stdin_path='in.txt', stdout_path='out.txt',
                   stage_in={StageIn(src / 'tool.sh', 'tool.sh'),
                             StageIn(src / 'in.txt', 'in.txt')})
    st, _ = run(ex, spec)
    assert st.state is JobState.COMPLETED, st
    assert (work / 'out.txt').read_text() == 'INPUT\n'


def test_bad_executable_after_stage_in_fails_job(ex, dirs):
    src, work, dst = dirs
    spec = JobSpec('./missing.sh', directory=work,
                   stage_in={StageIn(src / 'in.txt', 'in.txt')}, cleanup={'in.txt'})
    st, seen = run(ex, spec)
    assert st.state is JobState.FAILED
    assert 'missing.sh' in st.message
    assert JobState.ACTIVE not in seen
    assert not (work / 'in.txt').exists()


def test_stage_out_source_error_other_than_missing_fails_job(ex, dirs):
    # Path.exists() raises for ENAMETOOLONG (and EACCES for non-root): the job must still end
    src, work, dst = dirs
    long_name = 'x' * 300
    spec = JobSpec('/bin/true', directory=work,
                   stage_out={StageOut(long_name, dst / 'out.txt')})
    job = Job(spec)
    ex.submit(job)
    st = job.wait(timeout=30)
    assert st is not None, 'the job never reached a final state (stuck in %s)' % job.status
    assert st.state is JobState.FAILED
    assert 'too long' in st.message and long_name in st.message


def test_cleanup_error_fails_completed_job(ex, dirs):
    src, work, dst = dirs
    long_name = 'y' * 300
    spec = JobSpec('/bin/true', directory=work, cleanup={long_name})
    job = Job(spec)
    ex.submit(job)
    st = job.wait(timeout=30)
    assert st is not None, 'the job never reached a final state (stuck in %s)' % job.status
    assert st.state is JobState.FAILED
    assert 'Cleanup of' in st.message and 'too long' in st.message


def test_stage_out_error_record_lets_attach_end(ex, dirs, tmp_path):
    # the keeper gets the final state: another executor attaching sees the same end
    src, work, dst = dirs
    spec = JobSpec('/bin/true', directory=work,
                   stage_out={StageOut('z' * 300, dst / 'out.txt')})
    job = Job(spec)
    ex.submit(job)
    assert job.wait(timeout=30) is not None
    other = JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))
    attached = Job()
    other.attach(attached, job.native_id)
    st = attached.wait(timeout=30)
    assert st is not None and st.state is JobState.FAILED, st
