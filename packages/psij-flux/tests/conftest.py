"""Let the tests run from a source checkout without installing psij-flux; the instance fixture.

Tests that need a real Flux instance use the `flux_instance` fixture: it skips them with a
clear message when no instance answers at ``$FLUX_URI``, and fails them instead when the
environment sets ``PSIJ_REQUIRE_FLUX=1`` (CI does, after ``ci/flux/setup-flux.sh`` and
``. /run/flux-psij/env``).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

_SRC = pathlib.Path(__file__).resolve().parent.parent / 'src'
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from psij_flux import bindings  # noqa: E402

SAMPLES = pathlib.Path(__file__).resolve().parent / 'samples' / 'flux-real'


def _instance_problem() -> str | None:
    """Why no Flux instance can be used here, or None if one answers."""
    uri = os.environ.get('FLUX_URI')
    if not uri:
        return 'FLUX_URI is not set'
    flux = bindings.flux_command()
    try:
        p = subprocess.run([flux, 'uptime'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return 'cannot run %s uptime: %s' % (flux, ex)
    if p.returncode != 0:
        return 'no Flux instance answers at %s (%s)' % (uri, (p.stdout + p.stderr).strip())
    return None


@pytest.fixture(scope='session')
def flux_instance() -> str:
    """The URI of the running instance; skips (or, with ``PSIJ_REQUIRE_FLUX=1``, fails) when
    none answers."""
    problem = _instance_problem()
    if problem is None:
        return os.environ['FLUX_URI']
    msg = '%s; start one with ci/flux/setup-flux.sh, then . /run/flux-psij/env' % problem
    if os.environ.get('PSIJ_REQUIRE_FLUX') == '1':
        pytest.fail('PSIJ_REQUIRE_FLUX=1 but ' + msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope='session')
def flux_bindings(flux_instance: str) -> None:
    """Skips (or fails with ``PSIJ_REQUIRE_FLUX=1``) when the Python bindings are missing."""
    if bindings.load() is None:
        msg = 'the Flux Python bindings cannot be imported: %s' % bindings.load_error()
        if os.environ.get('PSIJ_REQUIRE_FLUX') == '1':
            pytest.fail('PSIJ_REQUIRE_FLUX=1 but ' + msg, pytrace=False)
        pytest.skip(msg)
