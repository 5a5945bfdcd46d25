"""
PSI/J executor for Flux.

Use it by name, ``JobExecutor.get_instance('flux')``; the class is
:class:`psij_flux.executor.FluxJobExecutor` (also importable as
``psij.executors.flux.FluxJobExecutor``, psij-python's path). How a `JobSpec` becomes a Flux
jobspec is in :mod:`psij_flux.jobspec`, how Flux results become PSI/J statuses in
:mod:`psij_flux.results`, and how the Python bindings are found in :mod:`psij_flux.bindings`.
"""

from psij_flux.version import VERSION

__all__ = ['VERSION']
