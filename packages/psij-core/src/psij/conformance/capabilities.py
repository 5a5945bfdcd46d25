"""The capabilities an executor may declare it lacks: see :mod:`psij.capabilities` (kept there,
outside the kit, so that ``psij plugins`` can check declarations without importing pytest)."""

from psij.capabilities import (
    ALL,
    ATTACH,
    ATTACH_OTHER_PROCESS,
    DESCRIPTIONS,
    LIST,
    MEMORY_LIMITS,
    MULTI_NODE,
    MULTI_PROCESS,
    PRE_POST_LAUNCH,
    SIGNAL_EXIT,
    STAGING,
    SUBMITTER_ENVIRONMENT,
    WALLTIME,
)

__all__ = ['ALL', 'ATTACH', 'ATTACH_OTHER_PROCESS', 'DESCRIPTIONS', 'LIST', 'MEMORY_LIMITS',
           'MULTI_NODE', 'MULTI_PROCESS', 'PRE_POST_LAUNCH', 'SIGNAL_EXIT', 'STAGING',
           'SUBMITTER_ENVIRONMENT', 'WALLTIME']
