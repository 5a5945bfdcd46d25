"""Discovery through real distributions installed into a temporary venv."""

import json
import marshal
import os
import pathlib

import pytest
from plugin_dists import build_wheel, install, make_venv, run, write_dist

EXECUTOR_CODE = '''
from psij import JobExecutor, JobStatus, JobState

class {cls}(JobExecutor):
    def submit(self, job):
        spec = self._check_job(job)
        job._native_id = 'n-' + job.id
        self._set_job_status(job, JobStatus(JobState.QUEUED))
        self._set_job_status(job, JobStatus(JobState.ACTIVE))
        self._set_job_status(job, JobStatus(JobState.COMPLETED, exit_code=0))
    def cancel(self, job): pass
    def list(self): return []
    def attach(self, job, native_id): pass
'''

PLUGIN_CODE = '''
from psij.descriptor import Descriptor
from psij.plugins import hookimpl

@hookimpl
def psij_executors():
    return [{descs}]
'''


def simple_plugin(root, dist, pkg, name, version, extra_descs=''):
    descs = "Descriptor(name=%r, version=%r, cls='%s.executor.Exec', aliases=[%r])%s" % (
        name, version, pkg, name + '-alias', extra_descs)
    return write_dist(root, dist, {
        '%s/__init__.py' % pkg: '',
        '%s/plugin.py' % pkg: PLUGIN_CODE.format(descs=descs),
        '%s/executor.py' % pkg: EXECUTOR_CODE.format(cls='Exec'),
    }, entry_points={pkg: '%s.plugin' % pkg}, version=version)


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp('dists')
    wheels = tmp_path_factory.mktemp('wheels')
    projects = [
        # a good plugin: executor 'demo' and a launcher
        write_dist(root, 'psij-demo', {
            'psij_demo/__init__.py': '',
            'psij_demo/plugin.py': PLUGIN_CODE.format(
                descs="Descriptor(name='demo', version='1.0', cls='psij_demo.executor.Exec', "
                      "aliases=['dem'])") + '''
@hookimpl
def psij_launchers():
    from psij.descriptor import Descriptor
    return [Descriptor(name='demolaunch', version='0.5',
                       cls='psij_demo.launcher.DemoLauncher')]
''',
            'psij_demo/executor.py': EXECUTOR_CODE.format(cls='Exec'),
            'psij_demo/launcher.py': '''
from psij import Launcher
class DemoLauncher(Launcher):
    def get_launch_command(self, job): return [job.spec.executable]
    def is_launcher_failure(self, output): return False
    def get_launcher_failure_message(self, output): return ''
''',
        }, entry_points={'demo': 'psij_demo.plugin'}),
        # two versions of 'multi' from two distributions, and a conflicting copy of 2.0
        simple_plugin(root, 'psij-multi-one', 'multi_one', 'multi', '1.0'),
        simple_plugin(root, 'psij-multi-two', 'multi_two', 'multi', '2.0'),
        simple_plugin(root, 'psij-multi-clash', 'multi_clash', 'multi', '2.0'),
        # a plugin whose module cannot be imported at all
        write_dist(root, 'psij-broken-import', {
            'broken_import/__init__.py': '',
            'broken_import/plugin.py': 'raise ImportError("no module named fancy_sched_lib")',
        }, entry_points={'broken-import': 'broken_import.plugin'}),
        # a plugin whose hook raises
        write_dist(root, 'psij-broken-hook', {
            'broken_hook/__init__.py': '',
            'broken_hook/plugin.py': '''
from psij.plugins import hookimpl
@hookimpl
def psij_executors():
    raise RuntimeError("hook exploded")
''',
        }, entry_points={'broken-hook': 'broken_hook.plugin'}),
        # a plugin that registers fine but whose executor class fails to import
        write_dist(root, 'psij-broken-class', {
            'broken_class/__init__.py': '',
            'broken_class/plugin.py': PLUGIN_CODE.format(
                descs="Descriptor(name='lazybad', version='1.0', "
                      "cls='broken_class.executor.Exec')"),
            'broken_class/executor.py': 'import not_installed_dependency_xyz\n',
        }, entry_points={'broken-class': 'broken_class.plugin'}),
        # psij-python's legacy mechanism: a psij-descriptors namespace module
        write_dist(root, 'psij-legacy', {
            'psij-descriptors/legacy_descriptors.py': '''
from packaging.version import Version
from psij.descriptor import Descriptor
__PSI_J_EXECUTORS__ = [Descriptor(name='legacy', version=Version('0.9'),
                                  cls='legacy_exec.executor.LegacyExecutor')]
''',
            'legacy_exec/__init__.py': '',
            'legacy_exec/executor.py': EXECUTOR_CODE.format(cls='LegacyExecutor'),
        }),
    ]
    py = make_venv(tmp_path_factory.mktemp('venv') / 'v')
    install(py, *[build_wheel(p, wheels) for p in projects])
    return py


def check(py, code, env=None):
    r = run(py, code, env)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_entry_point_plugin_is_found_and_loaded_lazily(venv):
    out = check(venv, '''
        import sys, psij
        names = psij.JobExecutor.get_executor_names()
        assert {'local', 'demo', 'dem', 'legacy', 'lazybad'} <= names, names
        assert 'psij_demo.executor' not in sys.modules, 'imported too early'
        assert 'psij.executors.local' not in sys.modules, 'imported too early'
        ex = psij.JobExecutor.get_instance('dem')
        assert 'psij_demo.executor' in sys.modules
        print(ex.name, ex.version, type(ex).__name__)
        job = psij.Job(psij.JobSpec(executable='/bin/true'))
        ex.submit(job)
        print(job.wait().state)
        print(sorted(psij.Launcher.get_launcher_names()))
    ''')
    lines = out.splitlines()
    assert lines[0] == 'demo 1.0 Exec'
    assert lines[1] == 'COMPLETED'
    assert 'demolaunch' in lines[2] and 'single' in lines[2]


def test_legacy_psij_descriptors_and_psij_python_style_executor(venv):
    out = check(venv, '''
        import psij
        ex = psij.JobExecutor.get_instance('legacy')
        job = psij.Job(psij.JobSpec(executable='/bin/true'))
        states = []
        ex.set_job_status_callback(lambda j, s: states.append(str(s.state)))
        ex.submit(job)
        job.wait()
        print(ex.name, ex.version, ' '.join(states))
    ''')
    assert out.split() == ['legacy', '0.9', 'QUEUED', 'STAGE_IN', 'ACTIVE', 'STAGE_OUT',
                           'CLEANUP', 'COMPLETED']


def test_versions_and_constraints(venv):
    out = check(venv, '''
        import psij
        print(psij.JobExecutor.get_instance('multi', version_constraint='<2').version)
        c = '( >= 0.5, != 2.0 )'
        print(psij.JobExecutor.get_instance('multi', version_constraint=c).version)
        try:
            psij.JobExecutor.get_instance('multi', version_constraint='>=3')
        except ValueError as e:
            print('E', e)
        try:
            psij.JobExecutor.get_instance('multi', version_constraint='bogus!!')
        except ValueError as e:
            print('E', e)
    ''')
    lines = out.splitlines()
    assert lines[0] == '1.0' and lines[1] == '1.0'
    assert "No version of executor 'multi' satisfies '>=3'" in lines[2] and '1.0, 2.0' in lines[2]
    assert 'Invalid version constraint' in lines[3]


def test_name_conflict_names_both_distributions(venv):
    out = check(venv, '''
        import psij
        try:
            psij.JobExecutor.get_instance('multi')
        except ValueError as e:
            print(e)
    ''')
    assert 'psij-multi-two' in out and 'psij-multi-clash' in out and '2.0' in out


def test_disabling_a_plugin_resolves_the_conflict(venv):
    out = check(venv, '''
        import psij
        ex = psij.JobExecutor.get_instance('multi')
        print(ex.version, type(ex).__module__)
        print(sorted(psij.JobExecutor.get_executor_names()))
    ''', env={'PSIJ_DISABLE_PLUGINS': 'psij-multi-clash, legacy_descriptors'})
    lines = out.splitlines()
    assert lines[0] == '2.0 multi_two.executor'
    assert "'legacy'" not in lines[1]


def test_broken_plugins_do_not_break_the_others(venv):
    out = check(venv, '''
        import psij
        print(type(psij.JobExecutor.get_instance('demo')).__name__)
        try:
            psij.JobExecutor.get_instance('lazybad')
        except ValueError as e:
            print('E1', e, '| cause:', type(e.__cause__).__name__)
        try:
            psij.JobExecutor.get_instance('nosuch')
        except ValueError as e:
            print('E2', e)
    ''')
    lines = out.splitlines()
    assert lines[0] == 'Exec'
    assert 'lazybad' in lines[1] and 'psij-broken-class' in lines[1]
    assert 'not_installed_dependency_xyz' in lines[1] and 'cause: ModuleNotFoundError' in lines[1]
    assert "No executor named 'nosuch'" in lines[2] and 'demo' in lines[2]
    assert 'fancy_sched_lib' in lines[2] and 'hook exploded' in lines[2]


def test_psij_plugins_command_shows_everything(venv):
    r = run(venv, 'from psij.cli.main import main; raise SystemExit(main(["plugins", "--json"]))')
    assert r.returncode == 1  # something failed to load, and the command says so
    data = json.loads(r.stdout)
    ex = {(e['name'], e['version']): e for e in data['executors']}
    demo = ex[('demo', '1.0')]
    assert demo['distribution'] == 'psij-demo' and demo['error'] is None
    assert ex[('demo', '1.0')]['aliases'] == ['dem']
    assert 'not_installed_dependency_xyz' in ex[('lazybad', '1.0')]['error']
    assert 'registered twice' in ex[('multi', '2.0')]['error']
    assert ex[('local', '0.1.0')]['distribution'] == 'psij-core'
    problems = {p['plugin']: p for p in data['problems']}
    assert 'fancy_sched_lib' in problems['broken-import']['error']
    assert problems['broken-import']['source'] == 'psij-broken-import'
    assert 'hook exploded' in problems['broken-hook']['error']
    r2 = run(venv, 'from psij.cli.main import main; raise SystemExit(main(["plugins"]))')
    assert 'demolaunch' in r2.stdout and 'Plugins that failed' in r2.stdout


def test_plugin_trace_env_var(venv):
    r = run(venv, 'import psij; psij.JobExecutor.get_instance("demo")',
            env={'PSIJ_TRACE_PLUGINS': '1'})
    assert r.returncode == 0
    assert 'loading plugin demo' in r.stderr and 'importing psij_demo.executor.Exec' in r.stderr


def test_python_m_psij(venv):
    r = run(venv, 'import runpy, sys; sys.argv = ["psij", "plugins", "--no-load"]; '
                  'runpy.run_module("psij", run_name="__main__")')
    assert 'demo' in r.stdout


def test_installed_here_too():
    # the test environment itself has psij-core registered through its entry point
    import importlib.metadata as m
    eps = [e for e in m.entry_points(group='psij') if e.dist.name == 'psij-core']
    assert [e.value for e in eps] == ['psij.plugins.builtin']
    assert pathlib.Path(__file__).exists()


BROKEN = 'psij-broken-import,psij-broken-hook'
NAMES_CODE = '''
    import sys, psij
    print(sorted(psij.JobExecutor.get_executor_names()), 'pluggy' in sys.modules)
'''


def test_discovery_cache_skips_pluggy_and_plugin_imports_until_something_changes(venv):
    env = {'PSIJ_DISABLE_PLUGINS': BROKEN}
    first = check(venv, NAMES_CODE, env).split(' True')
    assert "'demo'" in first[0] and len(first) == 2, first  # pluggy was needed the first time
    second = check(venv, NAMES_CODE, env)
    assert second.endswith('False\n') and second.split(' False')[0] == first[0]
    # editing a plugin module invalidates the cache
    plugin_file = check(venv, 'import psij_demo.plugin as p; print(p.__file__)', env).strip()
    st = pathlib.Path(plugin_file).stat()
    import os
    os.utime(plugin_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert check(venv, NAMES_CODE, env).endswith('True\n')
    assert check(venv, NAMES_CODE, env).endswith('False\n')
    # the cache can be turned off
    assert check(venv, NAMES_CODE, {**env, 'PSIJ_DISCOVERY_CACHE': '0'}).endswith('True\n')


def test_files_a_program_writes_in_its_directory_keep_the_cache(venv, tmp_path):
    """The current directory is on sys.path (python -c): the outputs a program writes there
    change its time, not its plugins; a distribution put there is seen."""
    env = {'PSIJ_DISABLE_PLUGINS': BROKEN}

    def names() -> str:
        r = run(venv, NAMES_CODE, env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout

    names()
    assert names().endswith('False\n')
    (tmp_path / 'output.txt').write_text('results')
    (tmp_path / 'more').mkdir()
    assert names().endswith('False\n')  # still from the cache
    # a distribution in the current directory (metadata and module) is a change
    proj = write_dist(tmp_path / 'src', 'psij-here', {
        'psij_here/__init__.py': '',
        'psij_here/plugin.py': PLUGIN_CODE.format(
            descs="Descriptor(name='here', version='1.0', cls='psij_here.executor.Exec')"),
        'psij_here/executor.py': EXECUTOR_CODE.format(cls='Exec'),
    }, entry_points={'here': 'psij_here.plugin'})
    install(venv, '--target', str(tmp_path), build_wheel(proj, tmp_path / 'wheels'))
    out = names()
    assert "'here'" in out and out.endswith('True\n'), out


def test_a_broken_plugin_is_never_cached(venv):
    for _ in range(2):
        out = check(venv, NAMES_CODE)
        assert out.endswith('True\n')  # discovery ran again and reported the broken plugins


def _fresh_venv(tmp_path, *projects):
    wheels = tmp_path / 'wheels'
    wheels.mkdir(exist_ok=True)
    py = make_venv(tmp_path / 'v')
    built = [build_wheel(p, wheels) for p in projects]
    if built:
        install(py, *built)
    return py


def test_a_plugin_inside_a_zip_file_is_found(tmp_path):
    # pex files, zipapps and eggs: distributions the hand-written reader could not see
    whl = build_wheel(simple_plugin(tmp_path / 'src', 'psij-zipped', 'psij_zipped', 'zipped',
                                    '2.0'), tmp_path)
    py = _fresh_venv(tmp_path)
    out = check(py, '''
        import psij
        ex = psij.JobExecutor.get_instance('zipped')
        print(type(ex).__module__, ex.version)
    ''', {'PYTHONPATH': str(whl)})
    assert out.split() == ['psij_zipped.executor', '2.0']


def test_a_changed_version_file_is_seen_through_the_cache(tmp_path):
    proj = write_dist(tmp_path / 'src', 'psij-versioned', {
        'psij_versioned/__init__.py': '',
        'psij_versioned/version.py': "VERSION = '1.0'\n",
        'psij_versioned/plugin.py': PLUGIN_CODE.format(
            descs="Descriptor(name='versioned', version=VERSION, "
                  "cls='psij_versioned.executor.Exec')").replace(
            'from psij.plugins import hookimpl',
            'from psij.plugins import hookimpl\nfrom psij_versioned.version import VERSION'),
        'psij_versioned/executor.py': EXECUTOR_CODE.format(cls='Exec'),
    }, entry_points={'versioned': 'psij_versioned.plugin'})
    py = _fresh_venv(tmp_path, proj)
    code = 'import psij; print(psij.JobExecutor.get_instance("versioned").version)'
    assert check(py, code).strip() == '1.0'
    assert check(py, code).strip() == '1.0'  # from the cache
    vfile = check(py, 'import psij_versioned.version as v; print(v.__file__)').strip()
    # another size too: Python's own .pyc check compares the source's size and mtime in seconds
    pathlib.Path(vfile).write_text("VERSION = '1.10'\n")
    assert check(py, code).strip() == '1.10'


def test_a_plugin_that_depends_on_more_than_its_files_is_never_cached(tmp_path):
    proj = write_dist(tmp_path / 'src', 'psij-envdep', {
        'psij_envdep/__init__.py': '',
        'psij_envdep/plugin.py': '''
            import os
            from psij.descriptor import Descriptor
            from psij.plugins import hookimpl
            PSIJ_DISCOVERY_CACHEABLE = False

            @hookimpl
            def psij_executors():
                return [Descriptor(name=os.environ.get('ENVDEP_NAME', 'envdep'), version='1.0',
                                   cls='psij_envdep.executor.Exec')]
        ''',
        'psij_envdep/executor.py': EXECUTOR_CODE.format(cls='Exec'),
    }, entry_points={'envdep': 'psij_envdep.plugin'})
    py = _fresh_venv(tmp_path, proj)
    code = 'import psij; print("envdep2" in psij.JobExecutor.get_executor_names())'
    assert check(py, code).strip() == 'False'
    assert check(py, code, {'ENVDEP_NAME': 'envdep2'}).strip() == 'True'


def test_a_cache_others_could_write_is_never_read(tmp_path):
    proj = simple_plugin(tmp_path / 'src', 'psij-honest', 'psij_honest', 'honest', '1.0')
    py = _fresh_venv(tmp_path, proj)
    code = 'import psij; print(psij.JobExecutor.get_instance("honest").__class__.__module__)'
    assert check(py, code).strip() == 'psij_honest.executor'
    cache_dir = py.parent.parent / 'cache' / 'psij'
    [cache_file] = list(cache_dir.glob('discovery-*.marshal'))
    data = marshal.loads(cache_file.read_bytes())
    for _, desc, _ in data['records']:
        if desc['cls'] == 'psij_honest.executor.Exec':
            desc['cls'] = 'psij.executors.local.LocalJobExecutor'
    forged = marshal.dumps(data)
    assert forged != cache_file.read_bytes()
    # the owner's own private file is trusted (which shows what a forged one could do)...
    cache_file.write_bytes(forged)
    assert check(py, code).strip() == 'psij.executors.local.local_executor'
    # ...but a file another user could have written (group/other-writable) is ignored
    os.chmod(cache_file, 0o666)
    assert check(py, code).strip() == 'psij_honest.executor'
    # a cache directory that is a symbolic link: ignored
    [cache_file] = list(cache_dir.glob('discovery-*.marshal'))
    cache_file.write_bytes(forged)
    os.chmod(cache_file, 0o600)
    os.rename(cache_dir, cache_dir.parent / 'elsewhere')
    os.symlink(cache_dir.parent / 'elsewhere', cache_dir)
    assert check(py, code).strip() == 'psij_honest.executor'


def test_psij_plugins_flags_a_misspelt_capability(tmp_path):
    proj = simple_plugin(tmp_path / 'src', 'psij-typo', 'psij_typo', 'typo', '1.0')
    plugin = proj / 'psij_typo' / 'plugin.py'
    plugin.write_text(plugin.read_text().replace(
        "aliases=['typo-alias'])", "aliases=['typo-alias'], "
        "unsupported={'memory_limit': 'a typo of memory_limits'})"))
    py = _fresh_venv(tmp_path, proj)
    r = run(py, 'from psij.cli.main import main; import sys; sys.exit(main(["plugins"]))')
    assert r.returncode == 1, r.stdout + r.stderr
    line = [x for x in r.stdout.splitlines() if x.strip().startswith('typo ')]
    assert line and 'unknown capabilities declared unsupported: memory_limit' in line[0], \
        r.stdout
