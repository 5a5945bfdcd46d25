"""
The kit's pytest plugin: the ``--psij-*`` options and the JSON report.

It is opt-in, never loaded by an unrelated pytest run::

    pytest -p psij.conformance.plugin --pyargs psij.conformance --psij-executor local \\
        --junitxml report/junit.xml --psij-report-json report/conformance.json

or ``psij conformance local --report-dir report``, which runs the same. A plugin's own test
file that subclasses the kit's classes may load it with
``pytest_plugins = ['psij.conformance.plugin']``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from psij.conformance.options import SETTINGS, Setting
from psij.conformance.report import ReportCollector

_TYPES = {'float': float, 'int': int}


def _add(group: pytest.OptionGroup, s: Setting) -> None:
    if s.kind in ('pairs', 'list'):
        group.addoption(s.flag, dest=s.dest, action='append', default=None, metavar='VALUE',
                        help=s.help + ' [env %s]' % s.env)
    else:
        default = '' if s.default is None else ' (default %s)' % s.default
        group.addoption(s.flag, dest=s.dest, default=None, type=_TYPES.get(s.kind, str),
                        help=s.help + default + ' [env %s]' % s.env)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds the ``--psij-*`` options."""
    group = parser.getgroup('psij-conformance', 'PSI/J conformance kit')
    for s in SETTINGS:
        _add(group, s)


def pytest_configure(config: pytest.Config) -> None:
    """Registers the report collector."""
    path = config.getoption('psij_report_json', None) or \
        os.environ.get('PSIJ_CONFORMANCE_REPORT_JSON')
    if not config.pluginmanager.has_plugin('psij-conformance-report'):
        config.pluginmanager.register(ReportCollector(config, Path(path) if path else None),
                                      'psij-conformance-report')
