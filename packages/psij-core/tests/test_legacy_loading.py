"""
Executors published the psij-python way (a ``psij-descriptors`` module): loading errors read
like psij-python's, and a class that resolves from another installation than its descriptor
is refused.

psij-python 0.9.11 (psij/_plugins.py) loads a descriptor's class from the *same* ``sys.path``
entry as the descriptor module (``root_path + '/' + module.replace('.', '/') + '.py'``) and,
when that fails, ``get_instance`` raises ``ValueError('Unable to load executor NAME')`` from
the error.
"""

import os
import subprocess
import sys
import textwrap

DESCRIPTOR = '''
from packaging.version import Version
from psij.descriptor import Descriptor

__PSI_J_EXECUTORS__ = [Descriptor(name={name!r}, version=Version('0.9'), cls={cls!r})]
'''

EXECUTOR = '''
from psij import JobExecutor

class Exec(JobExecutor):
    WHERE = {where!r}
    def submit(self, job): raise NotImplementedError
    def cancel(self, job): pass
    def list(self): return []
    def attach(self, job, native_id): pass
'''


def install(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


def get_instance(tmp_path, path, name):
    code = textwrap.dedent('''
        import sys, psij
        try:
            ex = psij.JobExecutor.get_instance(sys.argv[1])
            print('OK', type(ex).WHERE)
        except ValueError as e:
            print('ValueError', e)
            print('cause', type(e.__cause__).__name__)
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path),
               XDG_CACHE_HOME=str(tmp_path / 'cache'))
    r = subprocess.run([sys.executable, '-c', code, name], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_class_from_the_descriptors_installation_loads(tmp_path):
    a = tmp_path / 'a'
    install(a, {'psij-descriptors/same_descriptors.py': DESCRIPTOR.format(
                    name='samecopy', cls='samecopy_pkg.executor.Exec'),
                'samecopy_pkg/__init__.py': '',
                'samecopy_pkg/executor.py': EXECUTOR.format(where='a')})
    assert get_instance(tmp_path, [a], 'samecopy') == ['OK a']


def test_class_from_another_installation_is_refused(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    # installation a holds the descriptor and its class; installation b, earlier on sys.path,
    # holds another copy of the class's package, which a plain import would pick
    install(a, {'psij-descriptors/mixed_descriptors.py': DESCRIPTOR.format(
                    name='mixed', cls='mixed_pkg.executor.Exec'),
                'mixed_pkg/__init__.py': '',
                'mixed_pkg/executor.py': EXECUTOR.format(where='a')})
    install(b, {'mixed_pkg/__init__.py': '',
                'mixed_pkg/executor.py': EXECUTOR.format(where='b')})
    lines = get_instance(tmp_path, [b, a], 'mixed')
    assert lines[0].startswith('ValueError Unable to load executor mixed: ImportError: '), lines
    assert str(b / 'mixed_pkg') in lines[0] and str(a) in lines[0], lines
    assert 'two installed copies must not mix' in lines[0]
    assert lines[1] == 'cause ImportError'
    # with its own installation first, the same descriptor loads
    assert get_instance(tmp_path, [a, b], 'mixed') == ['OK a']


def test_a_class_that_fails_to_import_reads_like_psij_python(tmp_path):
    a = tmp_path / 'a'
    install(a, {'psij-descriptors/gone_descriptors.py': DESCRIPTOR.format(
                    name='gone', cls='gone_pkg.executor.Exec')})
    lines = get_instance(tmp_path, [a], 'gone')
    assert lines[0].startswith('ValueError Unable to load executor gone: '
                               'ModuleNotFoundError: '), lines
    assert 'gone_pkg' in lines[0] and 'gone_descriptors.py' in lines[0]
    assert lines[1] == 'cause ModuleNotFoundError'
