"""
psij-python's import path of the Cobalt executor (``psij.executors.batch.cobalt``).

The executor lives in the psij-cobalt distribution (``psij_cobalt``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_cobalt.cobalt import CobaltExecutorConfig, CobaltJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The Cobalt executor is in the psij-cobalt distribution: '
                      'pip install psij-cobalt') from ex

__all__ = ['CobaltExecutorConfig', 'CobaltJobExecutor']
