"""Configuration shared by executors and launchers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Optional, Union


class JobExecutorConfig:
    """Configuration of a `JobExecutor`; subclasses add executor-specific settings."""

    DEFAULT: ClassVar['JobExecutorConfig']
    """The configuration used when none is given."""

    DEFAULT_WORK_DIRECTORY: ClassVar[Path] = Path.home() / '.psij' / 'work'
    """Where job files go when no work directory is given."""

    def __init__(self, launcher_log_file: Optional[Union[str, Path]] = None,
                 work_directory: Optional[Union[str, Path]] = None) -> None:
        """
        :param launcher_log_file: where launcher scripts log (including the output of pre- and
            post-launch scripts); not logged if `None`.
        :param work_directory: where submit scripts and job status files are written. On a
            cluster it must be on a filesystem shared by the login and compute nodes.
        """
        self._launcher_log_file = None if launcher_log_file is None else Path(launcher_log_file)
        self._work_directory = (JobExecutorConfig.DEFAULT_WORK_DIRECTORY if not work_directory
                                else Path(work_directory))

    @property
    def launcher_log_file(self) -> Optional[Path]:
        """Where launcher scripts log, or `None`."""
        return self._launcher_log_file

    @launcher_log_file.setter
    def launcher_log_file(self, value: Optional[Union[str, Path]]) -> None:
        self._launcher_log_file = None if value is None else Path(value)

    @property
    def work_directory(self) -> Path:
        """Where job files are written."""
        return self._work_directory

    @work_directory.setter
    def work_directory(self, value: Union[str, Path]) -> None:
        self._work_directory = Path(value)

    def __repr__(self) -> str:
        """The settings."""
        return '%s(launcher_log_file=%r, work_directory=%r)' % (
            type(self).__name__, self._launcher_log_file, self._work_directory)


JobExecutorConfig.DEFAULT = JobExecutorConfig()
