"""psij-python's launcher names import from ``psij.launchers`` (its executors and test plugins
do ``from psij.launchers import MultipleLauncher``), lazily."""

import subprocess
import sys
import textwrap

import pytest


def _run(code, tmp_path, fake_launchers):
    if fake_launchers:
        # a stand-in for psij-launchers where it is not installed (psij-core's own tests)
        pkg = tmp_path / 'psij_launchers'
        pkg.mkdir()
        (pkg / '__init__.py').write_text('')
        (pkg / 'multiple.py').write_text('class MultipleLauncher:\n    pass\n')
        (pkg / 'mpirun.py').write_text('class MpirunLauncher:\n    pass\n')
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=tmp_path, env=None, timeout=120)


def _installed():
    import importlib.util
    return importlib.util.find_spec('psij_launchers') is not None


def test_multiple_launcher_imports_from_psij_launchers_and_lazily(tmp_path):
    p = _run('''
        import sys
        import psij
        assert 'psij_launchers.multiple' not in sys.modules, 'import psij loaded it'
        from psij.launchers import MultipleLauncher, MPILauncher, SingleLauncher
        import psij_launchers.multiple, psij_launchers.mpirun
        assert MultipleLauncher is psij_launchers.multiple.MultipleLauncher
        assert MPILauncher is psij_launchers.mpirun.MpirunLauncher
        print('ok')
    ''', tmp_path, fake_launchers=not _installed())
    assert p.stdout.strip() == 'ok', p.stderr


@pytest.mark.skipif(_installed(), reason='psij-launchers is installed here')
def test_without_psij_launchers_the_import_error_says_what_to_install(tmp_path):
    p = _run('from psij.launchers import MultipleLauncher', tmp_path, fake_launchers=False)
    assert p.returncode != 0
    assert 'ImportError' in p.stderr and 'pip install psij-launchers' in p.stderr, p.stderr


def test_an_unknown_name_is_an_attribute_error():
    import psij.launchers
    with pytest.raises(AttributeError, match='NoSuchLauncher'):
        psij.launchers.__getattr__('NoSuchLauncher')
