"""Let the tests run from a source checkout without installing psij-sge; the cell fixture.

Tests that need a real Grid Engine cell use the `sge_cell` fixture: it skips them with a clear
message when no Grid Engine master answers, and fails them instead when the environment sets
``PSIJ_REQUIRE_SGE=1`` (CI does, after ``ci/sge/setup-sge.sh``).
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

from sge_helpers import cell_problem  # noqa: E402


@pytest.fixture(scope='session')
def sge_cell() -> None:
    """Skips (or, with ``PSIJ_REQUIRE_SGE=1``, fails) when no Grid Engine master answers."""
    problem = cell_problem()
    if problem is None:
        return
    msg = '%s; start a cell with ci/sge/setup-sge.sh (as root)' % problem
    if os.environ.get('PSIJ_REQUIRE_SGE') == '1':
        pytest.fail('PSIJ_REQUIRE_SGE=1 but ' + msg, pytrace=False)
    pytest.skip(msg)
