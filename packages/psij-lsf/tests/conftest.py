"""Let the tests run from a source checkout without installing psij-lsf; the simulator fixture.

Tests that run jobs use the `lsf_sim` fixture: the LSF simulator (``tests/lsf_sim``) layered
over the real Slurm cluster of ``ci/slurm/start-slurm.sh``. It skips them with a clear message
when no Slurm controller answers, and fails them instead when the environment sets
``PSIJ_REQUIRE_SLURM=1`` (CI does). The fixture puts the simulator's ``bin/`` first on ``PATH``
and gives it a state directory of its own for the session.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

_HERE = pathlib.Path(__file__).resolve().parent
_SRC = _HERE.parent / 'src'
for p in (_SRC, _HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


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
def lsf_sim() -> Iterator[pathlib.Path]:
    """
    The simulator's ``bin/`` directory, first on ``PATH``, with a fresh state directory.

    Skips (or, with ``PSIJ_REQUIRE_SLURM=1``, fails) when no Slurm controller answers: the
    simulator runs its jobs on Slurm.
    """
    problem = _controller_problem()
    if problem is not None:
        msg = ('%s; the LSF simulator runs its jobs on Slurm: start a cluster with '
               'ci/slurm/start-slurm.sh' % problem)
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            pytest.fail('PSIJ_REQUIRE_SLURM=1 but ' + msg, pytrace=False)
        pytest.skip(msg)
    import lsf_sim

    saved = {k: os.environ.get(k) for k in ('PATH', 'LSF_SIM_DIR')}
    state_dir = tempfile.mkdtemp(prefix='lsf-sim-test-')
    os.environ['PATH'] = '%s%s%s' % (lsf_sim.BIN, os.pathsep, os.environ.get('PATH', ''))
    os.environ['LSF_SIM_DIR'] = state_dir
    try:
        yield lsf_sim.BIN
    finally:
        lsf_sim.set_down(False)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(state_dir, ignore_errors=True)
