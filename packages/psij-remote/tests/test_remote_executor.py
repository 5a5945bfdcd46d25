"""The remote executor against a real sshd, with the far end's local and slurm executors: the
whole API behaves as it does on the host, and native ids are the host's own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psij import Job, JobSpec, JobState
from psij.conformance.harness import ARGS_SCRIPT
from psij.conformance.hostile_corpus import CORPUS, chunks
from psij.exceptions import InvalidJobException, SubmitException
from psij_remote.connection import connections
from psij_remote.errors import RemoteError
from remote_helpers import (
    URL,
    executor,
    history,
    remote_psij,
    sh,
    ssh_children,
    until,
    wait_final,
    wait_state,
)

ORDER = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]


def test_job_runs_as_the_remote_user_with_every_state_in_order(remote_dir: Path) -> None:
    ex = executor()
    assert ex.name == 'local' and str(ex.url) == URL
    seen_by_executor = []
    ex.set_job_status_callback(lambda j, st: seen_by_executor.append(st.state))
    out = remote_dir / 'who'
    job = Job(sh('id -un > "$1"; exit 3', str(out)))
    seen = history(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 3, st
    assert seen == ORDER + [JobState.FAILED] == seen_by_executor
    assert out.read_text().strip() == 'psijremote'
    assert job.native_id and remote_psij('status', job.native_id, check=False).stdout


def test_arguments_and_environment_arrive_byte_exact(remote_dir: Path) -> None:
    ex = executor()
    jobs = []
    for i, part in enumerate(chunks(list(CORPUS), 100_000, 120)):
        out = remote_dir / ('args%d' % i)
        env = {'PSIJ_HOSTILE_%d' % k: v for k, v in enumerate(part) if '${' not in v}
        job = Job(JobSpec('/bin/sh', ['-c', ARGS_SCRIPT + '\nenv -0 > "$out.env"',
                                      'psij-remote-test', str(out)] + part,
                          environment=env))
        ex.submit(job)
        jobs.append((job, out, part, env))
    total = 0
    for job, out, part, env in jobs:
        st = wait_final(job)
        assert st.state is JobState.COMPLETED, st
        got = out.read_bytes().split(b'\0')[:-1]
        assert got == [os.fsencode(a) for a in part]
        got_env = dict(e.split(b'=', 1) for e in
                       Path(str(out) + '.env').read_bytes().split(b'\0') if b'=' in e)
        for k, v in env.items():
            assert got_env[k.encode()] == os.fsencode(v), k
        total += len(part)
    assert total == len(CORPUS) >= 500


def test_cancel_attach_list_and_one_ssh_process(remote_dir: Path) -> None:
    ex, ex2 = executor(), executor()
    job = Job(sh('sleep 60'))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE, 60)
    assert job.native_id in ex2.list()
    other = Job()
    ex2.attach(other, job.native_id)
    job.cancel()
    assert wait_final(job).state is JobState.CANCELED
    assert wait_final(other).state in (JobState.CANCELED, JobState.FAILED)
    assert len([c for c in connections() if c.ssh_pid is not None]) == 1
    assert len(ssh_children()) == 1
    # a finished job: cancel does nothing; attach gets its true end
    late = Job()
    ex.attach(late, job.native_id)
    assert wait_final(late).state in (JobState.CANCELED, JobState.FAILED)
    late.cancel()


def test_submitted_remotely_attached_on_the_host_and_the_reverse(remote_dir: Path) -> None:
    ex = executor()
    job = Job(sh('exit 5'))
    ex.submit(job)
    assert wait_final(job).exit_code == 5
    r = remote_psij('status', '--json', job.native_id, check=False)
    rec = json.loads(r.stdout.splitlines()[-1])
    assert rec['state'] == 'FAILED' and rec['exit_code'] == 5, r.stdout
    # submitted on the host, followed from here
    nid = remote_psij('submit', '--', '/bin/sh', '-c', 'sleep 1; exit 6').stdout.strip()
    there = Job()
    seen = history(there)
    ex.attach(there, nid)
    st = wait_final(there)
    assert st.state is JobState.FAILED and st.exit_code == 6, st
    assert seen[-1] is JobState.FAILED


def test_from_another_client_process(remote_dir: Path) -> None:
    ex = executor()
    job = Job(sh('sleep 2; exit 4'))
    ex.submit(job)
    code = ('import sys; from psij import Job, JobExecutor\n'
            'ex = JobExecutor.get_instance("local", url=sys.argv[1])\n'
            'j = Job(); ex.attach(j, sys.argv[2]); st = j.wait(timeout=120)\n'
            'print(st.state.name, st.exit_code)')
    r = subprocess.run([sys.executable, '-c', code, URL, job.native_id], capture_output=True,
                       text=True, timeout=180)
    assert r.stdout.split() == ['FAILED', '4'], r.stdout + r.stderr


def test_submit_many_attach_many_and_refusals(remote_dir: Path) -> None:
    ex = executor()
    jobs = [Job(sh('exit %d' % (i % 3))) for i in range(40)]
    bad = Job(JobSpec('/no/such/executable'))
    refused = ex.submit_many(jobs[:20] + [bad] + jobs[20:])
    assert refused == [bad] and bad.status.state is JobState.FAILED
    assert isinstance(bad.status.metadata['submit_exception'], InvalidJobException)
    assert '/no/such/executable' in str(bad.status.metadata['submit_exception'])
    assert len({j.native_id for j in jobs}) == 40
    for i, j in enumerate(jobs):
        assert wait_final(j).exit_code == i % 3
    again = [(Job(), j.native_id) for j in jobs[:10]] + [(Job(), 'not-a-job-id')]
    refusals = ex.attach_many(again)
    assert [j for j, _ in refusals] == [again[-1][0]]
    for (j, _), orig in zip(again[:10], jobs[:10], strict=True):
        assert wait_final(j).exit_code == orig.status.exit_code


def test_errors_of_the_far_end_keep_their_type() -> None:
    ex = executor()
    job = Job(JobSpec('/no/such/executable'))
    with pytest.raises(InvalidJobException, match='/no/such/executable'):
        ex.submit(job)
    assert job.status.state is JobState.NEW and job.executor is None
    with pytest.raises(InvalidJobException):
        ex.submit(Job(JobSpec('/bin/true', launcher='psij-no-such-launcher')))
    with pytest.raises(ValueError, match='psijremote@127.0.0.1:2222: .*psij-no-such-executor'):
        executor('psij-no-such-executor')


def test_asyncio() -> None:
    ex = executor()

    async def main() -> list[JobState]:
        job = Job(sh('sleep 0.2; exit 2'))
        states = []

        async def follow() -> None:
            async for st in job.status_updates():
                states.append(st.state)
        task = asyncio.ensure_future(follow())
        await asyncio.sleep(0)
        await ex.submit_async(job)
        st = await job.wait_async(timeout=60)
        await asyncio.wait_for(task, 30)
        assert st is not None and st.exit_code == 2
        return states
    assert asyncio.run(main()) == ORDER + [JobState.FAILED]


@pytest.mark.slurm
def test_slurm_on_the_far_end(remote_dir: Path) -> None:
    if subprocess.run(['scontrol', 'ping'], capture_output=True, text=True).returncode != 0:
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            pytest.fail('PSIJ_REQUIRE_SLURM=1 but no Slurm controller answers')
        pytest.skip('no Slurm controller answers')
    ex = executor('slurm')
    assert ex.name == 'slurm'
    out = remote_dir / 'slurm-out'
    job = Job(sh('id -un > "$1"; exit 7', str(out), directory=remote_dir))
    ex.submit(job)
    assert job.native_id and job.native_id.isdigit()
    st = wait_final(job, 600)  # Slurm on a loaded 2-core machine may take a while
    assert st.state is JobState.FAILED and st.exit_code == 7, st
    assert out.read_text().strip() == 'psijremote'
    line = subprocess.run(['squeue', '-h', '-j', job.native_id, '-o', '%u'],
                          capture_output=True, text=True).stdout.strip()
    acct = subprocess.run(['sacct', '-n', '-X', '-j', job.native_id, '-o', 'User'],
                          capture_output=True, text=True).stdout.strip()
    assert 'psijremote' in (line + acct) or not (line + acct)
    jobs = [Job(sh('exit %d' % i)) for i in range(5)]
    assert ex.submit_many(jobs) == []
    assert [wait_final(j, 600).exit_code for j in jobs] == list(range(5))


def _scheduler_up(command: list[str], require: str, what: str) -> None:
    try:
        ok = subprocess.run(command, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        if os.environ.get(require) == '1':
            pytest.fail('%s=1 but no %s answers' % (require, what))
        pytest.skip('no %s answers' % what)


def test_grid_engine_on_the_far_end(remote_dir: Path) -> None:
    _scheduler_up(['qstat', '-g', 'c'], 'PSIJ_REQUIRE_SGE', 'Grid Engine cell')
    ex = executor('sge')
    out = remote_dir / 'sge-out'
    # the SGE group's fault tests restart sge_qmaster meanwhile: a refused qsub is tried again
    deadline = time.monotonic() + 300
    while True:
        job = Job(sh('id -un > "$1"; exit 6', str(out), directory=remote_dir))
        seen = history(job)
        try:
            ex.submit(job)
            break
        except SubmitException as e:
            if isinstance(e, InvalidJobException) or time.monotonic() > deadline:
                raise
            time.sleep(5)
    assert job.native_id and job.native_id.isdigit()
    st = wait_final(job, 600)
    assert st.state is JobState.FAILED and st.exit_code == 6, st
    assert seen[-1] is JobState.FAILED and JobState.ACTIVE in seen, seen
    assert out.read_text().strip() == 'psijremote'
    owner = subprocess.run(['qacct', '-j', job.native_id], capture_output=True, text=True)
    assert 'psijremote' in owner.stdout or owner.returncode != 0


def test_until_helper_fails_on_timeout() -> None:
    with pytest.raises(AssertionError):
        until(lambda: False, 0.1)


def test_remote_error_names_the_host() -> None:
    err = RemoteError('u@h:1', 'boom')
    assert str(err) == 'u@h:1: boom' and err.host == 'u@h:1'
