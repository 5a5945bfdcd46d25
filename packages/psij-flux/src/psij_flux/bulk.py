"""
`FluxJobExecutor.submit_many`: every job handed to the executor's submitter at once, which
sends them to Flux as one pipeline of submissions through the bindings (the bindings'
equivalent of ``flux submit --cc``, which also makes one Flux job per element: Flux has no
array object, every job keeps its own id, states, cancel and attach).

A job Flux refuses ends ``FAILED`` with Flux's message (see :mod:`psij._bulk`); a job whose
specification is wrong is refused before anything is sent for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List

from psij import _bulk
from psij.job import Job
from psij.job_state import JobState

if TYPE_CHECKING:
    from psij_flux.executor import FluxJobExecutor


def submit_many(executor: FluxJobExecutor, jobs: Iterable[Job]) -> List[Job]:
    """See the module documentation; returns the refused jobs, in the order given."""
    todo = _bulk.check_list(jobs)
    refused: List[Job] = []
    queued: List[Job] = []
    for job in todo:
        try:
            executor._submit(job, True)
            queued.append(job)
        except Exception as ex:
            _bulk.refuse(executor, job, ex)
            refused.append(job)
    for job in queued:
        # accepted (QUEUED, or later) or refused (FAILED): the submitter decides each soon
        job.wait(target_states=[JobState.QUEUED])
        if job.native_id is None:
            refused.append(job)
    ids = {id(j) for j in refused}
    return [j for j in todo if id(j) in ids]  # in the order given
