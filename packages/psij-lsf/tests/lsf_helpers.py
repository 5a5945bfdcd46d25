"""Helpers shared by the tests that run jobs on the LSF simulator."""

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
from psij_lsf.executor import LsfExecutorConfig, LsfJobExecutor


def executor(work: Path, **kw: Any) -> LsfJobExecutor:
    """An LSF executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work)
    args.update(kw)
    return LsfJobExecutor(config=LsfExecutorConfig(**args))


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    """Runs a (simulated) LSF command."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)


def bjobs_json(native_id: str, fields: str) -> Dict[str, str]:
    """``bjobs -a -o FIELDS -json ID`` as {FIELD: value} for the job."""
    import json
    p = run('bjobs', '-a', '-hms', '-o', fields, '-json', native_id)
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)['RECORDS']
    assert len(recs) == 1, p.stdout
    return {str(k): str(v) for k, v in recs[0].items()}
