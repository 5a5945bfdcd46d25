"""
PBS job arrays for `PBSJobExecutor.submit_many`: one ``qsub -J 0-N`` per chunk of at most the
server's ``max_array_size`` (``qmgr -c 'list server max_array_size'``; 10000 by default).
``qsub`` prints the array's id (``12[].server``); element *i* is ``12[i].server``, which is
also its ``$PBS_JOBID`` inside the job, and which ``qstat -x -f -F json``, ``qdel`` and
``attach`` take like any job id (the status command asks about a whole array with ``-t``:
see `status_ids`). PBS refuses a one-element array: single jobs go one by one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

from psij.exceptions import SubmitException
from psij.executors.batch.arrays import ArrayScheme
from psij.job import Job

if TYPE_CHECKING:
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

DEFAULT_MAX_ARRAY_SIZE = 10000
"""OpenPBS's default ``max_array_size``."""

_SUBJOB = re.compile(r'^(\d+)\[\d+\](.*)$')


def status_ids(native_ids: Iterable[str]) -> Tuple[List[str], bool]:
    """
    The ids to give ``qstat`` for `native_ids`, and whether it needs ``-t``: subjobs
    (``12[7].server``) are asked about through their array (``-t 12[].server`` lists every
    subjob), as qstat answers each id it is given with a request of its own (a thousand
    subjob ids: minutes; their array with ``-t``: seconds).
    """
    out: Dict[str, None] = {}
    arrays = False
    for nid in native_ids:
        m = _SUBJOB.match(nid)
        if m:
            arrays = True
            out['%s[]%s' % (m.group(1), m.group(2))] = None
        else:
            out[nid] = None
    return list(out), arrays


def parse_max_array_size(out: str) -> Optional[int]:
    """``max_array_size`` from ``qmgr -c 'list server max_array_size'``, if present."""
    m = re.search(r'max_array_size\s*=\s*(\d+)', out)
    return int(m.group(1)) if m else None


class PbsArrays(ArrayScheme):
    """``qsub -J``; see the module documentation."""

    index_variable = 'PBS_ARRAY_INDEX'
    element_id_expression = '"${PBS_JOBID}"'

    default_max_size = DEFAULT_MAX_ARRAY_SIZE
    max_size_command = ['qmgr', '-c', 'list server max_array_size']

    def parse_max_size(self, out: str) -> Optional[int]:
        """See `parse_max_array_size`."""
        return parse_max_array_size(out)

    def submit_command(self, executor: BatchSchedulerExecutor, job: Job, script: Path,
                       first: int, last: int, token: str) -> List[str]:
        """``qsub -J F-L script``."""
        return ['qsub', '-J', '%d-%d' % (first, last), str(script)]

    def array_id(self, executor: BatchSchedulerExecutor, out: str) -> str:
        """``12[].server``."""
        array_id = executor.job_id_from_submit_output(out)
        if '[]' not in array_id:
            raise SubmitException('qsub -J printed %r, not an array id' % out.strip())
        return array_id

    def element_id(self, array_id: str, index: int) -> str:
        """``12[i].server``."""
        return array_id.replace('[]', '[%d]' % index, 1)
