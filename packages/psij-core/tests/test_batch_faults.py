"""The shared fault tests (psij.conformance.batch_faults) on the batch framework's simulated
scheduler (tests/fake_scheduler.py), whose commands are found through a command directory
like a real scheduler's: the base itself is tested here, without any real scheduler."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import pytest
from psij import Job
from psij.conformance.batch_faults import BatchFaultTests
from test_batch_framework import FAKE, FakeExecutor


class CommandsFakeExecutor(FakeExecutor):
    """The simulated scheduler's executor, with commands by name (``fsubmit``, ``fstatus``,
    ...) from its command directory."""

    _NAME_ = 'fakecmd'

    def get_submit_command(self, job: Job, path: Path) -> List[str]:
        return ['fsubmit', str(path)]

    def get_status_command(self, ids: List[str]) -> List[str]:
        return ['fstatus', *ids]

    def get_cancel_command(self, native_id: str) -> List[str]:
        return ['fcancel', native_id]

    def get_list_command(self) -> List[str]:
        return ['flist']


class TestFakeSchedulerFaults(BatchFaultTests):
    executor_class = CommandsFakeExecutor
    commands = ('fsubmit', 'fstatus', 'fcancel', 'flist')
    status_command = 'fstatus'

    @pytest.fixture(autouse=True)
    def _scheduler(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        state = tmp_path / 'sched'
        state.mkdir()
        monkeypatch.setenv('FAKE_SCHED_DIR', str(state))
        bindir = tmp_path / 'fake-bin'
        bindir.mkdir()
        for name in self.commands:
            p = bindir / name
            p.write_text('#!/bin/sh\nexec %s %s %s "$@"\n' % (sys.executable, FAKE, name[1:]))
            p.chmod(0o755)
        self.real_command_dir = str(bindir)
