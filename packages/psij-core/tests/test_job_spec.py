import pathlib

import pytest
from psij import (
    URI,
    InvalidJobException,
    JobAttributes,
    JobSpec,
    ResourceSpecV1,
    StageIn,
    StageOut,
    StageOutFlags,
)


def test_paths_are_converted():
    s = JobSpec(executable='x', directory='/tmp/d', stdin_path='in', stdout_path='o',
                stderr_path=pathlib.Path('e'), pre_launch='pre.sh', post_launch='post.sh')
    for f in ('directory', 'stdin_path', 'stdout_path', 'stderr_path', 'pre_launch',
              'post_launch'):
        assert isinstance(getattr(s, f), pathlib.Path)
    s.directory = '/other'
    assert s.directory == pathlib.Path('/other')


def test_name_defaults_to_executable():
    s = JobSpec(executable='/bin/date')
    assert s.name == '/bin/date'
    s.name = 'n'
    assert s.name == 'n'


def test_environment_ints_become_strings_and_order_is_kept():
    s = JobSpec(executable='x', environment={'B': 1, 'A': 'two'})
    assert s.environment == {'B': '1', 'A': 'two'}
    assert list(s.environment) == ['B', 'A']


def test_attributes_default_and_equality():
    assert JobSpec(executable='x').attributes == JobAttributes()
    a = JobSpec(executable='x', arguments=['1'], resources=ResourceSpecV1(node_count=2))
    b = JobSpec(executable='x', arguments=['1'], resources=ResourceSpecV1(node_count=2))
    assert a == b
    b.arguments = ['2']
    assert a != b


@pytest.mark.parametrize('kwargs, field', [
    ({'arguments': 'not a list'}, 'arguments'),
    ({'arguments': ['a', 3]}, 'arguments[1]'),
    ({'environment': {'A': 1.5}}, "environment['A']"),
    ({'environment': {'A': True}}, "environment['A']"),
    ({'environment': {'': 'x'}}, 'environment'),
    ({'environment': {'A=B': 'x'}}, 'environment'),
    ({'environment': ['A']}, 'environment'),
    ({'directory': 3}, 'directory'),
    ({'stdout_path': ''}, 'stdout_path'),
    ({'inherit_environment': 'no'}, 'inherit_environment'),
    ({'resources': {'node_count': 1}}, 'resources'),
    ({'attributes': {}}, 'attributes'),
    ({'executable': ''}, 'executable'),
    ({'executable': 5}, 'executable'),
    ({'arguments': ['a\0b']}, 'arguments[0]'),
    ({'stage_in': ['/a']}, 'stage_in'),
    ({'cleanup_flags': 3}, 'cleanup_flags'),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidJobException) as ei:
        JobSpec(**{'executable': 'x', **kwargs})
    assert field in str(ei.value)


def test_staging_model():
    si = StageIn('/data/in.txt', 'in.txt')
    assert si.source == URI('file:///data/in.txt') and si.target == pathlib.Path('in.txt')
    so = StageOut('out.txt', 'file:///data/out.txt', StageOutFlags.ON_SUCCESS)
    s = JobSpec(executable='x', stage_in={si}, stage_out={so}, cleanup={'out.txt'},
                cleanup_flags=StageOutFlags.ON_ERROR)
    assert s.stage_in == {StageIn('file:///data/in.txt', 'in.txt')}
    assert s.cleanup == {pathlib.Path('out.txt')}
    assert StageOutFlags.ALWAYS == (StageOutFlags.ON_SUCCESS | StageOutFlags.ON_ERROR
                                    | StageOutFlags.ON_CANCEL)
    with pytest.raises(InvalidJobException, match='scheme'):
        StageIn('relative/path', 'x')


@pytest.mark.parametrize('executor', ['local', 'batch'])
def test_environment_value_changed_after_assignment_is_checked_at_submit(executor, tmp_path,
                                                                        monkeypatch):
    # psij-python's test: the dict is the spec's own, so a value put in it later bypassed the
    # setter and was turned into text ("[2]") instead of refused
    from psij import Job, JobExecutor
    spec = JobSpec('/bin/true', environment={'a': 'b'})
    spec.environment['x'] = [2]  # type: ignore[index]
    if executor == 'local':
        ex = JobExecutor.get_instance('local')
    else:
        from test_batch_framework import make_executor
        (tmp_path / 'sched').mkdir()
        monkeypatch.setenv('FAKE_SCHED_DIR', str(tmp_path / 'sched'))
        ex = make_executor(tmp_path)
    job = Job(spec)
    with pytest.raises(TypeError, match=r"JobSpec\.environment\['x'\]"):
        ex.submit(job)
    assert job.executor is None and job.status.state.name == 'NEW'
    spec.environment['x'] = 3  # type: ignore[index]
    ex.submit(job)
    assert spec.environment == {'a': 'b', 'x': '3'}
    job.wait(timeout=120)
