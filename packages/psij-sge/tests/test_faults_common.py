"""The shared fault tests (psij.conformance.batch_faults) on the real Grid Engine cell,
through wrappers in front of its commands (the daemons are never touched)."""

from __future__ import annotations

import pytest
from psij.conformance.batch_faults import BatchFaultTests
from psij_sge.executor import SGEJobExecutor
from sge_helpers import sge_bin

pytestmark = pytest.mark.usefixtures('sge_cell')


class TestSgeFaults(BatchFaultTests):
    executor_class = SGEJobExecutor
    commands = ('qsub', 'qstat', 'qdel', 'qacct')
    status_command = 'qstat'
    real_command_dir = sge_bin()
