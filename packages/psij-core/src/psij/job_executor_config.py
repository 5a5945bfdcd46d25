"""Configuration shared by executors and launchers."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from pathlib import Path
    from typing import ClassVar, Optional, Union


class _ConfigType(type):
    # DEFAULT_WORK_DIRECTORY is computed on first access so that `import psij` does not import
    # pathlib (a fifth of psij's import time).
    _default_work_directory: Optional[Path] = None

    @property
    def DEFAULT_WORK_DIRECTORY(cls) -> Path:  # noqa: N802 (psij-python's name)
        """Where job files go when no work directory is given: ``~/.psij/work``."""
        if _ConfigType._default_work_directory is None:
            from pathlib import Path
            _ConfigType._default_work_directory = Path.home() / '.psij' / 'work'
        return _ConfigType._default_work_directory

    @DEFAULT_WORK_DIRECTORY.setter
    def DEFAULT_WORK_DIRECTORY(cls, value: Union[str, Path]) -> None:  # noqa: N802
        from pathlib import Path
        _ConfigType._default_work_directory = Path(value)


class JobExecutorConfig(metaclass=_ConfigType):
    """Configuration of a `JobExecutor`; subclasses add executor-specific settings."""

    DEFAULT: ClassVar[JobExecutorConfig]
    """The configuration used when none is given."""

    def __init__(self, launcher_log_file: Optional[Union[str, Path]] = None,
                 work_directory: Optional[Union[str, Path]] = None) -> None:
        """
        :param launcher_log_file: where launcher scripts log (including the output of pre- and
            post-launch scripts); not logged if `None`.
        :param work_directory: where submit scripts and job status files are written (default
            ``~/.psij/work``). On a cluster it must be on a filesystem shared by the login and
            compute nodes.
        """
        self._launcher_log_file = launcher_log_file
        self._work_directory = work_directory

    @property
    def launcher_log_file(self) -> Optional[Path]:
        """Where launcher scripts log, or `None`."""
        v = self._launcher_log_file
        if v is None:
            return None
        from pathlib import Path
        return Path(v)

    @launcher_log_file.setter
    def launcher_log_file(self, value: Optional[Union[str, Path]]) -> None:
        self._launcher_log_file = value

    @property
    def work_directory(self) -> Path:
        """Where job files are written."""
        v = self._work_directory
        if not v:
            return type(self).DEFAULT_WORK_DIRECTORY
        from pathlib import Path
        return Path(v)

    @work_directory.setter
    def work_directory(self, value: Union[str, Path]) -> None:
        self._work_directory = value

    def __repr__(self) -> str:
        """The settings."""
        return '%s(launcher_log_file=%r, work_directory=%r)' % (
            type(self).__name__, self.launcher_log_file, self.work_directory)


JobExecutorConfig.DEFAULT = JobExecutorConfig()
