"""Run many jobs from one asyncio event loop, and a bulk submission, with psij.

    python docs/examples/async_jobs.py              # 100 local jobs
    python docs/examples/async_jobs.py slurm 1000   # 1,000 Slurm jobs in one sbatch --array

Every job is followed without a thread of its own: ``status_updates`` yields each state on the
loop's thread, ``wait_async`` returns what ``wait`` would.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from psij import Job, JobExecutor, JobSpec, JobState


async def one_by_one(executor: JobExecutor, n: int) -> Counter[JobState]:
    """Each job submitted with submit_async (off the loop) and awaited."""
    async def run(i: int) -> JobState:
        job = Job(JobSpec('/bin/sh', ['-c', 'exit $(( $1 % 3 ))', 'sh', str(i)]))
        updates = job.status_updates()
        await executor.submit_async(job)
        last = None
        async for status in updates:
            last = status
        assert last is not None
        return last.state

    return Counter(await asyncio.gather(*(run(i) for i in range(n))))


async def in_bulk(executor: JobExecutor, n: int) -> Counter[JobState]:
    """All jobs submitted with one submit_many (a native array on batch schedulers)."""
    jobs = [Job(JobSpec('/bin/sh', ['-c', 'exit $(( $1 % 3 ))', 'sh', str(i)]))
            for i in range(n)]
    loop = asyncio.get_running_loop()
    refused = await loop.run_in_executor(None, executor.submit_many, jobs)
    for job in refused:
        print('refused: %s' % job.status.message)
    finals = await asyncio.gather(*(job.wait_async(timeout=3600) for job in jobs))
    return Counter(st.state for st in finals if st is not None)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else 'local'
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    executor = JobExecutor.get_instance(name)
    print('one by one:', dict(asyncio.run(one_by_one(executor, n))))
    print('in bulk:   ', dict(asyncio.run(in_bulk(executor, n))))


if __name__ == '__main__':
    main()
