"""Helpers shared by the tests that run jobs on a real Slurm cluster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from psij.conformance.executor_test_helpers import (  # noqa: F401 (for the tests)
    PYTHON,
    WAIT,
    sh,
    wait_final,
    wait_state,
)
from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor


def executor(work: Path, **kw: Any) -> SlurmJobExecutor:
    """A Slurm executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work)
    args.update(kw)
    return SlurmJobExecutor(config=SlurmExecutorConfig(**args))


def scontrol_show(native_id: str) -> Dict[str, str]:
    """``scontrol show job -o ID`` as {key: value} (values without blanks)."""
    p = subprocess.run(['scontrol', 'show', 'job', '-o', native_id], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out: Dict[str, str] = {}
    for word in p.stdout.split():
        k, sep, v = word.partition('=')
        if sep:
            out[k] = v
    return out




def require_enforced(problem: Optional[str]) -> None:
    """
    Skips the test when the cluster does not enforce what it checks (`problem` says which
    setting is missing, from :mod:`psij_slurm.site_config`); fails it instead with
    ``PSIJ_REQUIRE_SLURM=1``, as CI, which configures its own cluster, sets.
    """
    if problem is None:
        return
    msg = ('this Slurm cluster does not enforce what the test checks: %s (or run with '
           'PSIJ_REQUIRE_SLURM=1 to make this a failure)' % problem)
    if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
        pytest.fail('PSIJ_REQUIRE_SLURM=1 but ' + msg, pytrace=False)
    pytest.skip(msg)
