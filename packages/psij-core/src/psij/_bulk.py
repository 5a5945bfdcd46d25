"""
What `JobExecutor.submit_many` and `JobExecutor.attach_many` do for every executor: the checks
of the list, the default loops, and how a job the backend refused is reported.

A refused job is never left half-submitted: it ends ``FAILED`` (its callbacks are called like
those of any job), with the refusal as the status message and the exception itself in the
status metadata under ``'submit_exception'``. Jobs accepted before or after it run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Tuple

from psij._log import get_logger
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus

if TYPE_CHECKING:
    from psij.job_executor import JobExecutor

logger = get_logger(__name__)

SUBMIT_EXCEPTION = 'submit_exception'
"""The key of the refusal in the metadata of a refused job's ``FAILED`` status."""


def check_list(jobs: Iterable[Job]) -> List[Job]:
    """
    The jobs as a list, checked: each a `Job`, none twice.

    :raises TypeError: for an item that is not a `Job`.
    :raises ValueError: for a job given twice (it would be submitted twice).
    """
    out = list(jobs)
    seen = set()
    for j in out:
        if not isinstance(j, Job):
            raise TypeError('submit_many() takes psij.Job objects, not %r' % (j,))
        if id(j) in seen:
            raise ValueError('Job %s appears twice in the list given to submit_many()' % j.id)
        seen.add(id(j))
    return out


def refuse(executor: JobExecutor, job: Job, ex: Exception) -> None:
    """Ends `job` ``FAILED`` because `executor` could not submit it (see the module doc)."""
    if job.status.state is not JobState.NEW:
        return  # e.g. submitted twice, or it was given an earlier state by its executor
    if job.executor is None:
        job.executor = executor
    elif job.executor is not executor:
        # bound to another executor: not ours to fail (its submit refused it for that)
        logger.warning('Job %s not submitted by %s: %s', job.id, executor, ex)
        return
    job._set_status(JobStatus(JobState.FAILED, message='Submission refused: %s' % (ex,),
                              metadata={SUBMIT_EXCEPTION: ex}))


def submit_each(executor: JobExecutor, jobs: List[Job]) -> List[Job]:
    """The default `submit_many`: `submit` for each job in turn; returns the refused jobs."""
    refused = []
    for job in jobs:
        try:
            executor.submit(job)
        except Exception as ex:
            refuse(executor, job, ex)
            refused.append(job)
    return refused


def check_pairs(pairs: Iterable[Tuple[Job, str]]) -> List[Tuple[Job, str]]:
    """
    The ``(job, native id)`` pairs given to `JobExecutor.attach_many` as a list, checked.

    :raises TypeError: for an item that is not a pair of a `Job` and a non-empty string.
    :raises ValueError: for a job given twice.
    """
    out = list(pairs)
    seen = set()
    for item in out:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Job)
                and isinstance(item[1], str) and item[1]):
            raise TypeError('attach_many() takes (psij.Job, native id) pairs, not %r'
                            % (item,))
        if id(item[0]) in seen:
            raise ValueError('Job %s appears twice in the list given to attach_many()'
                             % item[0].id)
        seen.add(id(item[0]))
    return out


def attach_each(executor: JobExecutor,
                pairs: List[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
    """The default `attach_many`: `attach` for each pair in turn; returns the refusals."""
    refused: List[Tuple[Job, Exception]] = []
    for job, native_id in pairs:
        try:
            executor.attach(job, native_id)
        except Exception as ex:
            refused.append((job, ex))
    return refused
