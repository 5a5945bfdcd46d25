"""`SmokeChecks`: reports the smoke job (see :mod:`psij.conformance.smoke`), first of all checks."""

from __future__ import annotations

import pytest

from psij.conformance.base import KitBase, KitSession


class SmokeChecks(KitBase):
    """One trivial job end to end, with a short deadline, before any other check."""

    def test_smoke_job(self, psij_session: KitSession) -> None:
        """``exit 0`` is submitted, reported ACTIVE then COMPLETED with exit code 0, and
        wait() returns, within ``--psij-smoke-timeout`` seconds. When it fails, every other
        job check fails at once, pointing here."""
        res = psij_session.smoke()
        if not res.ok:
            pytest.fail(res.report(), pytrace=False)
