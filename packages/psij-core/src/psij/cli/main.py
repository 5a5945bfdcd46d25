"""Entry point of the ``psij`` command: builds the parser from the sub-command modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# Each module defines ``register(subparsers)``, which adds its sub-commands and sets
# ``func(args) -> int`` as the parser default.
COMMAND_MODULES = [
    'psij.cli.plugins_cmd',
    'psij.cli.job_cmds',
    'psij.cli.conformance_cmd',
]


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of the ``psij`` command."""
    from psij.version import VERSION

    parser = argparse.ArgumentParser(
        prog='psij', description='PSI/J: submit and follow jobs on local machines and batch '
                                 'schedulers.')
    parser.add_argument('--version', action='version', version='psij-core %s' % VERSION)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as ex:
            if ex.name == name:
                continue  # a command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the ``psij`` command; returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    func = getattr(args, 'func', None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
