"""
The conformance kit's own tests: it passes a correct executor, catches each deliberately
broken one (see test_conformance_broken.py), and runs the three documented ways.

Each kit run is a real pytest run in a child process, with real jobs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLE_SRC = HERE.parents[2] / 'examples' / 'psij-executor-example' / 'src'

if not EXAMPLE_SRC.is_dir() and importlib.util.find_spec('psij_executor_example') is None:
    pytest.skip('the example executor, which the kit is checked with, is neither installed '
                'nor in the source tree', allow_module_level=True)
KIT = ['-p', 'psij.conformance.plugin', '-p', 'no:cacheprovider', '--pyargs',
       'psij.conformance']


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(HERE)] + [p for p in sys.path if p])
    env['PSIJ_CONFORMANCE_SELFTEST'] = '1'
    return env


def run_kit(tmp: Path, executor: str, *args: str, timeout: float = 10) \
        -> Tuple[int, Dict[str, Any], str]:
    """Runs the kit in a child pytest; returns (exit code, JSON report, output)."""
    report = tmp / 'report.json'
    cmd = [sys.executable, '-m', 'pytest', *KIT, '--psij-executor', executor,
           '--psij-import', 'test_conformance_broken', '--psij-work-dir', str(tmp / 'work'),
           '--psij-timeout', str(timeout), '--psij-report-json', str(report),
           '--junitxml', str(tmp / 'junit.xml'), '-q', *args]
    p = subprocess.run(cmd, cwd=tmp, env=_env(), capture_output=True, text=True)
    data = json.loads(report.read_text()) if report.exists() else {}
    return p.returncode, data, p.stdout + p.stderr


def outcomes(report: Dict[str, Any]) -> Dict[str, str]:
    """check name -> outcome."""
    return {c['check']: c['outcome'] for c in report.get('checks', [])}


def test_reference_executor_passes(tmp_path: Path) -> None:
    rc, report, out = run_kit(tmp_path, 'conformance-reference', timeout=60)
    assert rc == 0, out
    s = report['summary']
    assert s['failed'] == 0 and s['error'] == 0 and s['passed'] >= 30, s
    assert report['executor'] == 'conformance-reference'
    assert report['executor_version'] == '1.0'
    assert report['launcher'] == 'single'
    assert report['unsupported']['multi_node'] == 'one host'
    skipped = [c for c in report['checks'] if c['outcome'] == 'skipped']
    assert skipped and all(c['message'] for c in skipped), skipped
    by_name = {c['check']: c for c in report['checks']}
    multi = by_name['LaunchChecks.test_multi_node']
    assert multi['outcome'] == 'skipped' and 'one host' in multi['message']
    assert 'multi_node' in multi['capabilities']
    junit = (tmp_path / 'junit.xml').read_text()
    assert 'test_exit_code[42]' in junit


# executor, checks selected with -k, checks that must fail, checks that must pass
BROKEN: List[Tuple[str, str, List[str], List[str]]] = [
    ('broken-completed-nonzero', 'exit_code or states_of',
     ['ExitCodeChecks.test_exit_code[1]', 'ExitCodeChecks.test_exit_code[42]',
      'StateChecks.test_states_of_failed_job'],
     ['ExitCodeChecks.test_exit_code[0]', 'StateChecks.test_states_of_completed_job']),
    # (ACTIVE only after the end: the smoke job, which runs until it is seen ACTIVE, catches
    # it before any of these checks runs)
    ('broken-no-active', 'smoke or states_of or active_while',
     ['SmokeChecks.test_smoke_job'], []),
    ('broken-drops-env', 'byte_exact',
     ['EnvironmentChecks.test_environment_byte_exact'],
     ['EnvironmentChecks.test_arguments_byte_exact']),
    ('broken-drops-args', 'byte_exact',
     ['EnvironmentChecks.test_arguments_byte_exact'],
     ['EnvironmentChecks.test_environment_byte_exact']),
    ('broken-drops-args', 'hostile_arguments or hostile_environment',
     ['HostileInputChecks.test_hostile_arguments'],
     ['HostileInputChecks.test_hostile_environment']),
    ('broken-drops-env', 'hostile_environment',
     ['HostileInputChecks.test_hostile_environment'], []),
    ('broken-shell-paste', 'hostile_arguments or hostile_paths',
     ['HostileInputChecks.test_hostile_arguments'], ['HostileInputChecks.test_hostile_paths']),
    ('broken-two-finals', 'states_of or test_exit_code',
     ['StateChecks.test_states_of_completed_job', 'StateChecks.test_states_of_failed_job',
      'ExitCodeChecks.test_exit_code[0]'],
     []),
    ('broken-ignores-cancel', 'cancel',
     ['CancelChecks.test_cancel_running_job', 'CancelChecks.test_cancel_right_after_submit'],
     ['CancelChecks.test_cancel_finished_job']),
    ('broken-runs-invalid', 'invalid_spec',
     ['InvalidSpecChecks.test_invalid_spec_rejected[unknown_launcher]'],
     ['InvalidSpecChecks.test_invalid_spec_rejected[no_spec]',
      'InvalidSpecChecks.test_invalid_spec_rejected[inconsistent_resources]']),
    ('broken-drops-staging', 'declared_unsupported',
     ['DropInChecks.test_declared_unsupported_is_refused[staging-stage_in]',
      'DropInChecks.test_declared_unsupported_is_refused[staging-stage_out]',
      'DropInChecks.test_declared_unsupported_is_refused[staging-cleanup]'],
     []),
    ('broken-missing-exe-invalid', 'missing_executable or every_state',
     ['DropInChecks.test_missing_executable'],
     ['DropInChecks.test_failed_job_passes_through_every_state']),
]


@pytest.mark.parametrize('executor, selection, must_fail, must_pass', BROKEN,
                         ids=[b[0] for b in BROKEN])
def test_kit_catches_broken_executor(tmp_path: Path, executor: str, selection: str,
                                     must_fail: List[str], must_pass: List[str]) -> None:
    rc, report, out = run_kit(tmp_path, executor, '-k', selection, timeout=4)
    assert rc == 1, out
    got = outcomes(report)
    for name in must_fail:
        assert got.get(name) == 'failed', '%s: %s\n%s' % (name, got.get(name), out)
    for name in must_pass:
        assert got.get(name) == 'passed', '%s: %s\n%s' % (name, got.get(name), out)
    assert report['summary']['failed'] >= len(must_fail)
    # the failures are listed last, with a reason, and in the JSON report
    failures = {f['check']: f['reason'] for f in report['failures']}
    tail = out[out.index('psij conformance:'):]
    for name in must_fail:
        assert failures.get(name), (name, report['failures'])
        assert 'FAILED %s: ' % name in tail, tail


def test_cli_writes_reports_and_fails_on_failure(tmp_path: Path) -> None:
    def cli(executor: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, '-m', 'psij', 'conformance', executor, '--import',
             'test_conformance_broken', '--report-dir', str(report_dir), '--timeout', '20',
             '--work-dir', str(tmp_path / 'work'), '--site', 'test-site', '--attr',
             'example.colour=blue', '--', '-k', 'exit_code'],
            env=_env(), capture_output=True, text=True)

    ok = cli('conformance-reference', tmp_path / 'ok')
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads((tmp_path / 'ok' / 'conformance.json').read_text())
    assert report['site'] == 'test-site'
    assert report['settings']['attr'] == {'example.colour': 'blue'}
    assert report['summary']['passed'] == 3, report['summary']
    assert (tmp_path / 'ok' / 'junit.xml').exists()
    bad = cli('broken-completed-nonzero', tmp_path / 'bad')
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads((tmp_path / 'bad' / 'conformance.json').read_text())
    assert report['summary']['failed'] == 2, report['summary']


def test_subclass_in_a_plugin_test_file(tmp_path: Path) -> None:
    (tmp_path / 'test_mine.py').write_text(
        'import test_conformance_broken  # registers the executors\n'
        'from psij.conformance import ConformanceSuite\n\n\n'
        'class TestMine(ConformanceSuite):\n'
        "    executor = 'conformance-reference'\n")
    env = _env()
    env['PSIJ_CONFORMANCE_WORK_DIR'] = str(tmp_path / 'work')
    p = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                        '-k', 'exit_code or cancel', 'test_mine.py'],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert '7 passed' in p.stdout, p.stdout


def test_unknown_capability_is_reported(tmp_path: Path) -> None:
    rc, report, out = run_kit(tmp_path, 'conformance-reference', '-k', 'test_exit_code',
                              '--psij-unsupported', 'mulit_node=typo')
    assert rc == 0, out
    assert report['unknown_capabilities'] == ['mulit_node']
    assert 'unknown capability declared: mulit_node' in out


def test_missing_executor_is_a_usage_error(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, '-m', 'pytest', *KIT, '-q'], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert 'no executor given' in p.stdout + p.stderr


def test_cli_options_after_the_executor_name(tmp_path: Path) -> None:
    from psij.cli import conformance_cmd
    from psij.cli.main import build_parser

    args = build_parser().parse_args(
        ['conformance', 'local', '--launcher', 'multiple', '--attr', 'a=1', '--attr', 'b=2',
         '--report-dir', str(tmp_path), '--', '-k', 'cancel'])
    args.pytest_args = conformance_cmd._parse_rest(args)
    cmd = conformance_cmd.pytest_command(args)
    assert cmd[cmd.index('--psij-executor') + 1] == 'local'
    assert cmd[cmd.index('--psij-launcher') + 1] == 'multiple'
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == '--psij-attr'] == ['a=1', 'b=2']
    assert cmd[-2:] == ['-k', 'cancel']
    assert str(tmp_path / 'junit.xml') in cmd


# -- the history rules, on recorded callbacks -------------------------------------------------

def _history(states: List[str], executor_states: List[str] | None = None,
             **kwargs: Any) -> List[str]:
    from psij import Job, JobState, JobStatus
    from psij.conformance.harness import Recorder, history_problems

    rec, job = Recorder(), Job()
    for s in states:
        rec.record('job', job, JobStatus(JobState[s]))
    for s in states if executor_states is None else executor_states:
        rec.record('executor', job, JobStatus(JobState[s]))
    return history_problems(rec, job, **kwargs)


FULL = ['QUEUED', 'STAGE_IN', 'ACTIVE', 'STAGE_OUT', 'CLEANUP']


def test_history_rules_accept_correct_histories() -> None:
    from psij import JobState

    assert _history(FULL + ['COMPLETED'], final=JobState.COMPLETED) == []
    assert _history(['QUEUED', 'STAGE_IN', 'ACTIVE', 'FAILED']) == []
    assert _history(['QUEUED', 'CANCELED'], ran=False) == []


@pytest.mark.parametrize('states, kwargs, expected', [
    (FULL + ['COMPLETED', 'FAILED'], {}, 'exactly one final state'),
    (FULL, {}, 'exactly one final state'),
    (['QUEUED', 'ACTIVE', 'STAGE_OUT', 'CLEANUP', 'COMPLETED'], {}, 'without gaps'),
    (['QUEUED', 'STAGE_IN', 'FAILED'], {}, 'never reported ACTIVE'),
    (['QUEUED', 'STAGE_IN', 'ACTIVE', 'ACTIVE', 'FAILED'], {}, 'repeats'),
    (FULL + ['COMPLETED'], {'final': 'FAILED'}, 'expected final state FAILED'),
])
def test_history_rules_reject_wrong_histories(states: List[str], kwargs: Dict[str, Any],
                                              expected: str) -> None:
    from psij import JobState

    if 'final' in kwargs:
        kwargs['final'] = JobState[kwargs['final']]
    problems = _history(states, **kwargs)
    assert any(expected in p for p in problems), problems


def test_history_rules_compare_executor_callbacks() -> None:
    problems = _history(FULL + ['COMPLETED'], executor_states=['QUEUED', 'COMPLETED'])
    assert any('executor callback saw' in p for p in problems), problems


def test_settings_from_the_environment_count_like_the_command_line(tmp_path: Path) -> None:
    # the kit's test class declares `unsupported = {}`; that empty default must not hide
    # PSIJ_CONFORMANCE_UNSUPPORTED
    report = tmp_path / 'report.json'
    env = _env()
    env.update(PSIJ_CONFORMANCE_EXECUTOR='conformance-reference',
               PSIJ_CONFORMANCE_IMPORT='test_conformance_broken',
               PSIJ_CONFORMANCE_WORK_DIR=str(tmp_path / 'work'),
               PSIJ_CONFORMANCE_UNSUPPORTED='walltime=declared by the site,attach=also',
               PSIJ_CONFORMANCE_REPORT_JSON=str(report))
    p = subprocess.run([sys.executable, '-m', 'pytest', *KIT, '-q', '-k', 'walltime or exit_code'],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(report.read_text())
    assert data['unsupported'].get('walltime') == 'declared by the site', data['unsupported']
    assert data['unsupported'].get('attach') == 'also'
    assert outcomes(data).get('ResourceChecks.test_walltime_enforced') == 'skipped'


def test_a_scheduler_view_without_walltime_or_node_count_still_checks_the_queue(
        tmp_path: Path) -> None:
    view = ['--psij-queue', 'q1', '--psij-scheduler-view',
            'test_conformance_broken:queue_only_view', '-k', 'attributes_reach']
    (tmp_path / 'ok').mkdir()
    (tmp_path / 'bad').mkdir()
    rc, report, out = run_kit(tmp_path / 'ok', 'conformance-reference', *view, timeout=30)
    assert rc == 0, out
    assert outcomes(report) == {'ResourceChecks.test_attributes_reach_scheduler': 'passed'}
    rc, report, out = run_kit(tmp_path / 'bad', 'broken-drops-queue', *view, timeout=30)
    assert rc == 1, out


def test_kit_catches_a_silently_dropped_field(tmp_path: Path) -> None:
    view = ['--psij-queue', 'q1', '--psij-scheduler-view',
            'test_conformance_broken:scheduler_view', '-k', 'attributes_reach']
    (tmp_path / 'ok').mkdir()
    (tmp_path / 'bad').mkdir()
    rc, report, out = run_kit(tmp_path / 'ok', 'conformance-reference', *view, timeout=30)
    assert rc == 0, out
    assert outcomes(report) == {'ResourceChecks.test_attributes_reach_scheduler': 'passed'}
    rc, report, out = run_kit(tmp_path / 'bad', 'broken-drops-queue', *view, timeout=30)
    assert rc == 1, out
    reasons = {f['check']: f['reason'] for f in report['failures']}
    assert 'queue' in reasons.get('ResourceChecks.test_attributes_reach_scheduler', ''), reasons
