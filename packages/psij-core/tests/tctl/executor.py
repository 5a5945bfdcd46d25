"""
The ``tctl`` executor: PSI/J on :mod:`tctl` (one program with subcommands, ids like ``t.17``, a
JSON status document), on the batch framework, written from the guide alone. The tests plant
one mistake at a time in subclasses of it and check the message that names the cause.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Collection, Dict, List

from psij import Job, JobState, JobStatus
from psij.exceptions import SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutor,
    InvalidJobStateError,
)
from psij.executors.batch.script_writer import directive_value

_STATES = {'pending': JobState.QUEUED, 'running': JobState.ACTIVE,
           'killed': JobState.CANCELED}


class TctlJobExecutor(BatchSchedulerExecutor):
    """Runs jobs with ``tctl`` (from ``PSIJ_TCTL_COMMAND_DIR``)."""

    _NAME_ = 'tctl'
    job_id_variable = 'TCTL_JOB_ID'
    native_id_pattern = re.compile(r't\.\d+')
    native_id_example = 't.17'
    honoured_fields = frozenset({'queue_name', 'account', 'duration'})

    def get_directives(self, job: Job, context: Dict[str, Any]) -> List[str]:
        """``#TCTL`` lines: queue, account, time limit in seconds."""
        assert job.spec is not None
        attrs = job.spec.attributes
        lines = ['#TCTL --time=%d' % max(1, int(attrs.duration.total_seconds()))]
        if attrs.queue_name is not None:
            lines.append('#TCTL --queue=%s' % directive_value('JobAttributes.queue_name',
                                                               attrs.queue_name))
        if attrs.account is not None:
            lines.append('#TCTL --account=%s' % directive_value('JobAttributes.account',
                                                                 attrs.account))
        return lines

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        """``tctl submit SCRIPT``."""
        return ['tctl', 'submit', str(submit_file_path)]

    def job_id_from_submit_output(self, out: str) -> str:
        """``Submitted job t.N``."""
        m = re.fullmatch(r'Submitted job (\S+)', out.strip())
        if m is None:
            raise SubmitException('tctl submit printed no job id: %r' % out)
        return m.group(1)

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """``tctl dump ID...``: one JSON document for all."""
        return ['tctl', 'dump', *native_ids]

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """The document's jobs; a document that does not parse is a failed command."""
        if exit_code != 0:
            raise RuntimeError('tctl dump failed: %s' % out)
        try:
            jobs = json.loads(out)['jobs']
            result = {}
            for rec in jobs:
                if rec['state'] == 'done':
                    code = int(rec['exit'])
                    result[rec['id']] = JobStatus(
                        JobState.COMPLETED if code == 0 else JobState.FAILED, exit_code=code)
                else:
                    result[str(rec['id'])] = JobStatus(_STATES[rec['state']])
        except (ValueError, KeyError, TypeError) as ex:
            raise RuntimeError('tctl dump printed no status document: %s' % ex) from ex
        return result

    def get_cancel_command(self, native_id: str) -> List[str]:
        """``tctl kill ID``."""
        return ['tctl', 'kill', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        """Exit code 3: the job had already finished."""
        if exit_code == 3:
            raise InvalidJobStateError(out)
        raise SubmitException('tctl kill failed: %s' % out)

    def get_list_command(self) -> List[str]:
        """``tctl list`` (a JSON document)."""
        return ['tctl', 'list']

    def parse_list_output(self, out: str) -> List[str]:
        """The ids in the document."""
        return [str(rec['id']) for rec in json.loads(out)['jobs']]
