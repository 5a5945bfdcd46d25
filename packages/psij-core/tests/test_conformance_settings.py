"""
Every setting of the kit works the same three ways: ``--psij-*`` on the command line,
``PSIJ_CONFORMANCE_*`` in the environment, an attribute of a test subclass (and ``psij
conformance --*`` passes every one on). Table-driven over ``SETTINGS``, so that a new setting
without a row here fails.

The resolution itself is checked directly (every setting x every way, the order between them,
merging, bad values); then three real kit runs, one per way, each with every setting given
that way, show that the run used them (the JSON report lists the resolved settings).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from psij.conformance_settings import BY_NAME, SETTINGS, KitOptions, Setting, SettingError
from test_conformance_kit import KIT, _env

# name -> (command-line words after the flag, as typed; environment value; class attribute
#          value; the resolved value)
ROWS: Dict[str, Tuple[List[str], str, Any, Any]] = {
    'executor': (['conformance-reference'], 'conformance-reference', 'conformance-reference',
                 'conformance-reference'),
    'launcher': (['single'], 'single', 'single', 'single'),
    'url': (['example://here'], 'example://here', 'example://here', 'example://here'),
    'queue': (['q1'], 'q1', 'q1', 'q1'),
    'account': (['acct 1'], 'acct 1', 'acct 1', 'acct 1'),
    'reservation': (['resv1'], 'resv1', 'resv1', 'resv1'),
    'attr': (['example.colour=blue', 'example.size=2'], 'example.colour=blue,example.size=2',
             {'example.colour': 'blue', 'example.size': '2'},
             {'example.colour': 'blue', 'example.size': '2'}),
    'work_dir': (['@WORK'], '@WORK', '@WORK', '@WORK'),
    'timeout': (['77.5'], '77.5', 77.5, 77.5),
    'smoke_timeout': (['25'], '25', 25, 25.0),
    'stuck_timeout': (['11'], '11', 11.0, 11.0),
    'site': (['site-x'], 'site-x', 'site-x', 'site-x'),
    'unsupported': (['walltime=why not', 'list=no list'], 'walltime=why not,list=no list',
                    {'walltime': 'why not', 'list': 'no list'},
                    {'walltime': 'why not', 'list': 'no list'}),
    'require_detected': ([], '1', True, True),
    'scheduler_view': (['test_conformance_broken:scheduler_view'],
                       'test_conformance_broken:scheduler_view',
                       'test_conformance_broken:scheduler_view',
                       'test_conformance_broken:scheduler_view'),
    'processes': (['3'], '3', 3, 3),
    'nodes': (['4'], '4', 4, 4),
    'bulk': (['7'], '7', 7, 7),
    'crash_jobs': (['6'], '6', 6, 6),
    'walltime': (['9'], '9', 9.0, 9.0),
    'import': (['test_conformance_broken'], 'test_conformance_broken',
               ['test_conformance_broken'], ['test_conformance_broken']),
    'report_json': (['@REPORT'], '@REPORT', '@REPORT', '@REPORT'),
}


def test_every_setting_has_a_row() -> None:
    assert set(ROWS) == set(BY_NAME)


def _cli_value(s: Setting, words: List[str]) -> Any:
    """What pytest's option parser hands the kit for these words (see plugin._add)."""
    if s.kind in ('pairs', 'list'):
        return list(words)
    if s.kind == 'bool':
        return True
    return {'int': int, 'float': float}.get(s.kind, str)(words[0])


def _resolve(cli: Optional[Dict[str, Any]] = None, owner: Any = None) -> KitOptions:
    cli = cli or {}
    return KitOptions.resolve(lambda dest: cli.get(dest), owner)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    return monkeypatch


@pytest.mark.parametrize('way', ['command line', 'environment', 'class attribute'])
@pytest.mark.parametrize('name', sorted(ROWS))
def test_each_setting_each_way(clean_env: pytest.MonkeyPatch, name: str, way: str) -> None:
    s = BY_NAME[name]
    words, env, attr, expected = ROWS[name]
    default = getattr(_resolve(), s.attribute)
    assert default != expected  # or the test could not fail
    if way == 'command line':
        opts = _resolve({s.dest: _cli_value(s, words)})
    elif way == 'environment':
        clean_env.setenv(s.env, env)
        opts = _resolve()
    else:
        owner = type('TestSite', (), {s.attribute: attr})
        opts = _resolve(owner=owner)
    assert getattr(opts, s.attribute) == expected


# -- the order between the ways -------------------------------------------------------------------

class _Site:
    timeout = 10.0
    queue = 'from-class'
    unsupported = {'walltime': 'class', 'list': 'class'}
    attr = {'a': 'class'}
    import_ = ['mod_class']


def test_command_line_beats_environment_beats_class(clean_env: pytest.MonkeyPatch) -> None:
    assert _resolve(owner=_Site).timeout == 10.0
    clean_env.setenv('PSIJ_CONFORMANCE_TIMEOUT', '20')
    assert _resolve(owner=_Site).timeout == 20.0
    assert _resolve({'psij_timeout': 30.0}, _Site).timeout == 30.0
    assert _resolve({'psij_queue': 'cli'}, _Site).queue == 'cli'


def test_empty_class_defaults_do_not_hide_the_environment(
        clean_env: pytest.MonkeyPatch) -> None:
    class Empty:
        unsupported: Dict[str, str] = {}
        executor = None
    clean_env.setenv('PSIJ_CONFORMANCE_UNSUPPORTED', 'walltime=env')
    clean_env.setenv('PSIJ_CONFORMANCE_EXECUTOR', 'from-env')
    opts = _resolve(owner=Empty)
    assert opts.unsupported == {'walltime': 'env'} and opts.executor == 'from-env'


def test_pairs_and_lists_are_merged(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv('PSIJ_CONFORMANCE_UNSUPPORTED', 'list=env,attach=env')
    clean_env.setenv('PSIJ_CONFORMANCE_IMPORT', 'mod_env, mod_class')
    opts = _resolve({'psij_unsupported': ['attach=cli'], 'psij_import': ['mod_cli'],
                     'psij_attr': ['b=cli']}, _Site)
    assert opts.unsupported == {'walltime': 'class', 'list': 'env', 'attach': 'cli'}
    assert opts.attr == {'a': 'class', 'b': 'cli'}
    assert opts.import_ == ['mod_class', 'mod_env', 'mod_cli']


def test_kit_base_methods_are_not_settings(clean_env: pytest.MonkeyPatch) -> None:
    from psij.conformance import ConformanceSuite

    # scheduler_view is a hook method of the test class, not a MODULE:FUNCTION string
    assert _resolve(owner=ConformanceSuite).scheduler_view is None


@pytest.mark.parametrize('where, value, words', [
    ('env', ('PSIJ_CONFORMANCE_TIMEOUT', 'soon'), 'PSIJ_CONFORMANCE_TIMEOUT must be a number'),
    ('env', ('PSIJ_CONFORMANCE_BULK', '2.5'), 'PSIJ_CONFORMANCE_BULK must be an integer'),
    ('env', ('PSIJ_CONFORMANCE_REQUIRE_DETECTED', 'maybe'),
     'PSIJ_CONFORMANCE_REQUIRE_DETECTED must be 1 or 0'),
    ('env', ('PSIJ_CONFORMANCE_UNSUPPORTED', 'walltime'),
     'PSIJ_CONFORMANCE_UNSUPPORTED must be NAME=VALUE'),
    ('cli', ('psij_attr', ['novalue']), '--psij-attr must be NAME=VALUE'),
    ('class', ('timeout', 'soon'), 'TestSite.timeout must be a number'),
    ('class', ('processes', '2'), None),
    ('class', ('unsupported', 42), 'TestSite.unsupported has the wrong type'),
])
def test_bad_values_name_their_source(clean_env: pytest.MonkeyPatch, where: str,
                                      value: Tuple[str, Any], words: Optional[str]) -> None:
    key, v = value
    cli: Dict[str, Any] = {}
    owner = None
    if where == 'env':
        clean_env.setenv(key, v)
    elif where == 'cli':
        cli[key] = v
    else:
        owner = type('TestSite', (), {key: v})
    if words is None:  # a number given as a string in a class is read like the environment's
        assert _resolve(cli, owner).processes == 2
        return
    with pytest.raises(SettingError) as ei:
        _resolve(cli, owner)
    assert words in str(ei.value)


def test_bad_environment_value_is_a_usage_error(tmp_path: Path) -> None:
    env = _env()
    env['PSIJ_CONFORMANCE_TIMEOUT'] = 'soon'
    p = subprocess.run([sys.executable, '-m', 'pytest', *KIT, '-q', '--psij-executor',
                        'conformance-reference', '--psij-import', 'test_conformance_broken'],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    out = p.stdout + p.stderr
    assert p.returncode == 4, out  # pytest's usage error
    assert "the environment variable PSIJ_CONFORMANCE_TIMEOUT must be a number, not 'soon'" \
        in out, out
    assert 'Traceback' not in out


# -- the three ways, each in a real run of the kit -----------------------------------------------

def _fill(value: Any, work: Path, report: Path) -> Any:
    if isinstance(value, str):
        return value.replace('@WORK', str(work)).replace('@REPORT', str(report))
    if isinstance(value, list):
        return [_fill(v, work, report) for v in value]
    return value


def _expected(work: Path, report: Path) -> Dict[str, Any]:
    return {name: _fill(row[3], work, report) for name, row in ROWS.items()}


@pytest.mark.parametrize('way', ['command line', 'environment', 'class attribute'])
def test_a_kit_run_uses_every_setting_given_one_way(tmp_path: Path, way: str) -> None:
    work, report = tmp_path / 'work', tmp_path / 'report.json'
    env = _env()
    for s in SETTINGS:
        env.pop(s.env, None)
    select = ['-q', '-k', 'test_smoke_job']
    if way == 'command line':
        args = [*KIT]
        for name, (words, _, _, _) in ROWS.items():
            s = BY_NAME[name]
            if s.kind == 'bool':
                args.append(s.flag)
            for w in _fill(words, work, report):
                args += [s.flag, w]
    elif way == 'environment':
        args = [*KIT]
        for name, (_, value, _, _) in ROWS.items():
            env[BY_NAME[name].env] = _fill(value, work, report)
    else:
        lines = ['import test_conformance_broken  # registers the executors',
                 'from psij.conformance import ConformanceSuite', '', '',
                 'class TestSite(ConformanceSuite):']
        for name, (_, _, value, _) in ROWS.items():
            lines.append('    %s = %r' % (BY_NAME[name].attribute, _fill(value, work, report)))
        (tmp_path / 'test_site.py').write_text('\n'.join(lines) + '\n')
        args = ['-p', 'psij.conformance.plugin', '-p', 'no:cacheprovider', 'test_site.py']
    p = subprocess.run([sys.executable, '-m', 'pytest', *args, *select], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    data = json.loads(report.read_text())
    assert data['settings'] == _expected(work, report)
    assert data['executor'] == 'conformance-reference' and data['site'] == 'site-x'
    assert data['unsupported']['walltime'] == 'why not'
    assert data['require_detected'] is True
    assert data['scheduler_view'] is True
    assert data['summary']['passed'] == 1, data['summary']
    assert work.is_dir() and any(work.iterdir())  # the kit's files went to work_dir


def test_psij_conformance_passes_every_setting_on(tmp_path: Path) -> None:
    from psij.cli import conformance_cmd
    from psij.cli.main import build_parser

    argv = ['conformance', 'conformance-reference']
    for name, (words, _, _, _) in ROWS.items():
        s = BY_NAME[name]
        if name in ('executor', 'report_json'):
            continue  # the NAME argument; --report-dir
        flag = '--' + name.replace('_', '-')
        if s.kind == 'bool':
            argv.append(flag)
        for w in _fill(words, tmp_path, tmp_path):
            argv += [flag, w]
    args = build_parser().parse_args(argv + ['--report-dir', str(tmp_path)])
    args.pytest_args = conformance_cmd._parse_rest(args)
    cmd = conformance_cmd.pytest_command(args)
    for name, (words, _, _, _) in ROWS.items():
        s = BY_NAME[name]
        if name == 'executor':
            assert cmd[cmd.index(s.flag) + 1] == 'conformance-reference'
        elif name == 'report_json':
            assert cmd[cmd.index(s.flag) + 1] == str(tmp_path / 'conformance.json')
        elif s.kind == 'bool':
            assert s.flag in cmd
        else:
            given = [cmd[i + 1] for i, a in enumerate(cmd) if a == s.flag]
            assert _cli_value(s, given) == _cli_value(s, _fill(words, tmp_path, tmp_path)), \
                (name, given)
