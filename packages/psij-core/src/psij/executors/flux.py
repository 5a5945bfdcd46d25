"""
psij-python's import path of the Flux executor (``psij.executors.flux``).

The executor lives in the psij-flux distribution (``psij_flux``); this module only keeps
programs that import it from psij-python's path working.
"""

try:
    from psij_flux.executor import FluxExecutorConfig, FluxJobExecutor
except ImportError as ex:  # pragma: no cover - depends on what is installed
    raise ImportError('The Flux executor is in the psij-flux distribution: '
                      'pip install psij-flux') from ex

__all__ = ['FluxExecutorConfig', 'FluxJobExecutor']
