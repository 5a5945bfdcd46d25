"""Faults on a real instance: the event stream interrupted, the instance restarted.

The restart test stops and starts the instance of ``ci/flux/start-flux.sh`` (root, pid file in
``/run/flux-psij``); it is skipped elsewhere. Other users of the instance lose their jobs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from flux_helpers import Recorder, blocking, check_chain, sh
from psij import Job, JobExecutor, JobState
from psij_flux.event_stream import EventStream
from psij_flux.executor import FluxJobExecutor

pytestmark = [pytest.mark.flux, pytest.mark.fault, pytest.mark.usefixtures('flux_bindings')]

WAIT = 120.0
CI = Path(__file__).resolve().parents[3] / 'ci' / 'flux'
STATE = Path(os.environ.get('FLUX_STATE_DIR', '/run/flux-psij'))


def _stream(ex: JobExecutor) -> EventStream:
    assert isinstance(ex, FluxJobExecutor)
    b = ex.backend()
    assert isinstance(b, EventStream)
    return b


def test_stream_interrupted_catches_up(tmp_path: Path) -> None:
    """Jobs that start and end while the stream is down get every state, in order."""
    ex = JobExecutor.get_instance('flux')
    stream = _stream(ex)
    releases = []
    recs = []
    jobs = []
    for i in range(6):
        d = tmp_path / str(i)
        d.mkdir()
        spec, _, release = blocking(d, code=i % 2)
        rec = Recorder()
        job = Job(spec)
        job.set_job_status_callback(rec)
        ex.submit(job)
        jobs.append(job)
        recs.append(rec)
        releases.append(release)
    for job in jobs[:3]:
        assert job.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    before = stream.reconnects
    stream.interrupt(pause=4.0)
    assert stream.interrupted.wait(WAIT), 'the stream was not interrupted'
    # while it is down: the jobs end (those still queued start and end)
    for r in releases:
        r.touch()
    late = Job(sh('exit 7'))
    ex.submit(late)
    for job in jobs + [late]:
        assert job.wait(timeout=WAIT) is not None, job
    assert stream.reconnects > before
    for i, (job, rec) in enumerate(zip(jobs, recs, strict=True)):
        check_chain(rec.states, JobState.COMPLETED if i % 2 == 0 else JobState.FAILED)
        assert job.status.exit_code == i % 2
    assert late.status.exit_code == 7


def test_instance_restart_fails_lost_jobs(tmp_path: Path) -> None:
    """A crash and restart loses the instance's jobs: each is FAILED with a message, none
    hangs."""
    if os.geteuid() != 0 or not (STATE / 'flux-start.pid').is_file() or \
            not (CI / 'start-flux.sh').is_file():
        pytest.skip('needs root and the instance of ci/flux/start-flux.sh')
    ex = JobExecutor.get_instance('flux')
    spec, _, _ = blocking(tmp_path)
    running = Job(spec)
    ex.submit(running)
    assert running.wait(timeout=WAIT, target_states=JobState.ACTIVE) is not None
    held = Job(sh('exit 0'))
    held.spec.attributes.set_custom_attribute('flux.urgency', 0)  # type: ignore[union-attr]
    rec = Recorder()
    held.set_job_status_callback(rec)
    ex.submit(held)
    assert held.wait(timeout=WAIT, target_states=JobState.QUEUED) is not None  # Flux has it
    # a crash, not `flux shutdown` (which cancels the jobs: they would end CANCELED)
    subprocess.run(['bash', str(CI / 'stop-flux.sh')], check=True, timeout=120,
                   env=dict(os.environ, FLUX_STOP_HARD='1'))
    subprocess.run(['bash', str(CI / 'start-flux.sh')], check=True, timeout=120)
    for job in (running, held):
        st = job.wait(timeout=WAIT)
        assert st is not None and st.state is JobState.FAILED, job
        assert st.message is not None and 'restarted' in st.message and 'lost' in st.message
    check_chain(rec.states, JobState.FAILED, ran=False)
    # the executor keeps working with the new instance
    after = Job(sh('exit 4'))
    ex.submit(after)
    st = after.wait(timeout=WAIT)
    assert st is not None and st.exit_code == 4
