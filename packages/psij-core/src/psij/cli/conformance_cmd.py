"""``psij conformance NAME``: runs the conformance kit against an executor.

It runs pytest on :mod:`psij.conformance` in a child process (so that the checks see a fresh
registry and the kit's own process state), writes ``junit.xml`` and ``conformance.json`` to
``--report-dir``, and exits with pytest's exit code: 0 when every check passed or was skipped
with a declared reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List

from psij.conformance_settings import SETTINGS, Setting

_NOT_OPTIONS = ('executor', 'report_json')  # the NAME argument; --report-dir


def _cli_settings() -> List[Setting]:
    return [s for s in SETTINGS if s.name not in _NOT_OPTIONS]


def _add_options(p: argparse.ArgumentParser) -> None:
    # every setting of the kit, so that none works in pytest but not here
    for s in _cli_settings():
        flag = '--' + s.name.replace('_', '-')
        if s.kind in ('pairs', 'list'):
            p.add_argument(flag, dest=s.name, action='append', metavar='VALUE', help=s.help)
        elif s.kind == 'bool':
            p.add_argument(flag, dest=s.name, action='store_true', default=None, help=s.help)
        else:
            default = '' if s.default is None else ' (default %s)' % s.default
            # --remote: the spelling psij's other commands use for an ssh:// URL
            flags = [flag, '--remote'] if s.name == 'url' else [flag]
            p.add_argument(*flags, dest=s.name, type={'int': int, 'float': float}.get(s.kind, str),
                           help=s.help + default)
    p.add_argument('--report-dir',
                   help='where junit.xml and conformance.json go (default: %s)' % _REPORT_DIR)


_REPORT_DIR = 'psij-conformance-report'


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``conformance`` sub-command."""
    p = sub.add_parser(
        'conformance', help='check that an executor conforms to the PSI/J specification',
        usage='psij conformance NAME [options] [-- PYTEST_ARGS]',
        description='Runs the PSI/J conformance kit (needs pytest: pip install '
                    '"psij-core[conformance]") against an executor. Arguments after "--" go '
                    'to pytest, e.g. -- -k cancel.')
    p.add_argument('executor', metavar='NAME', help='the executor to check, e.g. local, slurm')
    _add_options(p)
    # argparse cannot mix options with a trailing "-- PYTEST_ARGS" after a positional, so
    # everything after NAME is parsed again in `run`
    p.add_argument('rest', nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _parse_rest(args: argparse.Namespace) -> List[str]:
    """Parses the options after NAME into `args`; returns the pytest arguments."""
    rest = list(args.rest)
    pytest_args: List[str] = []
    if '--' in rest:
        i = rest.index('--')
        rest, pytest_args = rest[:i], rest[i + 1:]
    inner = argparse.ArgumentParser(prog='psij conformance NAME', add_help=False,
                                    argument_default=argparse.SUPPRESS)
    _add_options(inner)
    # argparse drops a "--" that directly follows NAME, so what is not ours goes to pytest
    # (which rejects what it does not know either)
    _, unknown = inner.parse_known_args(rest, namespace=args)
    return unknown + pytest_args


def pytest_command(args: argparse.Namespace) -> List[str]:
    """The pytest command line that runs the kit with `args`' settings."""
    report = Path(args.report_dir or _REPORT_DIR).absolute()
    cmd = [sys.executable, '-m', 'pytest', '-p', 'psij.conformance.plugin',
           '-p', 'no:cacheprovider', '--pyargs', 'psij.conformance', '-rs',
           '--psij-executor', args.executor,
           '--junitxml', str(report / 'junit.xml'),
           '--psij-report-json', str(report / 'conformance.json')]
    for s in _cli_settings():
        value = getattr(args, s.name, None)
        if value is None:
            continue
        if s.kind in ('pairs', 'list'):
            for v in value:
                cmd += [s.flag, v]
        elif s.kind == 'bool':
            cmd += [s.flag] if value else []
        else:
            if s.name == 'work_dir':
                value = Path(value).absolute()
            cmd += [s.flag, str(value)]
    return cmd + list(getattr(args, 'pytest_args', None) or [])


def run(args: argparse.Namespace) -> int:
    """Runs the kit; returns pytest's exit code."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        print('psij conformance needs pytest: pip install "psij-core[conformance]"',
              file=sys.stderr)
        return 2
    args.pytest_args = _parse_rest(args)
    report = Path(args.report_dir or _REPORT_DIR)
    report.mkdir(parents=True, exist_ok=True)
    cmd = pytest_command(args)
    # run from the report directory so that no conftest.py or pytest.ini of the current
    # directory changes what the kit does
    return subprocess.call(cmd, cwd=report, env=dict(os.environ))
