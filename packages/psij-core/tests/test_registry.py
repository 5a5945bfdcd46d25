"""In-process tests of the registry API: register_executor / register_launcher."""

import psij
import pytest
from psij import Descriptor, JobExecutor, Launcher
from psij.plugins import registry


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.reset()
    yield
    registry.reset()


def test_register_executor_and_conflict():
    d = Descriptor(name='regtest', version='1.2', cls='psij.executors.local.LocalJobExecutor')
    JobExecutor.register_executor(d, '/somewhere')
    assert 'regtest' in JobExecutor.get_executor_names()
    clash = Descriptor(name='regtest', version='1.2', cls='other.Exec')
    with pytest.raises(ValueError) as ei:
        JobExecutor.register_executor(clash)
    assert 'registered twice' in str(ei.value) and 'other.Exec' in str(ei.value)


def test_register_launcher_wrong_base_class_is_reported():
    Launcher.register_launcher(Descriptor(name='notalauncher', version='1',
                                          cls='psij.job.Job'))
    with pytest.raises(ValueError) as ei:
        Launcher.get_instance('notalauncher')
    assert 'not a subclass of psij.job_launcher.Launcher' in str(ei.value)


def test_unknown_launcher_lists_available():
    with pytest.raises(ValueError, match="No launcher named 'nope'.*single"):
        Launcher.get_instance('nope')


def test_descriptor_validation():
    with pytest.raises(ValueError, match='fully qualified'):
        Descriptor(name='x', version='1', cls='NoModule')
    d = Descriptor(name='x', version='1.0', cls='a.B')
    assert str(d.version) == '1.0' and d.nice_name == 'x' and d.unsupported == {}


def test_star_import_exports_the_api():
    ns = {}
    exec('from psij import *', ns)
    for name in ['Job', 'JobSpec', 'JobAttributes', 'ResourceSpec', 'ResourceSpecV1', 'JobState',
                 'JobStateOrder', 'JobStatus', 'JobStatusCallback', 'JobExecutor',
                 'JobExecutorConfig', 'Launcher', 'Descriptor', 'InvalidJobException',
                 'SubmitException', 'StageIn', 'StageOut', 'StageOutFlags']:
        assert name in ns, name
    assert psij.__version__ == psij.version.VERSION
    cfg = psij.JobExecutorConfig.DEFAULT
    assert cfg.work_directory.name == 'work' and cfg.launcher_log_file is None


def test_exceptions_carry_psij_python_fields():
    e = psij.SubmitException('scheduler down', exception=OSError('x'), transient=True)
    assert e.message == 'scheduler down' and e.transient and isinstance(e.exception, OSError)
    assert 'scheduler down' in str(e)
    i = psij.InvalidJobException('bad')
    assert i.message == 'bad' and i.exception is None
