"""
psij: a Python implementation of PSI/J, the Portable Submission Interface for Jobs.

Describe a job with :class:`JobSpec`, submit it through a :class:`JobExecutor` (``local``,
``slurm``, ...), and follow its :class:`JobStatus` through callbacks or :meth:`Job.wait`::

    import psij

    ex = psij.JobExecutor.get_instance('local')
    job = psij.Job(psij.JobSpec(executable='/bin/echo', arguments=['hello']))
    ex.submit(job)
    print(job.wait())

The API is that of the PSI/J specification with psij-python's names, so programs written for
psij-python run unchanged.
"""

from psij.descriptor import Descriptor
from psij.exceptions import InvalidJobException, SubmitException, UnreachableStateException
from psij.job import FunctionJobStatusCallback, Job, JobStatusCallback
from psij.job_attributes import JobAttributes
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.job_spec import JobSpec
from psij.job_state import JobState, JobStateOrder
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpec, ResourceSpecV1
from psij.staging import URI, StageIn, StageOut, StageOutFlags, StagingMode
from psij.version import VERSION

__version__ = VERSION

__all__ = [
    'Descriptor', 'FunctionJobStatusCallback', 'InvalidJobException', 'Job', 'JobAttributes',
    'JobExecutor', 'JobExecutorConfig', 'JobSpec', 'JobState', 'JobStateOrder', 'JobStatus',
    'JobStatusCallback', 'Launcher', 'ResourceSpec', 'ResourceSpecV1', 'StageIn', 'StageOut',
    'StageOutFlags', 'StagingMode', 'SubmitException', 'URI', 'UnreachableStateException',
    '__version__',
]
