"""The command-line fallback's bookkeeping, without Flux (records from samples/flux-real)."""

from __future__ import annotations

from typing import List, Tuple

from conftest import SAMPLES
from psij import Job, JobState, JobStatus
from psij_flux.cli_backend import CliBackend, parse_jobs_json
from psij_flux.tracking import TrackedJob


def _tracked(jobid: int, submitted_at: float | None) -> Tuple[TrackedJob, List[JobStatus]]:
    got: List[JobStatus] = []
    t = TrackedJob(Job(), jobid, lambda job, st: got.append(st), submitted_at=submitted_at)
    return t, got


def _backend(*tracked: TrackedJob) -> CliBackend:
    b = CliBackend('local:///nowhere', '/bin/false', 1.0, 5.0)
    for t in tracked:
        b._jobs.setdefault(t.jobid, []).append(t)
    return b


def test_records_end_jobs_and_stop_following_them() -> None:
    recs = {int(r['id']): r for r in
            parse_jobs_json((SAMPLES / 'flux_jobs_--json_ids.out').read_text())}
    (fail_id, ok_id) = sorted(recs)[0], sorted(recs)[1]
    t1, got1 = _tracked(fail_id, None)  # attached after it ended: its final state alone
    t2, got2 = _tracked(ok_id, 1.0)  # submitted here: it was ACTIVE before it ended
    b = _backend(t1, t2)
    b._apply([fail_id, ok_id], recs)
    assert [s.state for s in got1] == [JobState.FAILED]
    assert got1[-1].exit_code == 3
    assert [s.state for s in got2] == [JobState.ACTIVE, JobState.COMPLETED]
    assert b._jobs == {}


def test_missing_job_is_lost_after_three_cycles() -> None:
    t, got = _tracked(123, 1.0)
    b = _backend(t)
    b._apply([123], {})
    b._apply([123], {})
    assert got == [] and 123 in b._jobs
    b._apply([123], {})
    assert len(got) == 1 and got[0].state is JobState.FAILED
    assert got[0].message is not None and 'no longer knows' in got[0].message
    assert b._jobs == {}


def test_reused_id_of_an_older_job_is_not_ours() -> None:
    """After a restart Flux reuses ids: a record submitted before our submission is not ours."""
    t, got = _tracked(19176357888, 1795774301.384262 + 3600)
    b = _backend(t)
    rec = parse_jobs_json((SAMPLES / 'flux_jobs_--json_ID.out').read_text())[0]
    for _ in range(3):
        b._apply([19176357888], {19176357888: rec})
    assert [s.state for s in got] == [JobState.FAILED]
