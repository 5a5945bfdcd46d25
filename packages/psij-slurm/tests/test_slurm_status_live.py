"""The status commands and parsers against a real Slurm cluster (ci/slurm/start-slurm.sh).

Skipped when no Slurm controller answers (failed instead with PSIJ_REQUIRE_SLURM=1).
Needs a partition with 2 nodes, jobcomp/filetxt (for ``sacct -c``) and submits a handful of
short jobs.
"""

from __future__ import annotations

import subprocess
import tempfile
import time

import pytest
from psij_slurm.slurm_status import (
    ACTIVE,
    CANCELED,
    COMPLETED,
    FAILED,
    QUEUED,
    UNKNOWN_JOB,
    SlurmJobStatus,
    classify_error,
    is_final,
    parse_sacct,
    parse_squeue,
    sacct_command,
    squeue_command,
    to_psij,
)

pytestmark = pytest.mark.usefixtures('slurm_cluster')


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _sbatch(workdir: str, *args: str) -> str:
    p = _run(['sbatch', '--parsable', '-D', workdir, '-o', '/dev/null', *args])
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().split(';')[0]


def test_bulk_status_of_real_jobs() -> None:
    with tempfile.TemporaryDirectory() as d:
        ok = _sbatch(d, '-N', '2', '--wrap', 'srun true')
        fail = _sbatch(d, '--wrap', 'exit 3')
        sleeper = _sbatch(d, '--wrap', 'sleep 60')
        held = _sbatch(d, '-H', '--wrap', 'true')
        ids = [ok, fail, sleeper, held]
        seen: dict[str, SlurmJobStatus] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = _run(squeue_command(ids))
            assert classify_error(p.returncode, p.stderr) is None, p.stderr
            seen.update(parse_squeue(p.stdout))
            if (ok in seen and is_final(seen[ok].state) and fail in seen
                    and is_final(seen[fail].state) and seen.get(sleeper, None) is not None
                    and seen[sleeper].state == 'RUNNING'):
                break
            time.sleep(0.2)
        assert seen[ok] == SlurmJobStatus('COMPLETED', None, 0, None)
        assert seen[fail] == SlurmJobStatus('FAILED', 'NonZeroExitCode', 3, None)
        assert seen[held].state == 'PENDING' and seen[held].reason == 'JobHeldUser'
        assert _run(['scancel', sleeper, held]).returncode == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = _run(squeue_command([sleeper, held]))
            seen.update(parse_squeue(p.stdout))
            if is_final(seen[sleeper].state) and is_final(seen[held].state):
                break
            time.sleep(0.2)
        # SIGTERM reaches the batch shell and its sleep together: the shell dies of it, or
        # outlives the sleep by a moment and exits 143 (128 + 15); Slurm reports what happened
        assert seen[sleeper] in (SlurmJobStatus('CANCELLED', None, None, 15),
                                 SlurmJobStatus('CANCELLED', None, 143, None)), seen[sleeper]
        assert seen[held].state == 'CANCELLED'
        psij = {i: to_psij(s) for i, s in seen.items()}
        assert {i: (s.state if s else None) for i, s in psij.items()} == {
            ok: COMPLETED, fail: FAILED, sleeper: CANCELED, held: CANCELED}

        # sacct -c (jobcomp/filetxt) has the same final states, for all ids in one call
        p = _run(sacct_command(ids))
        if p.returncode != 0 or not p.stdout.strip():
            pytest.skip('no jobcomp/filetxt here: %s' % p.stderr.strip())
        acct = parse_sacct(p.stdout)
        assert acct[ok] == SlurmJobStatus('COMPLETED', None, 0, None)
        assert acct[fail] == SlurmJobStatus('FAILED', None, 3, None)
        assert acct[sleeper].state == 'CANCELLED'


def test_unknown_ids() -> None:
    p = _run(squeue_command(['999999']))
    assert p.returncode == 1
    assert classify_error(p.returncode, p.stderr) == UNKNOWN_JOB
    p = _run(squeue_command(['999998', '999999']))
    assert p.returncode == 0 and parse_squeue(p.stdout) == {}


def test_states_of_active_jobs_map_to_queued_or_active() -> None:
    with tempfile.TemporaryDirectory() as d:
        j = _sbatch(d, '--wrap', 'sleep 30')
        h = _sbatch(d, '-H', '--wrap', 'true')
        try:
            deadline = time.monotonic() + 30
            r: dict[str, SlurmJobStatus] = {}
            while time.monotonic() < deadline:
                r = parse_squeue(_run(squeue_command([j, h])).stdout)
                if r.get(j) is not None and r[j].state == 'RUNNING':
                    break
                time.sleep(0.2)
            sj, sh = to_psij(r[j]), to_psij(r[h])
            assert sj is not None and sj.state == ACTIVE
            assert sh is not None and sh.state == QUEUED
        finally:
            _run(['scancel', j, h])
