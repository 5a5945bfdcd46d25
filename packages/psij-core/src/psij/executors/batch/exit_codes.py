"""What the batch executors say about how a job's process ended."""

from __future__ import annotations

import signal
from typing import Any, Dict, Optional

from psij.job_state import JobState
from psij.job_status import JobStatus


def signal_name(sig: int) -> str:
    """The name of signal `sig` for a status message: ``9`` -> ``'SIGKILL'``; a number this
    system has no name for -> ``'signal 70'``."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return 'signal %d' % sig


WALLTIME_EXCEEDED = 'walltime exceeded'
"""How the message of a job its scheduler ended at its walltime starts."""

CPU_TIME_EXCEEDED = 'CPU-time limit exceeded'
"""How the message of a job its scheduler ended at its CPU-time limit starts."""

LIMIT_KEY = 'psij_limit_exceeded'
"""The metadata key of a `limit_exceeded` status: ``'walltime'`` or ``'cpu_time'``."""


def limit_exceeded(limit: str, seconds: Optional[float] = None, detail: str = '',
                   metadata: Optional[Dict[str, Any]] = None,
                   time: Optional[float] = None) -> JobStatus:
    """
    The final status of a job its scheduler ended at a limit: ``FAILED`` with no exit code
    (the scheduler's kill signal varies and is not the job's own exit), and a message starting
    with `WALLTIME_EXCEEDED` (`limit` ``'walltime'``) or `CPU_TIME_EXCEEDED` (``'cpu_time'``),
    naming the limit in `seconds` when known, then the scheduler's `detail`.
    """
    text = WALLTIME_EXCEEDED if limit == 'walltime' else CPU_TIME_EXCEEDED
    if seconds is not None:
        text += ' (%g s)' % seconds
    if detail:
        text += ': ' + detail
    return JobStatus(JobState.FAILED, message=text, exit_code=None, time=time,
                     metadata=dict(metadata or {}, **{LIMIT_KEY: limit}))


def is_limit_exceeded(status: Optional[JobStatus]) -> bool:
    """Whether `status` is a `limit_exceeded` one (its exit code stays `None`)."""
    return status is not None and bool((status.metadata or {}).get(LIMIT_KEY))


def cpu_limit_kill(exit_code: Optional[int], limit: Optional[float],
                   scheduler: str) -> Optional[JobStatus]:
    """
    The status of a job that asked its scheduler for a CPU-time limit of `limit` seconds and
    whose script recorded `exit_code`, if that says the limit ended it: schedulers enforce it
    with the kernel's ``RLIMIT_CPU`` (PBS's ``cput``, Grid Engine's ``h_cpu``), which ends the
    process with SIGXCPU or SIGKILL (exit code 152 or 137), and leave no other trace; `None`
    otherwise. (A job with such a limit that SIGKILLs itself reads the same.)
    """
    if limit is None or exit_code is None or exit_code - 128 not in _CPU_LIMIT_SIGNALS:
        return None
    return limit_exceeded('cpu_time', limit, 'its process was killed by %s (%s enforces the '
                          'limit with RLIMIT_CPU)' % (signal_name(exit_code - 128), scheduler))


_CPU_LIMIT_SIGNALS = (signal.SIGKILL.value, signal.SIGXCPU.value)
