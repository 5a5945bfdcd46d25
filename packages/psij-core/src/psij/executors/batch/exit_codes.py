"""What the batch executors say about how a job's process ended."""

from __future__ import annotations

import signal


def signal_name(sig: int) -> str:
    """The name of signal `sig` for a status message: ``9`` -> ``'SIGKILL'``; a number this
    system has no name for -> ``'signal 70'``."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return 'signal %d' % sig
