"""Helpers shared by the tests that run jobs on a real Grid Engine cell."""

from __future__ import annotations

import os
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
from psij_sge.executor import SGEExecutorConfig, SGEJobExecutor
from psij_sge.sge_status import is_grid_engine_banner

SAMPLES = Path(__file__).resolve().parent / 'samples'
REPO = Path(__file__).resolve().parents[3]


def sge_bin() -> str:
    """The directory of the Grid Engine commands: ``PSIJ_SGE_COMMAND_DIR``, else /usr/bin
    (Debian's wrappers, which set ``SGE_ROOT``); never a bare ``qstat`` from ``PATH``, which
    may be OpenPBS's."""
    return os.environ.get('PSIJ_SGE_COMMAND_DIR') or '/usr/bin'


def cell_problem() -> Optional[str]:
    """Why no Grid Engine cell can be used here, or None if its master answers."""
    qstat = Path(sge_bin()) / 'qstat'
    if not qstat.exists():
        return 'the Grid Engine commands are not installed (no %s)' % qstat
    try:
        v = subprocess.run([str(qstat), '-help'], capture_output=True, text=True, timeout=30)
        if not is_grid_engine_banner(v.stdout + v.stderr):
            return '%s is not Grid Engine\'s qstat' % qstat
        p = subprocess.run([str(Path(sge_bin()) / 'qconf'), '-sql'], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return 'qconf -sql failed: %s' % ex
    if p.returncode != 0 or 'all.q' not in p.stdout:
        return 'no Grid Engine master answers (qconf -sql: %s)' % (p.stdout + p.stderr).strip()
    return None


def executor(work: Path, **kw: Any) -> SGEJobExecutor:
    """An executor with short polling intervals and its own work directory."""
    args: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                                file_check_interval=0.2, work_directory=work,
                                command_directory=Path(sge_bin()))
    args.update(kw)
    return SGEJobExecutor(config=SGEExecutorConfig(**args))


def sge_command(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs a Grid Engine command from the command directory."""
    return subprocess.run([str(Path(sge_bin()) / args[0]), *args[1:]], capture_output=True,
                          text=True, timeout=60)


def qstat_state(native_id: str) -> Optional[str]:
    """The job's state letters in ``qstat -u '*'``, None if it is not listed."""
    p = sge_command('qstat', '-u', '*')
    for line in p.stdout.splitlines()[2:]:
        words = line.split()
        if words and words[0] == native_id:
            return words[4]
    return None
