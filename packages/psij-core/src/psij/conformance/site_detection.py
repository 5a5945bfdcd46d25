"""
What this site does not provide, found out rather than declared.

A site may run a scheduler configured differently from the one an executor was written for:
a Slurm without memory enforcement lets a memory hog complete, and the kit's memory check
would fail although the executor is right. The executor's package may therefore ship, in its
``conformance`` module (the one that also holds ``scheduler_view``), a function::

    def missing_capabilities(executor: JobExecutor) -> Dict[str, str]:
        '''{capability: why this site lacks it}, e.g. from ``scontrol show config``.'''

The kit calls it once per run. A check needing a capability detected as missing skips with
that reason and says how to declare it (``--psij-unsupported NAME=REASON``); the report lists
such capabilities apart from the declared ones. A CI that knows its cluster makes them fail
instead: ``--psij-require-detected`` (``PSIJ_CONFORMANCE_REQUIRE_DETECTED=1``), or
``PSIJ_REQUIRE_<EXECUTOR>=1`` (``PSIJ_REQUIRE_SLURM=1`` for ``slurm``), the variable the
project's own CI sets for each scheduler it starts.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from psij import JobExecutor
from psij.capabilities import ALL

HOOK = 'missing_capabilities'
"""The name of the function the kit looks for in ``<package>.conformance``."""

Detector = Callable[[JobExecutor], Dict[str, str]]


@dataclass
class Detection:
    """What detection found."""

    missing: Dict[str, str] = field(default_factory=dict)
    """Capability name -> why this site lacks it."""
    errors: List[str] = field(default_factory=list)
    """Why detection itself failed or returned something unusable (reported, not fatal)."""


def find_detector(executor: JobExecutor) -> Optional[Detector]:
    """The ``missing_capabilities`` function of the executor's package, if it has one."""
    package = type(executor).__module__.split('.')[0]
    if package == 'psij':
        return None  # the core's own executors need no detection; psij.conformance is the kit
    name = package + '.conformance'
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as ex:
        if ex.name == name:
            return None
        raise
    fn: Optional[Detector] = getattr(mod, HOOK, None)
    return fn


def detect_missing(executor: JobExecutor, detector: Optional[Detector] = None) -> Detection:
    """Runs `detector` (by default the one of the executor's package) against `executor`."""
    out = Detection()
    try:
        fn = detector or find_detector(executor)
    except Exception as ex:
        out.errors.append('cannot import the conformance module of %s: %s: %s'
                          % (executor.name, type(ex).__name__, ex))
        return out
    if fn is None:
        return out
    try:
        found = fn(executor)
    except Exception as ex:  # a broken probe must not stop the kit: it is reported
        out.errors.append('%s.%s failed: %s: %s'
                          % (getattr(fn, '__module__', '?'), HOOK, type(ex).__name__, ex))
        return out
    for cap, reason in found.items():
        if cap in ALL:
            out.missing[cap] = str(reason)
        else:
            out.errors.append('%s detected an unknown capability %r as missing' % (HOOK, cap))
    return out


def require_variable(executor_name: str) -> str:
    """The ``PSIJ_REQUIRE_<EXECUTOR>`` variable for an executor name."""
    return 'PSIJ_REQUIRE_' + re.sub(r'[^A-Z0-9]', '_', executor_name.upper())


def required_by_environment(executor_name: str, setting: bool) -> bool:
    """Whether checks of capabilities detected as missing must run (and fail) anyway."""
    return setting or os.environ.get(require_variable(executor_name)) == '1'
