"""Let the tests run from a source checkout without installing psij-pbs; the server fixture.

Tests that need a real OpenPBS server use the `pbs_server` fixture: it skips them with a clear
message when no PBS server answers, and fails them instead when the environment sets
``PSIJ_REQUIRE_PBS=1`` (CI does, after ``ci/pbs/setup-pbs.sh``).
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

_HERE = pathlib.Path(__file__).resolve().parent
for p in (_HERE.parent / 'src', _HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from pbs_helpers import server_problem  # noqa: E402


@pytest.fixture(scope='session')
def pbs_server() -> None:
    """Skips (or, with ``PSIJ_REQUIRE_PBS=1``, fails) when no OpenPBS server answers."""
    problem = server_problem()
    if problem is None:
        return
    msg = '%s; start one with ci/pbs/setup-pbs.sh (as root)' % problem
    if os.environ.get('PSIJ_REQUIRE_PBS') == '1':
        pytest.fail('PSIJ_REQUIRE_PBS=1 but ' + msg, pytrace=False)
    pytest.skip(msg)
