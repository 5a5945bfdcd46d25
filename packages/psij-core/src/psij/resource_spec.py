"""Resource requests: how many nodes, processes, cores, GPUs and how much memory a job needs."""

from __future__ import annotations

from abc import ABC, abstractmethod

from psij._checks import opt_count, type_error, value_error
from psij.exceptions import JobSpecValueError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

_OWNER = 'ResourceSpecV1'


class ResourceSpec(ABC):
    """The base class of all resource specifications."""

    @property
    @abstractmethod
    def version(self) -> int:
        """The version of this resource specification class."""

    @staticmethod
    def get_instance(version: int) -> ResourceSpec:
        """Returns an empty resource specification of the given version (only 1 exists)."""
        if version == 1:
            return ResourceSpecV1()
        raise ValueError('Unknown ResourceSpec version %r; known versions: 1' % (version,))


class ResourceSpecV1(ResourceSpec):
    """
    Version 1 of the PSI/J resource specification.

    ``process_count = node_count * processes_per_node``. When all three are given they must
    satisfy that equation; when two are given the third is inferred (the division must be
    exact); when one is given the others default so that the job runs on one node, except that
    ``node_count`` alone means one process per node. The inferred values are available as the
    ``computed_*`` properties; the fields keep what the user gave, ``None`` included.
    """

    __slots__ = ('node_count', 'process_count', 'processes_per_node', 'cpu_cores_per_process',
                 'gpu_cores_per_process', 'exclusive_node_use', 'memory')

    def __init__(self, node_count: int | None = None, process_count: int | None = None,
                 processes_per_node: int | None = None,
                 cpu_cores_per_process: int | None = None,
                 gpu_cores_per_process: int | None = None, exclusive_node_use: bool = False,
                 memory: int | None = None) -> None:
        """
        :param node_count: the number of compute nodes to allocate.
        :param process_count: the number of process instances (ranks) to start; default 1.
        :param processes_per_node: the number of process instances on each node.
        :param cpu_cores_per_process: CPU cores to reserve for each process.
        :param gpu_cores_per_process: GPUs to reserve for each process.
        :param exclusive_node_use: allocate whole nodes that run no other job.
        :param memory: total memory for the job, in bytes.
        :raises InvalidJobException: for counts below 1 or inconsistent counts.
        :raises TypeError: (as `JobSpecTypeError`) for values of the wrong type.
        """
        self.node_count = opt_count(_OWNER, 'node_count', node_count)
        self.process_count = opt_count(_OWNER, 'process_count', process_count)
        self.processes_per_node = opt_count(_OWNER, 'processes_per_node', processes_per_node)
        self.cpu_cores_per_process = opt_count(_OWNER, 'cpu_cores_per_process',
                                               cpu_cores_per_process)
        self.gpu_cores_per_process = opt_count(_OWNER, 'gpu_cores_per_process',
                                               gpu_cores_per_process, minimum=0)
        if not isinstance(exclusive_node_use, bool):
            raise type_error(_OWNER, 'exclusive_node_use', exclusive_node_use, 'a bool')
        self.exclusive_node_use = exclusive_node_use
        self.memory = opt_count(_OWNER, 'memory', memory)
        self._infer()

    def _infer(self) -> tuple[int, int, int]:
        """Returns (node_count, process_count, processes_per_node), inferred and checked."""
        n, p, ppn = self.node_count, self.process_count, self.processes_per_node
        if n is not None and p is not None and ppn is not None:
            if p != n * ppn:
                raise JobSpecValueError(
                    'The resources must satisfy process_count = node_count * '
                    'processes_per_node, but process_count=%s, node_count=%s, '
                    'processes_per_node=%s' % (p, n, ppn))
            return n, p, ppn
        if p is None:
            if n is None:
                ppn = 1 if ppn is None else ppn
                return 1, ppn, ppn
            ppn = 1 if ppn is None else ppn
            return n, n * ppn, ppn
        if n is not None:
            if p % n != 0:
                raise value_error(_OWNER, 'process_count', p,
                                  'must be a multiple of node_count (%s)' % n)
            return n, p, p // n
        if ppn is not None:
            if p % ppn != 0:
                raise value_error(_OWNER, 'process_count', p,
                                  'must be a multiple of processes_per_node (%s)' % ppn)
            return p // ppn, p, ppn
        return 1, p, p

    @property
    def computed_node_count(self) -> int:
        """`node_count` if given, else the count inferred from the other fields (at least 1)."""
        return self._infer()[0]

    @property
    def computed_process_count(self) -> int:
        """`process_count` if given, else the count inferred from the other fields."""
        return self._infer()[1]

    @property
    def computed_processes_per_node(self) -> int:
        """`processes_per_node` if given, else the count inferred from the other fields."""
        return self._infer()[2]

    @property
    def memory_kb(self) -> int | None:
        """`memory` in KiB (``memory // 1024``), or `None` if no memory was requested."""
        return None if self.memory is None else self.memory // 1024

    @property
    def version(self) -> int:
        """Always 1."""
        return 1

    def _fields(self) -> tuple[Any, ...]:
        return (self.node_count, self.process_count, self.processes_per_node,
                self.cpu_cores_per_process, self.gpu_cores_per_process,
                self.exclusive_node_use, self.memory)

    def __eq__(self, other: object) -> bool:
        """Equal when every field is equal."""
        if not isinstance(other, ResourceSpecV1):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        """Hash of all fields."""
        return hash(self._fields())

    def __repr__(self) -> str:
        """Lists the fields that are set."""
        names = ResourceSpecV1.__slots__
        parts = ['%s=%r' % (k, v) for k, v in zip(names, self._fields(), strict=True)
                 if v is not None and not (k == 'exclusive_node_use' and v is False)]
        return 'ResourceSpecV1(%s)' % ', '.join(parts)
