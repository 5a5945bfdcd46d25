"""The kit's checks, collected by ``pytest --pyargs psij.conformance``."""

from psij.conformance.suite import ConformanceSuite


class TestConformance(ConformanceSuite):
    """Every check, against the executor named by ``--psij-executor``."""
