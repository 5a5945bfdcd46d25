"""
The JSON summary a site can publish next to pytest's JUnit XML.

Its shape (``format`` 1)::

    {"format": 1, "kit": "psij.conformance", "psij_core_version": "0.1.0",
     "executor": "slurm", "executor_version": "0.1.0", "launcher": "srun",
     "site": "cluster.example.org", "started": "...", "finished": "...",
     "settings": {"queue": "debug", "account": null, ...every setting, as resolved},
     "unsupported": {"multi_node": "reason"}, "unknown_capabilities": [],
     "detected_missing": {"memory_limits": "scontrol show config: ..."},
     "detection_errors": [], "require_detected": false,
     "smoke": {"passed": true, "problem": null, "seen": ["..."], "seconds": 1.2},
     "scheduler_view": false,
     "summary": {"passed": 40, "failed": 0, "skipped": 3, "error": 0},
     "checks": [{"check": "ExitCodeChecks.test_exit_code[42]", "outcome": "passed",
                 "message": null, "capabilities": [], "duration": 0.02,
                 "nodeid": "..."}, ...]}

``outcome`` is ``passed``, ``failed``, ``skipped`` (``message`` says why) or ``error`` (the
check's set-up or tear-down failed; a check not run because the smoke job failed is an error
whose message begins ``not run: the executor failed the smoke job``).

``unsupported`` holds the capabilities declared missing (by the executor, its launcher or the
site); ``detected_missing`` those the kit found missing on this site without a declaration
(see :mod:`psij.conformance.site_detection`): their checks skipped, unless
``require_detected`` (then they ran).
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from psij.conformance.base import EXECUTOR_ERROR_KEY, NOT_RUN, RUN_INFO_KEY, RunInfo
from psij.conformance.options import SETTINGS, KitOptions
from psij.version import VERSION

OUTCOMES = ('passed', 'failed', 'skipped', 'error')


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _message(report: pytest.TestReport) -> Optional[str]:
    if report.passed:
        return None
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix('Skipped: ')
    crash = getattr(report.longrepr, 'reprcrash', None)
    if crash is not None:
        return str(crash.message).removeprefix('Failed: ')  # pytest.fail's own prefix
    return str(report.longrepr)[-2000:]



def _reason(message: Optional[str]) -> str:
    """A failure's reason for the JSON report: its message's first lines (up to 12, 4,000
    characters), not only the first one, which often only announces a list ("1 problems:",
    "X is not a complete executor; it must implement:")."""
    lines = (message or '').strip().splitlines()
    text = '\n'.join(lines[:12])
    return text[:4000]

class ReportCollector:
    """A pytest plugin object that collects outcomes and writes the JSON summary."""

    def __init__(self, config: pytest.Config, path: Optional[Path]) -> None:
        """:param path: where to write the summary; nothing is written if `None`."""
        self.config = config
        self.path = path
        self.started = _now()
        self.names: Dict[str, str] = {}
        self.checks: Dict[str, Dict[str, Any]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: List[pytest.Item]) -> None:
        """Names each check after the kit class that defines it."""
        for item in items:
            fn = getattr(item, 'function', None)
            qual = getattr(fn, '__qualname__', item.name)
            params = item.name[len(item.name.split('[')[0]):]
            self.names[item.nodeid] = qual + params

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Folds the set-up, call and tear-down reports of each check into one outcome."""
        c = self.checks.setdefault(report.nodeid, {
            'check': self.names.get(report.nodeid, report.nodeid.split('::')[-1]),
            'outcome': 'passed', 'message': None, 'capabilities': [], 'duration': 0.0,
            'nodeid': report.nodeid})
        c['duration'] = round(c['duration'] + report.duration, 3)
        c['capabilities'] = sorted({v for k, v in report.user_properties
                                    if k == 'psij_capability'})
        if report.passed or c['outcome'] in ('failed', 'error'):
            return
        if report.skipped:
            c['outcome'], c['message'] = 'skipped', _message(report)
        elif report.when == 'call':
            c['outcome'], c['message'] = 'failed', _message(report)
        else:
            c['outcome'], c['message'] = 'error', _message(report)

    def _options(self, info: Optional[RunInfo]) -> KitOptions:
        if info is not None and info.options is not None:
            return info.options
        try:
            return KitOptions.resolve(lambda d: self.config.getoption(d, None))
        except ValueError:
            return KitOptions()

    def summary(self) -> Dict[str, Any]:
        """The report as plain data."""
        info = self.config.stash.get(RUN_INFO_KEY, None)
        opts = self._options(info)
        counts = {o: 0 for o in OUTCOMES}
        for c in self.checks.values():
            counts[c['outcome']] += 1
        smoke = info.smoke if info else None
        return {
            'format': 1, 'kit': 'psij.conformance', 'psij_core_version': VERSION,
            'executor': info.executor if info else opts.executor,
            'executor_version': info.executor_version if info else None,
            'launcher': info.launcher if info else (opts.launcher or 'single'),
            'site': info.site if info else opts.site_id,
            'python': sys.version.split()[0], 'platform': platform.platform(),
            'started': self.started, 'finished': _now(),
            'settings': {s.name: getattr(opts, s.attribute) for s in SETTINGS},
            'unsupported': info.unsupported if info else {},
            'unknown_capabilities': info.unknown_capabilities if info else [],
            'detected_missing': info.detected_missing if info else {},
            'detection_errors': info.detection_errors if info else [],
            'require_detected': info.require_detected if info else False,
            'smoke': None if smoke is None else {
                'passed': smoke.ok, 'problem': smoke.problem, 'seen': smoke.seen,
                'seconds': round(smoke.seconds, 3)},
            'scheduler_view': info.scheduler_view if info else False,
            'executor_error': self.config.stash.get(EXECUTOR_ERROR_KEY, None),
            'summary': counts,
            'failures': [{'check': c['check'], 'outcome': c['outcome'],
                          'reason': _reason(c['message'])}
                         for c in self.checks.values() if c['outcome'] in ('failed', 'error')],
            'checks': list(self.checks.values()),
        }

    def _path(self) -> Optional[Path]:
        if self.path is not None:
            return self.path
        info = self.config.stash.get(RUN_INFO_KEY, None)
        if info is not None and info.options is not None and info.options.report_json:
            return Path(info.options.report_json)  # a test class's report_json attribute
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Writes the summary."""
        path = self._path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=2, ensure_ascii=False) + '\n')

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Lists declared-missing capabilities, detected-missing ones, unknown ones, the smoke
        job's failure, and where the report went; the failures last."""
        info = self.config.stash.get(RUN_INFO_KEY, None)
        if info is None:
            return
        tr = terminalreporter
        tr.section('psij conformance: %s %s (launcher %s) on %s'
                   % (info.executor, info.executor_version, info.launcher, info.site))
        for name, reason in sorted(info.unsupported.items()):
            tr.write_line('declared unsupported: %s: %s' % (name, reason))
        for name, reason in sorted(info.detected_missing.items()):
            tr.write_line('detected missing on this site%s: %s: %s'
                          % (' (required: its checks ran)' if info.require_detected else '',
                             name, reason))
        for problem in info.detection_errors:
            tr.write_line('WARNING: site detection: %s' % problem)
        for name in info.unknown_capabilities:
            tr.write_line('WARNING: unknown capability declared: %s' % name)
        skipped = [c for c in self.checks.values() if c['outcome'] == 'skipped']
        for c in skipped:
            tr.write_line('skipped %s: %s' % (c['check'], c['message']))
        path = self._path()
        if path is not None:
            tr.write_line('JSON report: %s' % path)
        # the failures last, where people look: the check and the first line of its reason;
        # the checks not run because of the smoke job are counted, not listed one by one
        bad = [c for c in self.checks.values() if c['outcome'] in ('failed', 'error')]
        not_run = [c for c in bad if NOT_RUN in (c['message'] or '')]
        for c in bad:
            if c in not_run:
                continue
            first = (c['message'] or '').strip().splitlines()
            tr.write_line('%s %s: %s' % ('FAILED' if c['outcome'] == 'failed' else 'ERROR',
                                         c['check'], first[0] if first else ''), red=True)
        if info.smoke is not None and not info.smoke.ok:
            for line in info.smoke.report().splitlines()[1:]:  # the first is in FAILED
                tr.write_line('  ' + line, red=True)
        if not_run:
            tr.write_line('%d other check(s) not run: the executor failed the smoke job'
                          % len(not_run), red=True)
        if bad:
            tr.write_line('%d check(s) failed against %s' % (len(bad), info.executor), red=True)
