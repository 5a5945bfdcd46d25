"""Registers the ``toybatch`` executor with psij (entry point ``psij``)."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_batch_example.version import VERSION


@hookimpl
def psij_executors() -> List[Descriptor]:
    """The ``toybatch`` executor, and what it cannot do."""
    return [Descriptor(
        name='toybatch', version=VERSION,
        cls='psij_batch_example.executor.ToyBatchJobExecutor',
        unsupported={
            'multi_node': 'toyq runs every job on this host',
            'memory_limits': 'toyq does not limit memory',
        })]
