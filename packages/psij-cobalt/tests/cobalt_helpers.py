"""Helpers shared by the tests that run jobs on the Cobalt simulator."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict

from psij.conformance.executor_test_helpers import (  # noqa: F401 (for the tests)
    PYTHON,
    WAIT,
    history,
    sh,
    wait_final,
    wait_state,
)
from psij_cobalt.executor import CobaltExecutorConfig, CobaltJobExecutor


def executor(work: Path, **kw: Any) -> CobaltJobExecutor:
    """A Cobalt executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work)
    args.update(kw)
    return CobaltJobExecutor(config=CobaltExecutorConfig(**args))


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    """Runs a (simulated) Cobalt command."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
