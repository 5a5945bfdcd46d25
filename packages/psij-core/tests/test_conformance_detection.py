"""
Capabilities the site is found not to provide: their checks skip with a message that says
what is missing and how to declare it, the report lists them apart from the declared ones,
and a CI that knows its cluster (``PSIJ_REQUIRE_<EXECUTOR>=1`` or ``--psij-require-detected``)
runs them anyway. A broken probe is reported, never fatal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
from test_conformance_kit import _env, outcomes

SITE = '''import test_conformance_broken  # registers the executors
from psij.conformance import ConformanceSuite


class TestSite(ConformanceSuite):
    executor = 'conformance-reference'
    report_json = %(report)r
    work_dir = %(work)r

    def missing_capabilities(self, executor):
        %(body)s
'''
FOUND = "return {'attach': 'this site forgets jobs (probe said so)', 'walltime': 'also'}"


def _run(tmp: Path, body: str, *args: str, **env_extra: str) -> Tuple[int, Dict[str, Any], str]:
    report = tmp / 'report.json'
    (tmp / 'test_site.py').write_text(SITE % {'report': str(report), 'work': str(tmp / 'w'),
                                             'body': body})
    env = _env()
    env.pop('PSIJ_REQUIRE_CONFORMANCE_REFERENCE', None)
    env.update(env_extra)
    p = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'psij.conformance.plugin', '-p',
                        'no:cacheprovider', '-q', 'test_site.py', '-k',
                        'attach_from_new_instance or smoke', *args],
                       cwd=tmp, env=env, capture_output=True, text=True)
    data = json.loads(report.read_text()) if report.exists() else {}
    return p.returncode, data, p.stdout + p.stderr


def test_detected_missing_capability_skips_and_is_reported(tmp_path: Path) -> None:
    rc, report, out = _run(tmp_path, FOUND)
    assert rc == 0, out
    # walltime is declared by the executor: the declaration wins, it is not "detected"
    assert report['detected_missing'] == {'attach': 'this site forgets jobs (probe said so)'}
    assert 'attach' not in report['unsupported']
    assert report['unsupported']['walltime'] == 'not enforced'
    check = {c['check']: c for c in report['checks']}['AttachChecks.test_attach_from_new_instance']
    assert check['outcome'] == 'skipped'
    assert check['message'].startswith(
        'capability attach detected as missing on this site: this site forgets jobs (probe '
        'said so) (declare it with --psij-unsupported attach=REASON'), check['message']
    assert 'detected missing on this site: attach: this site forgets jobs' in out


@pytest.mark.parametrize('how', ['variable', 'option'])
def test_ci_requires_detected_capabilities(tmp_path: Path, how: str) -> None:
    if how == 'variable':
        rc, report, out = _run(tmp_path, FOUND, PSIJ_REQUIRE_CONFORMANCE_REFERENCE='1')
    else:
        rc, report, out = _run(tmp_path, FOUND, '--psij-require-detected')
    assert rc == 0, out
    assert report['require_detected'] is True
    assert report['detected_missing'] == {'attach': 'this site forgets jobs (probe said so)'}
    # the check ran (and the reference executor passes it)
    assert outcomes(report)['AttachChecks.test_attach_from_new_instance'] == 'passed'
    assert 'detected missing on this site (required: its checks ran): attach' in out


def test_broken_probe_is_reported_not_fatal(tmp_path: Path) -> None:
    rc, report, out = _run(tmp_path, "raise RuntimeError('scontrol: command not found')")
    assert rc == 0, out
    assert report['detected_missing'] == {}
    assert len(report['detection_errors']) == 1
    assert "RuntimeError: scontrol: command not found" in report['detection_errors'][0]
    assert 'WARNING: site detection: ' in out
    assert outcomes(report)['AttachChecks.test_attach_from_new_instance'] == 'passed'


def test_unknown_capability_from_a_probe_is_reported(tmp_path: Path) -> None:
    rc, report, out = _run(tmp_path, "return {'mulit_node': 'typo'}")
    assert rc == 0, out
    assert report['detected_missing'] == {}
    assert "unknown capability 'mulit_node'" in report['detection_errors'][0]


def test_detector_of_the_executor_package(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # without an override, the kit asks <package>.conformance.missing_capabilities
    from psij.conformance import site_detection

    pkg = tmp_path / 'sitepkg'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'conformance.py').write_text(
        'def missing_capabilities(executor):\n'
        "    return {'memory_limits': 'no enforcement on ' + executor.name}\n")
    (pkg / 'executor.py').write_text(
        'from psij.executors.local import LocalJobExecutor\n\n\n'
        'class SiteExecutor(LocalJobExecutor):\n'
        '    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    import sitepkg.executor  # type: ignore[import-not-found]

    ex = sitepkg.executor.SiteExecutor()
    found = site_detection.detect_missing(ex)
    assert found.missing == {'memory_limits': 'no enforcement on %s' % ex.name}
    assert found.errors == []
    from psij import JobExecutor
    assert site_detection.detect_missing(JobExecutor.get_instance('local')).missing == {}
