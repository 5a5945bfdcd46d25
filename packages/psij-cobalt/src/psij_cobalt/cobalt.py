"""
psij-python's module name for the Cobalt executor (``psij.executors.batch.cobalt``).

Code written for psij-python imports ``CobaltJobExecutor`` and ``CobaltExecutorConfig`` from
there; this module re-exports them so that an alias of that path only needs
``from psij_cobalt.cobalt import *``.
"""

from psij_cobalt.executor import CobaltExecutorConfig, CobaltJobExecutor

__all__ = ['CobaltExecutorConfig', 'CobaltJobExecutor']
