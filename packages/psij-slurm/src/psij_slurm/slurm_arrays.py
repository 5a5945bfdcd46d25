"""
Slurm job arrays for `SlurmJobExecutor.submit_many`: one ``sbatch --array=0-N`` per chunk of
at most ``MaxArraySize`` elements (``scontrol show config``; Slurm's default 1001), elements
named ``ARRAYID_INDEX`` as Slurm names them (``squeue``, ``scancel`` and ``sacct`` with
slurmdbd take those ids).

Array elements need their own status lines: ``squeue --array`` lists each element on its own
line (pending ones too, which squeue otherwise folds into ``123_[4-9]``) and the ``JobArrayID``
field prints ``123_4`` for an element and the plain id for any other job, so one status
command still serves every job (see `status_command`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from psij.executors.batch import job_files
from psij.executors.batch.arrays import ArrayScheme
from psij.job import Job

if TYPE_CHECKING:
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

DEFAULT_MAX_ARRAY_SIZE = 1001
"""Slurm's default ``MaxArraySize`` (indices 0 to 1000)."""

ARRAY_SQUEUE_FIELDS = 'JobArrayID:|,State:|,Reason:|,exit_code:|'


def status_command(native_ids: Iterable[str]) -> List[str]:
    """One ``squeue`` for plain jobs and array elements (``123_4``) alike, one line each."""
    ids = ','.join(native_ids)
    if not ids:
        raise ValueError('no job ids')
    return ['squeue', '--noheader', '--states=all', '--array', '--jobs=' + ids,
            '--Format=' + ARRAY_SQUEUE_FIELDS]


def parse_max_array_size(config: str) -> Optional[int]:
    """``MaxArraySize`` from ``scontrol show config`` output, if present."""
    m = re.search(r'^\s*MaxArraySize\s*=\s*(\d+)', config, re.MULTILINE)
    return int(m.group(1)) if m else None


class SlurmArrays(ArrayScheme):
    """``sbatch --array``; see the module documentation."""

    index_variable = 'SLURM_ARRAY_TASK_ID'
    element_id_expression = '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'

    default_max_size = DEFAULT_MAX_ARRAY_SIZE
    max_size_command = ['scontrol', 'show', 'config']

    def parse_max_size(self, out: str) -> Optional[int]:
        """See `parse_max_array_size`."""
        return parse_max_array_size(out)

    def submit_command(self, executor: BatchSchedulerExecutor, job: Job, script: Path,
                       first: int, last: int, token: str) -> List[str]:
        """``sbatch --parsable --array=F-L --output=<work dir>/%A_%a.TOKEN.out script``: the
        output option names Slurm's own messages after the element's id, as the script names
        its output."""
        out = executor.work_directory / job_files.output_name('%A_%a', token)
        return ['sbatch', '--parsable', '--array=%d-%d' % (first, last), '--output=' + str(out),
                str(script)]

    def element_id(self, array_id: str, index: int) -> str:
        """``ARRAYID_INDEX``."""
        return '%s_%d' % (array_id, index)
