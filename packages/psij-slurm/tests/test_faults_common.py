"""The shared fault tests (psij.conformance.batch_faults) on the real Slurm cluster, through
wrappers in front of Slurm's commands (the daemons are never touched)."""

from __future__ import annotations

import pytest
from psij.conformance.batch_faults import BatchFaultTests
from psij_slurm.executor import SlurmJobExecutor

pytestmark = pytest.mark.usefixtures('slurm_cluster')


class TestSlurmFaults(BatchFaultTests):
    executor_class = SlurmJobExecutor
    commands = ('sbatch', 'squeue', 'scancel', 'sacct')
    status_command = 'squeue'
