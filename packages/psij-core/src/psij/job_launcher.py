"""The `Launcher` base class: builds the command that starts a job's ranks."""

from __future__ import annotations

from abc import ABC, abstractmethod

from psij.descriptor import Descriptor
from psij.job_executor_config import JobExecutorConfig

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, List, Optional, Set

    from packaging.version import Version

    from psij.job import Job


class Launcher(ABC):
    """
    The base class of launchers.

    A launcher turns a job into the argv that starts all of its ranks on the job's nodes; the
    executor sources the pre-launch script before running it and the post-launch script after.
    """

    DEFAULT_LAUNCHER_NAME = 'single'
    """The launcher used when a job names none."""

    def __init__(self, config: Optional[JobExecutorConfig] = None) -> None:
        """:param config: the executor's configuration; the default one if `None`."""
        self.config = config if config is not None else JobExecutorConfig.DEFAULT

    @property
    def name(self) -> str:
        """The name this launcher was registered under."""
        name: str = getattr(type(self), '_NAME_', type(self).__name__)
        return name

    @property
    def version(self) -> Version:
        """The version this launcher was registered with."""
        from packaging.version import Version
        version: Version = getattr(type(self), '_VERSION_', Version('0'))
        return version

    @abstractmethod
    def get_launch_command(self, job: Job) -> List[str]:
        """The argv that starts all ranks of `job`."""

    @abstractmethod
    def is_launcher_failure(self, output: str) -> bool:
        """`True` if `output` (the launcher's combined stdout/stderr) shows the launcher
        itself failed, as opposed to the job."""

    @abstractmethod
    def get_launcher_failure_message(self, output: str) -> str:
        """The part of `output` that describes the launcher's failure."""

    @staticmethod
    def get_instance(name: str, version_constraint: Optional[str] = None,
                     config: Optional[JobExecutorConfig] = None) -> Launcher:
        """
        Returns an instance of a registered launcher.

        :raises ValueError: if no such launcher is available, or it failed to load.
        """
        from psij.job_executor import _stamp
        from psij.plugins import registry

        entry = registry.select('launcher', name, version_constraint)
        cls = registry.load_class(entry, Launcher)
        _stamp(cls, entry.desc)
        instance: Any = cls(config=config)
        result: Launcher = instance
        return result

    @staticmethod
    def get_launcher_names() -> Set[str]:
        """The names (and aliases) of all registered launchers."""
        from psij.plugins import registry

        return registry.names('launcher')

    @staticmethod
    def register_launcher(desc: Descriptor, root: Optional[str] = None) -> None:
        """
        Registers a launcher by descriptor, as psij-python allows.

        :raises ValueError: if another launcher is registered with the same name and version.
        """
        from psij.plugins import registry

        registry.discover()
        registry.register('launcher', desc, 'Launcher.register_launcher(%s)' % (root or ''),
                          strict=True)
