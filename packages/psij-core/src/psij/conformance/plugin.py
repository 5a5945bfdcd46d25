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

from pathlib import Path
from typing import List

import pytest

from psij.conformance.options import (
    BY_NAME,
    SETTINGS,
    KitOptions,
    Setting,
    SettingError,
    resolve_value,
)
from psij.conformance.report import ReportCollector
from psij.conformance.smoke import SMOKE_CHECK

_TYPES = {'float': float, 'int': int}


def _add(group: pytest.OptionGroup, s: Setting) -> None:
    env = ' [env %s]' % s.env
    if s.kind in ('pairs', 'list'):
        group.addoption(s.flag, dest=s.dest, action='append', default=None, metavar='VALUE',
                        help=s.help + env)
    elif s.kind == 'bool':
        group.addoption(s.flag, dest=s.dest, action='store_true', default=None,
                        help=s.help + env)
    else:
        default = '' if s.default is None else ' (default %s)' % s.default
        group.addoption(s.flag, dest=s.dest, default=None, type=_TYPES.get(s.kind, str),
                        help=s.help + default + env)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds the ``--psij-*`` options."""
    group = parser.getgroup('psij-conformance', 'PSI/J conformance kit')
    for s in SETTINGS:
        _add(group, s)


def pytest_configure(config: pytest.Config) -> None:
    """Registers the report collector."""
    try:
        # every setting read now, so that a bad value stops the run before any check
        KitOptions.resolve(lambda dest: config.getoption(dest, None))
        s = BY_NAME['report_json']
        path = resolve_value(s, config.getoption(s.dest, None))
    except SettingError as ex:
        raise pytest.UsageError('psij conformance: %s' % ex) from None
    if not config.pluginmanager.has_plugin('psij-conformance-report'):
        config.pluginmanager.register(ReportCollector(config, Path(path) if path else None),
                                      'psij-conformance-report')


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Runs the smoke check first, so that its failure is the first one reported."""
    items.sort(key=lambda item: getattr(getattr(item, 'function', None), '__qualname__', '')
               != SMOKE_CHECK)
