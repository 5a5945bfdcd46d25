"""
Plugins: how executors and launchers are found.

Quick start for a plugin author. In your distribution's ``pyproject.toml``::

    [project.entry-points.psij]
    my-executor = "my_pkg.psij_plugin"

and in ``my_pkg/psij_plugin.py``::

    from psij.descriptor import Descriptor
    from psij.plugins import hookimpl

    @hookimpl
    def psij_executors():
        return [Descriptor(name='mine', version='1.0', cls='my_pkg.executor.MyExecutor')]

The executor's module is imported only when ``JobExecutor.get_instance('mine')`` is called.
The hooks are documented in :mod:`psij.plugins.hookspecs`.

Environment variables:

- ``PSIJ_DISABLE_PLUGINS``: comma-separated entry-point names, distribution names or legacy
  descriptor module names not to load.
- ``PSIJ_TRACE_PLUGINS``: if set to a non-empty value, log (at WARNING level, to stderr if
  logging is not configured) every plugin loaded, every hook call and every class import.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    import pluggy

    hookimpl: pluggy.HookimplMarker
    """Decorates a plugin's implementation of a hook of :mod:`psij.plugins.hookspecs`."""

__all__ = ['hookimpl']


def __getattr__(name: str) -> Any:
    # pluggy is imported only when a plugin module asks for `hookimpl`: a program that finds
    # its executors in the discovery cache never imports it.
    if name == 'hookimpl':
        import pluggy

        marker = pluggy.HookimplMarker('psij')
        globals()['hookimpl'] = marker
        return marker
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
