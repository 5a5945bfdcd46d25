"""Mistakes planted in the tctl executor, one per class, for the tests of the messages."""

from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

from tctl.executor import TctlJobExecutor


class NoCancel(TctlJobExecutor):
    """Forgot the cancel hook."""

    get_cancel_command = BatchSchedulerExecutor.get_cancel_command
