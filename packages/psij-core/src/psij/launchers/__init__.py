"""
Launchers shipped with psij-core: ``single``, and the script-based launcher base.

The names psij-python exports here (``from psij.launchers import MultipleLauncher``, as
executors and launchers written for psij-python do) are given too: those of launchers that
psij-launchers provides are imported from it on first use only, so that ``import psij``
stays cheap; without psij-launchers installed, using one is an `ImportError` saying what to
install.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List, Tuple

_EXPORTS: Dict[str, Tuple[str, str]] = {
    'Launcher': ('psij.job_launcher', 'Launcher'),
    'SingleLauncher': ('psij.launchers.single', 'SingleLauncher'),
    'ScriptBasedLauncher': ('psij.launchers.script_based_launcher', 'ScriptBasedLauncher'),
    'MultipleLauncher': ('psij_launchers.multiple', 'MultipleLauncher'),
    'MPILauncher': ('psij_launchers.mpirun', 'MpirunLauncher'),
    'MpirunLauncher': ('psij_launchers.mpirun', 'MpirunLauncher'),
    'SrunLauncher': ('psij_launchers.srun', 'SrunLauncher'),
    'JsrunLauncher': ('psij_launchers.jsrun', 'JsrunLauncher'),
    'AprunLauncher': ('psij_launchers.aprun', 'AprunLauncher'),
    'IbrunLauncher': ('psij_launchers.ibrun', 'IbrunLauncher'),
}
"""Exported name -> (module, class name), imported when first asked for."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Imports an exported launcher class on first use (PEP 562)."""
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    module, cls = where
    try:
        value = getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as ex:
        if ex.name is None or not module.startswith(ex.name):
            raise
        raise ImportError('psij.launchers.%s is provided by the psij-launchers distribution, '
                          'which is not installed (pip install psij-launchers)' % name,
                          name=name) from ex
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
