"""
The ``toybatch`` executor: PSI/J on the ``toyq`` scheduler (:mod:`psij_batch_example.toyq`),
built on psij's batch-scheduler framework.

The framework writes the job script (environment, directory, stdio, launcher, the files that
record the job's start and exit code), follows every job with one status command per cycle,
and reports states; this class supplies only what is specific to ``toyq``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Collection, Dict, List

from psij import Job, JobState, JobStatus
from psij.exceptions import SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutor,
    InvalidJobStateError,
)
from psij.executors.batch.exit_codes import limit_exceeded
from psij.executors.batch.script_writer import directive_value

_TOYQ = [sys.executable, '-m', 'psij_batch_example.toyq']
_STATES = {'QUEUED': JobState.QUEUED, 'RUNNING': JobState.ACTIVE,
           'CANCELLED': JobState.CANCELED, 'TIMEOUT': JobState.FAILED}


class ToyBatchJobExecutor(BatchSchedulerExecutor):
    """Runs jobs on ``toyq``; see the module documentation."""

    _NAME_ = 'toybatch'

    job_id_variable = 'TOYQ_JOB_ID'
    """toyq's variable holding the job's id inside the job."""

    honoured_fields = frozenset({'queue_name', 'duration', 'custom_attributes'})
    """What toyq can be asked for; a job asking for more (memory, nodes...) is refused."""

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """``#TOYQ`` lines: name, queue, time (seconds), and ``toybatch.*`` attributes."""
        spec = job.spec
        assert spec is not None
        attrs = spec.attributes
        name = re.sub(r'[^A-Za-z0-9_.-]', '_', spec.name or job.id)
        lines = ['#TOYQ --name=%s' % name]
        if attrs.queue_name is not None:
            lines.append('#TOYQ --queue=%s' % directive_value('JobAttributes.queue_name',
                                                               attrs.queue_name))
        lines.append('#TOYQ --time=%d' % max(1, int(attrs.duration.total_seconds())))
        for key, value in context['custom_attributes'].items():  # validated by the base
            lines.append('#TOYQ --%s=%s' % (key, value))
        return lines

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``toyq submit SCRIPT``."""
        return _TOYQ + ['submit', str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """toyq prints the id alone."""
        return out.strip()

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """One ``toyq status`` for all jobs."""
        return _TOYQ + ['status', *native_ids]

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """``ID STATE EXIT_CODE`` lines; DONE is COMPLETED or FAILED by its exit code."""
        if exit_code != 0:
            raise RuntimeError('toyq status failed: %s' % out)
        result = {}
        for line in out.splitlines():
            native_id, state, code = line.split()
            exit_code_ = None if code == '-' else int(code)
            if state == 'DONE':
                st = JobState.COMPLETED if exit_code_ == 0 else JobState.FAILED
                result[native_id] = JobStatus(st, exit_code=exit_code_)
            elif state == 'TIMEOUT':
                # psij's one answer for a walltime kill: FAILED, no exit code, "walltime
                # exceeded..." (docs/one-event-one-answer.md)
                result[native_id] = limit_exceeded('walltime', detail='toyq: time limit')
            else:
                result[native_id] = JobStatus(_STATES[state])
        return result

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``toyq cancel ID``."""
        return _TOYQ + ['cancel', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """An ended job is no error; anything else is."""
        if 'already ended' in out or 'no job' in out:
            raise InvalidJobStateError(out)
        raise SubmitException('toyq cancel failed: %s' % out)

    def get_list_command(self) -> List[str]:
        """``toyq list``."""
        return _TOYQ + ['list']
