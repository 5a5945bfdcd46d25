"""Let the tests run from a source checkout without installing psij-slurm; the cluster fixture.

Tests that need a real Slurm cluster use the `slurm_cluster` fixture: it skips them with a
clear message when no Slurm controller answers, and fails them instead when the environment
sets ``PSIJ_REQUIRE_SLURM=1`` (CI does, after ``ci/slurm/start-slurm.sh``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

_SRC = pathlib.Path(__file__).resolve().parent.parent / 'src'
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))


def _controller_problem() -> str | None:
    """Why no Slurm controller can be used here, or None if one answers."""
    if shutil.which('scontrol') is None or shutil.which('sbatch') is None:
        return 'Slurm client commands (scontrol, sbatch) are not installed'
    try:
        p = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return 'scontrol ping failed: %s' % ex
    if p.returncode != 0 or 'is UP' not in p.stdout:
        return 'no Slurm controller answers (scontrol ping: %s)' % (p.stdout + p.stderr).strip()
    return None


@pytest.fixture(scope='session')
def slurm_cluster() -> None:
    """Skips (or, with ``PSIJ_REQUIRE_SLURM=1``, fails) when no Slurm controller answers."""
    problem = _controller_problem()
    if problem is None:
        return
    msg = '%s; start one with ci/slurm/start-slurm.sh' % problem
    if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
        pytest.fail('PSIJ_REQUIRE_SLURM=1 but ' + msg, pytrace=False)
    pytest.skip(msg)
