"""Let the tests run from a source checkout without installing psij-cobalt; the simulator fixture.

Tests that run jobs use the `cobalt_sim` fixture: the Cobalt simulator
(``tests/cobalt_sim``) layered over the real Slurm cluster of ``ci/slurm/start-slurm.sh``. It
skips them with a clear message when no Slurm controller answers, and fails them instead when
the environment sets
``PSIJ_REQUIRE_SLURM=1`` (CI does). The fixture puts the simulator's ``bin/`` first on ``PATH``
and gives it a state directory of its own for the session.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile
from typing import Iterator

import pytest
from psij.conformance.executor_test_helpers import slurm_problem

_HERE = pathlib.Path(__file__).resolve().parent
_SRC = _HERE.parent / 'src'
for p in (_SRC, _HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


@pytest.fixture(scope='session')
def cobalt_sim() -> Iterator[pathlib.Path]:
    """
    The simulator's ``bin/`` directory, first on ``PATH``, with a fresh state directory.

    Skips (or, with ``PSIJ_REQUIRE_SLURM=1``, fails) when no Slurm controller answers: the
    simulator runs its jobs on Slurm.
    """
    problem = slurm_problem()
    if problem is not None:
        msg = ('%s; the Cobalt simulator runs its jobs on Slurm: start a cluster with '
               'ci/slurm/start-slurm.sh' % problem)
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            pytest.fail('PSIJ_REQUIRE_SLURM=1 but ' + msg, pytrace=False)
        pytest.skip(msg)
    import cobalt_sim

    saved = {k: os.environ.get(k) for k in ('PATH', 'COBALT_SIM_DIR')}
    state_dir = tempfile.mkdtemp(prefix='cobalt-sim-test-')
    os.environ['PATH'] = '%s%s%s' % (cobalt_sim.BIN, os.pathsep, os.environ.get('PATH', ''))
    os.environ['COBALT_SIM_DIR'] = state_dir
    try:
        yield cobalt_sim.BIN
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(state_dir, ignore_errors=True)
