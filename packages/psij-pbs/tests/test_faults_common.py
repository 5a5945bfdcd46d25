"""The shared fault tests (psij.conformance.batch_faults) on the real OpenPBS server (`pbs`)
and on the Torque simulator layered on it (`pbs_classic`), through wrappers in front of their
commands (the daemons are never touched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pbs_helpers import pbs_bin
from psij.conformance.batch_faults import BatchFaultTests
from psij_pbs.classic import PBSClassicJobExecutor
from psij_pbs.executor import PBSJobExecutor

pytestmark = pytest.mark.usefixtures('pbs_server')

TORQUE_SIM = Path(__file__).resolve().parent / 'torque_sim'


class TestPbsFaults(BatchFaultTests):
    executor_class = PBSJobExecutor
    commands = ('qsub', 'qstat', 'qdel', 'qselect')
    status_command = 'qstat'
    real_command_dir = pbs_bin()
    config = {'place': 'vscatter'}


class TestTorqueFaults(BatchFaultTests):
    executor_class = PBSClassicJobExecutor
    commands = ('qsub', 'qstat', 'qdel', 'qselect')
    status_command = 'qstat'
    real_command_dir = str(TORQUE_SIM)

    @pytest.fixture(autouse=True)
    def _simulator_on_pbs(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv('TORQUE_SIM_PBS_BIN', pbs_bin())
