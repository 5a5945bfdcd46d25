"""Faults on the command-line fallback's status query, with a stand-in ``flux`` command (the
Flux instance is shared and never touched): a query that hangs is given up at its time-out
with everything it started, and garbage or a truncated answer is never taken for "these jobs
are gone". The fallback is the part of psij-flux that polls; the event stream of the bindings
does not run status commands (its own faults are in test_flux_faults.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest
from psij import Job, JobStatus
from psij.conformance.batch_faults import process_alive
from psij.exceptions import SubmitException
from psij_flux.cli_backend import CliBackend
from psij_flux.tracking import TrackedJob


def _flux(tmp_path: Path, body: str) -> str:
    p = tmp_path / 'flux'
    p.write_text('#!/bin/sh\n' + body)
    p.chmod(0o755)
    return str(p)


def test_a_hanging_query_is_given_up_with_everything_it_started(tmp_path: Path) -> None:
    pids = tmp_path / 'pids'
    flux = _flux(tmp_path, 'sleep 3600 &\necho "$!" >%s\nwait\n' % pids)
    b = CliBackend('local:///nowhere', flux, 1.0, 2.0)
    with pytest.raises(SubmitException):
        b.query([123])
    pid = int(pids.read_text())
    assert not process_alive(pid), 'the hung command left %d running' % pid


@pytest.mark.parametrize('answer', [
    '<html>502 Bad Gateway</html>',
    '{}',
    '[1, 2, 3]',
    '{"jobs": [{"id": 123, "state": "RUN", "result"',  # truncated
])
def test_garbage_is_not_an_answer(tmp_path: Path, answer: str) -> None:
    flux = _flux(tmp_path, "printf '%%s' %s\n" % _quote(answer))
    got: List[JobStatus] = []
    t = TrackedJob(Job(), 123, lambda job, st: got.append(st), submitted_at=None)
    b = CliBackend('local:///nowhere', flux, 1.0, 5.0)
    b._jobs[123] = [t]
    for _ in range(5):  # more cycles than a missing job needs to be declared lost
        records = b.query([123])
        assert records is None
    assert got == [] and 123 in b._jobs


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def test_the_query_passes_the_uri_and_the_input(tmp_path: Path) -> None:
    flux = _flux(tmp_path, 'printf "%s %s " "$FLUX_URI" "$*"; cat\n')
    b = CliBackend('local:///the-uri', flux, 1.0, 5.0)
    p = b._run(['job', 'submit'], 'the jobspec')
    assert p.stdout == 'local:///the-uri job submit the jobspec' and p.returncode == 0
    assert os.environ.get('FLUX_URI') != 'local:///the-uri'
