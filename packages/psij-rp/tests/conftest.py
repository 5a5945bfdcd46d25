"""Let the tests run from a source checkout without installing psij-rp; the shared pilot.

The tests run real RADICAL-Pilot pilots on ``local.localhost`` (radical.pilot must be
installed: the nox session installs it). `rp_executor` is one executor, and so one pilot, for
the whole run; tests that need a pilot of their own (runtime, close) make it themselves.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Iterator

import pytest

_SRC = pathlib.Path(__file__).resolve().parent.parent / 'src'
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from psij_rp.executor import RPExecutorConfig, RPJobExecutor  # noqa: E402


@pytest.fixture(scope='session')
def rp_work(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The work directory of the tests' pilots (sandboxes and session files)."""
    return tmp_path_factory.mktemp('rp-work')


@pytest.fixture(scope='session')
def rp_executor(rp_work: pathlib.Path) -> Iterator[RPJobExecutor]:
    """One executor on a 2-core pilot, closed at the end of the run."""
    ex = RPJobExecutor(config=RPExecutorConfig(cores=2, runtime=30,
                                               work_directory=str(rp_work)))
    yield ex
    ex.close()
