"""The configuration of batch-scheduler executors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from psij.job_executor_config import JobExecutorConfig


class BatchSchedulerExecutorConfig(JobExecutorConfig):
    """Configuration of batch-scheduler executors."""

    def __init__(self, launcher_log_file: Optional[Path] = None,
                 work_directory: Optional[Path] = None, queue_polling_interval: float = 30,
                 initial_queue_polling_delay: float = 2,
                 queue_polling_error_threshold: int = 2, keep_files: bool = False,
                 file_check_interval: float = 0.5, command_timeout: float = 120,
                 command_directory: Optional[Path] = None,
                 ids_per_status_command: int = 2000) -> None:
        """
        :param launcher_log_file: see :class:`~psij.JobExecutorConfig`.
        :param work_directory: where submit scripts and job status files go (default
            ``~/.psij/work/<scheduler>``); on a cluster it must be on a filesystem shared by
            the login and compute nodes.
        :param queue_polling_interval: seconds between two status commands.
        :param initial_queue_polling_delay: seconds from a submit to the first status command.
        :param queue_polling_error_threshold: kept for psij-python compatibility; failing
            status commands never fail jobs here, they are retried with backoff.
        :param keep_files: keep submit scripts and job files after jobs end (also set by the
            ``PSIJ_BATCH_KEEP_FILES`` environment variable).
        :param file_check_interval: seconds between two looks at the files running jobs write
            (cheap, local: how fast starts and ends are noticed).
        :param command_timeout: seconds after which a scheduler command is abandoned.
        :param command_directory: the directory holding the scheduler's commands (``qsub``,
            ``sbatch``, ...); default: the ``PSIJ_<SCHEDULER>_COMMAND_DIR`` environment variable
            (e.g. ``PSIJ_PBS_COMMAND_DIR``), else the commands are looked up on ``PATH``.
            Several schedulers ship commands of the same name (OpenPBS, Grid Engine and
            Slurm's Torque wrappers all have ``qsub``): an absolute directory picks one.
        :param ids_per_status_command: the most job ids named in one status command; more
            active jobs than this are asked about in several commands per cycle (Linux limits
            one argument to 128 KiB and a command line to 2 MiB).
        """
        super().__init__(launcher_log_file, work_directory)
        self.queue_polling_interval = queue_polling_interval
        self.initial_queue_polling_delay = initial_queue_polling_delay
        self.queue_polling_error_threshold = queue_polling_error_threshold
        self.keep_files = keep_files or 'PSIJ_BATCH_KEEP_FILES' in os.environ
        self.file_check_interval = file_check_interval
        self.command_timeout = command_timeout
        self.command_directory = Path(command_directory) if command_directory else None
        self.ids_per_status_command = max(1, int(ids_per_status_command))

    @classmethod
    def _from_config(cls, config: JobExecutorConfig) -> BatchSchedulerExecutorConfig:
        new = cls()
        new.work_directory = config.work_directory
        new.launcher_log_file = config.launcher_log_file
        return new
