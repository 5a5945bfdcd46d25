"""Mistakes planted in the tctl executor, one per class, for the tests of the messages."""

from typing import Any, Dict, List

from psij import Job
from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

from tctl.executor import TctlJobExecutor


class NoCancel(TctlJobExecutor):
    """Forgot the cancel hook."""

    get_cancel_command = BatchSchedulerExecutor.get_cancel_command


class NoAccount(TctlJobExecutor):
    """Declares the account honoured but never writes it."""

    _NAME_ = 'tctl'

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """The directives without the account."""
        return [d for d in super().get_directives(job, context) if '--account' not in d]
