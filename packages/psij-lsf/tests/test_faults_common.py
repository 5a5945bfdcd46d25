"""The shared fault tests (psij.conformance.batch_faults) on the LSF simulator, through
wrappers in front of its commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from psij.conformance.batch_faults import BatchFaultTests
from psij_lsf.executor import LsfJobExecutor


class TestLsfFaults(BatchFaultTests):
    executor_class = LsfJobExecutor
    commands = ('bsub', 'bjobs', 'bkill')
    status_command = 'bjobs'

    @pytest.fixture(autouse=True)
    def _simulator(self, lsf_sim: Path) -> None:
        self.real_command_dir = str(lsf_sim)
