"""Helpers of the real-instance tests: the flux command and small job recipes."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import List, Tuple

from psij import Job, JobSpec, JobState, JobStatus
from psij_flux.bindings import flux_command

SH = '/bin/sh'


def flux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs a flux command against $FLUX_URI."""
    p = subprocess.run([flux_command(), *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ))
    if check and p.returncode != 0:
        raise AssertionError('flux %s failed: %s' % (' '.join(args), p.stderr))
    return p


def sh(script: str, *args: str, **kwargs: object) -> JobSpec:
    """A spec running a shell script."""
    return JobSpec(SH, ['-c', script, 'psij-test', *args], **kwargs)  # type: ignore[arg-type]


def blocking(tmp: Path, code: int = 0, **kwargs: object) -> Tuple[JobSpec, Path, Path]:
    """A job that signals it started, then waits (at most 120 s) for a release file."""
    started, release = tmp / 'started', tmp / 'release'
    spec = sh(': > "$1"; i=0; while [ ! -e "$2" ] && [ $i -lt 1200 ]; do sleep 0.1; '
              'i=$((i+1)); done; exit "$3"', str(started), str(release), str(code), **kwargs)
    return spec, started, release


class Recorder:
    """Records the states delivered to a job's callback, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: List[JobState] = []
        self.statuses: List[JobStatus] = []

    def __call__(self, job: Job, st: JobStatus) -> None:
        with self.lock:
            self.states.append(st.state)
            self.statuses.append(st)


CHAIN = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]


def check_chain(states: List[JobState], final: JobState, ran: bool = True) -> None:
    """The states are a prefix of the chain, then exactly one final state."""
    assert states and states[-1] is final, states
    assert sum(1 for s in states if s.final) == 1, states
    body = states[:-1]
    assert body == CHAIN[:len(body)], states
    if ran:
        assert JobState.ACTIVE in body, states
    if final is JobState.COMPLETED:
        assert body == CHAIN, states
