"""Registers the ``example`` executor with psij (named by the ``psij`` entry point)."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_executor_example.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``example`` executor, and what it cannot do."""
    return [Descriptor(
        name='example', version=VERSION,
        cls='psij_executor_example.executor.ExampleJobExecutor',
        unsupported={
            'multi_process': 'runs one process per job (only the "single" launcher)',
            'multi_node': 'runs every job on the submitting host',
            'walltime': 'does not enforce JobAttributes.duration',
            'memory_limits': 'does not enforce ResourceSpecV1.memory',
        })]
