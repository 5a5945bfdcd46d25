"""Helpers shared by the tests that run jobs on a real OpenPBS server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

from psij.conformance.executor_test_helpers import (  # noqa: F401 (for the tests)
    PYTHON,
    WAIT,
    sh,
    wait_final,
    wait_state,
)
from psij_pbs.executor import PBSExecutorConfig, PBSJobExecutor

SAMPLES = Path(__file__).resolve().parent / 'samples'
REPO = Path(__file__).resolve().parents[3]


def pbs_bin() -> str:
    """The directory of the OpenPBS commands: ``PSIJ_PBS_COMMAND_DIR``, else /opt/pbs/bin,
    else the one of ``qstat`` on PATH."""
    d = os.environ.get('PSIJ_PBS_COMMAND_DIR')
    if d:
        return d
    if Path('/opt/pbs/bin/qstat').exists():
        return '/opt/pbs/bin'
    q = shutil.which('qstat')
    return str(Path(q).parent) if q else '/opt/pbs/bin'


def server_problem() -> Optional[str]:
    """Why no OpenPBS server can be used here, or None if one answers."""
    qstat = Path(pbs_bin()) / 'qstat'
    if not qstat.exists():
        return 'the OpenPBS commands are not installed (no %s)' % qstat
    try:
        v = subprocess.run([str(qstat), '--version'], capture_output=True, text=True,
                           timeout=30)
        if 'pbs_version' not in v.stdout:
            return '%s is not OpenPBS\'s qstat' % qstat
        p = subprocess.run([str(qstat), '-B'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return 'qstat -B failed: %s' % ex
    if p.returncode != 0:
        return 'no PBS server answers (qstat -B: %s)' % (p.stdout + p.stderr).strip()
    return None


def executor(work: Path, **kw: Any) -> PBSJobExecutor:
    """A PBS executor with short polling intervals, its own work directory, and the place
    arrangement of a single-host server (vnodes)."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work,
                                command_directory=Path(pbs_bin()), place='vscatter')
    args.update(kw)
    return PBSJobExecutor(config=PBSExecutorConfig(**args))


def qstat_json(native_id: str) -> Dict[str, Any]:
    """``qstat -x -f -F json ID`` of one job, as a dict."""
    import json
    p = subprocess.run([str(Path(pbs_bin()) / 'qstat'), '-x', '-f', '-F', 'json', native_id],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    jobs = json.loads(p.stdout)['Jobs']
    return dict(next(iter(jobs.values())))


def pbs_command(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs a PBS command from the PBS command directory."""
    return subprocess.run([str(Path(pbs_bin()) / args[0]), *args[1:]], capture_output=True,
                          text=True, timeout=60)
