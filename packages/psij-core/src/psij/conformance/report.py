"""
The JSON summary a site can publish next to pytest's JUnit XML.

Its shape (``format`` 1)::

    {"format": 1, "kit": "psij.conformance", "psij_core_version": "0.1.0",
     "executor": "slurm", "executor_version": "0.1.0", "launcher": "srun",
     "site": "cluster.example.org", "started": "...", "finished": "...",
     "settings": {"queue": "debug", "account": null, ...},
     "unsupported": {"multi_node": "reason"}, "unknown_capabilities": [],
     "scheduler_view": false,
     "summary": {"passed": 40, "failed": 0, "skipped": 3, "error": 0},
     "checks": [{"check": "ExitCodeChecks.test_exit_code[42]", "outcome": "passed",
                 "message": null, "capabilities": [], "duration": 0.02,
                 "nodeid": "..."}, ...]}

``outcome`` is ``passed``, ``failed``, ``skipped`` (``message`` says why) or ``error`` (the
check's set-up or tear-down failed).
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from psij.conformance.base import RUN_INFO_KEY
from psij.conformance.options import KitOptions
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
        return str(crash.message)
    return str(report.longrepr)[-2000:]


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

    def summary(self) -> Dict[str, Any]:
        """The report as plain data."""
        info = self.config.stash.get(RUN_INFO_KEY, None)
        opts = KitOptions.resolve(lambda d: self.config.getoption(d, None))
        counts = {o: 0 for o in OUTCOMES}
        for c in self.checks.values():
            counts[c['outcome']] += 1
        return {
            'format': 1, 'kit': 'psij.conformance', 'psij_core_version': VERSION,
            'executor': info.executor if info else opts.executor,
            'executor_version': info.executor_version if info else None,
            'launcher': info.launcher if info else (opts.launcher or 'single'),
            'site': info.site if info else opts.site_id,
            'python': sys.version.split()[0], 'platform': platform.platform(),
            'started': self.started, 'finished': _now(),
            'settings': {'url': opts.url, 'queue': opts.queue, 'account': opts.account,
                         'reservation': opts.reservation, 'attr': opts.attr,
                         'timeout': opts.timeout},
            'unsupported': info.unsupported if info else {},
            'unknown_capabilities': info.unknown_capabilities if info else [],
            'scheduler_view': info.scheduler_view if info else False,
            'summary': counts,
            'failures': [{'check': c['check'], 'outcome': c['outcome'],
                          'reason': ((c['message'] or '').strip().splitlines() or [''])[0]}
                         for c in self.checks.values() if c['outcome'] in ('failed', 'error')],
            'checks': list(self.checks.values()),
        }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Writes the summary."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.summary(), indent=2, ensure_ascii=False) + '\n')

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Lists declared-missing capabilities, unknown ones, and where the report went."""
        info = self.config.stash.get(RUN_INFO_KEY, None)
        if info is None:
            return
        tr = terminalreporter
        tr.section('psij conformance: %s %s (launcher %s) on %s'
                   % (info.executor, info.executor_version, info.launcher, info.site))
        for name, reason in sorted(info.unsupported.items()):
            tr.write_line('declared unsupported: %s: %s' % (name, reason))
        for name in info.unknown_capabilities:
            tr.write_line('WARNING: unknown capability declared: %s' % name)
        skipped = [c for c in self.checks.values() if c['outcome'] == 'skipped']
        for c in skipped:
            tr.write_line('skipped %s: %s' % (c['check'], c['message']))
        if self.path is not None:
            tr.write_line('JSON report: %s' % self.path)
        # the failures last, where people look: the check and the first line of its reason
        bad = [c for c in self.checks.values() if c['outcome'] in ('failed', 'error')]
        for c in bad:
            first = (c['message'] or '').strip().splitlines()
            tr.write_line('%s %s: %s' % ('FAILED' if c['outcome'] == 'failed' else 'ERROR',
                                         c['check'], first[0] if first else ''), red=True)
        if bad:
            tr.write_line('%d check(s) failed against %s' % (len(bad), info.executor), red=True)
