"""
The hooks a psij plugin may implement.

A plugin is a module named by an entry point of the ``psij`` group; it implements any of the
hooks below with functions of the same name decorated with :data:`psij.plugins.hookimpl`. Each
hook returns descriptors only: the classes they name are imported on first use.

Since psij-core 0.1.
"""

from __future__ import annotations

from typing import Iterable

import pluggy

from psij.descriptor import Descriptor

hookspec = pluggy.HookspecMarker('psij')


# -- registration -------------------------------------------------------------------------------

@hookspec
def psij_executors() -> Iterable[Descriptor]:
    """
    Returns descriptors of the executors this plugin provides.

    Who implements it: any distribution that adds executors. Example, a complete plugin module
    (named in ``pyproject.toml`` as ``[project.entry-points.psij] example = "example_plugin"``)::

        from psij.descriptor import Descriptor
        from psij.plugins import hookimpl

        @hookimpl
        def psij_executors():
            return [
                Descriptor(name='example', version='1.2.0',
                           cls='example_executor.ExampleJobExecutor',
                           aliases=['ex'],
                           unsupported={'multi_node': 'runs everything on one host'}),
            ]

    after which ``psij.JobExecutor.get_instance('example')`` imports ``example_executor`` and
    returns an ``ExampleJobExecutor``.
    """
    raise NotImplementedError


@hookspec
def psij_launchers() -> Iterable[Descriptor]:
    """
    Returns descriptors of the launchers this plugin provides.

    Who implements it: any distribution that adds launchers. Example::

        from psij.descriptor import Descriptor
        from psij.plugins import hookimpl

        @hookimpl
        def psij_launchers():
            return [Descriptor(name='mylaunch', version='0.3',
                               cls='mylaunch_pkg.launcher.MyLauncher')]

    after which ``JobSpec(launcher='mylaunch')`` runs jobs through ``MyLauncher``.
    """
    raise NotImplementedError


@hookspec
def psij_transports() -> Iterable[Descriptor]:
    """
    Returns descriptors of the transports this plugin provides: ways to reach executors of
    another host, selected by the scheme of the URL given to ``JobExecutor.get_instance``.

    Who implements it: a distribution that runs executors elsewhere (psij-remote registers
    ``ssh``). The descriptor's name is the URL scheme; its class is a `JobExecutor` whose
    constructor takes ``url``, ``config``, and the keyword arguments ``executor`` (the name
    given to ``get_instance``) and ``version_constraint``. Example::

        from psij.descriptor import Descriptor
        from psij.plugins import hookimpl

        @hookimpl
        def psij_transports():
            return [Descriptor(name='ssh', version='0.1',
                               cls='psij_remote.executor.RemoteJobExecutor')]

    after which ``JobExecutor.get_instance('slurm', url='ssh://login1')`` returns a
    ``RemoteJobExecutor`` for the ``slurm`` executor of ``login1``.

    Since psij-core 0.2.
    """
    raise NotImplementedError
