"""
Helpers for an executor's own tests (ours share them; a third party's may too): waiting for a
job without hanging or passing on a `None`, a ``/bin/sh`` job, a job's status history, and
the checks every batch executor's tests run on its real scheduler (exit codes, byte-exact
arguments and environment, stdio and directory, a missing directory, what `attach` takes as a
native id).

The bounds are generous and only guard against hangs: tests never assert how long anything
took.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from psij.exceptions import InvalidJobException
from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

WAIT = 240.0
"""Seconds `wait_final` and `wait_state` wait by default."""

PYTHON = '/usr/bin/python3' if Path('/usr/bin/python3').exists() else sys.executable
"""A Python interpreter that compute nodes have too (the system's, where there is one)."""


def wait_final(job: Job, timeout: float = WAIT) -> JobStatus:
    """The job's final status; fails the test if it does not end within `timeout`."""
    st = job.wait(timeout=timeout)
    assert st is not None and st.state.final, 'job %s (%s) did not end: %s' % (
        job.id, job.native_id, job.status)
    return st


def wait_state(job: Job, state: JobState, timeout: float = WAIT) -> JobStatus:
    """Waits until the job reaches `state` (or a later one); fails the test if it does not
    within `timeout`."""
    st = job.wait(timeout=timeout, target_states=[state])
    assert st is not None, 'job %s did not reach %s: %s' % (job.native_id, state, job.status)
    return st


def slurm_problem() -> Optional[str]:
    """Why no Slurm controller can be used here (for a simulator layered on Slurm, or Slurm's
    own tests), or `None` if one answers."""
    import shutil
    import subprocess
    if shutil.which('scontrol') is None or shutil.which('sbatch') is None:
        return 'Slurm client commands (scontrol, sbatch) are not installed'
    try:
        p = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return 'scontrol ping failed: %s' % ex
    if p.returncode != 0 or 'is UP' not in p.stdout:
        return 'no Slurm controller answers (scontrol ping: %s)' % (p.stdout + p.stderr).strip()
    return None


def sh(script: str, **kw: Any) -> JobSpec:
    """A job running `script` with /bin/sh (`kw`: the other `JobSpec` arguments)."""
    return JobSpec('/bin/sh', ['-c', script], **kw)


NOT_JOB_IDS = ['', '-u', '-uroot', '--jobs=1', '1 2', '1,2', '1\n2', '1\t', '1\x00']
"""Strings no scheduler's job id looks like: options, lists, blanks, control characters."""


def check_native_id_forms(executor: BatchSchedulerExecutor, good: List[str],
                          bad: List[str]) -> None:
    """
    Checks that `executor` (on the batch framework) takes each of `good` as a job id and
    refuses each of `bad` and of `NOT_JOB_IDS` with an `InvalidJobException` from `attach`,
    leaving the job ``NEW`` and unbound.
    """
    for native_id in good:
        executor.check_native_id(native_id)
    for native_id in bad + NOT_JOB_IDS:
        assert_attach_refused(executor, native_id)


def assert_attach_refused(executor: JobExecutor, native_id: str) -> None:
    """`attach` refuses `native_id` with an `InvalidJobException` naming it, and leaves the
    job ``NEW`` and unbound."""
    job = Job()
    try:
        executor.attach(job, native_id)
    except InvalidJobException as ex:
        assert repr(native_id) in str(ex), ex
    else:
        raise AssertionError('attach() took %r as a job id: %s' % (native_id, job.status))
    assert job.status.state is JobState.NEW and job.executor is None
    assert job.native_id is None


# -- checks every batch executor's own tests run on its real scheduler ----------------------------

DUMP = ('import json, os, sys\n'
        'json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}, '
        'open(os.environ["OUT_FILE"], "w"))\n')
"""A Python program writing its arguments, environment and directory as JSON to
``$OUT_FILE``."""

TRICKY_ARGUMENTS = ['plain', 'two words', "it's", '"dq"', '$HOME', '`id`', '$(id)', 'a\\b',
                    'new\nline', '*', '', ' lead', 'ünï', '-x', '--', ';|&<>']
"""Arguments a shell or a careless script writer would change."""

TRICKY_ENVIRONMENT = {'PSIJ_T_BASE': 'base', 'V1': 'two words', 'V2': '$HOME `id` $(id) \\ \' "',
                      'V3': '', 'V4': 'ünï\nx', 'V5': '${PSIJ_T_BASE}/x'}
"""Environment values to pass unchanged, except V5: a ``${NAME}`` reference to a variable
defined before, which the job expands (``base/x``)."""


def history(job: Job) -> List[JobStatus]:
    """Every status the job goes through from now on (its callback appends them)."""
    seen: List[JobStatus] = []
    job.set_job_status_callback(lambda j, s: seen.append(s))
    return seen


def check_exit_code(executor: JobExecutor, code: int, script: str = '') -> Tuple[Job, JobStatus]:
    """
    Runs ``SCRIPT exit CODE``: the job ends COMPLETED (0) or FAILED with exactly `code`,
    passed through ACTIVE, with no state twice, and had a native id once submitted. Returns
    the job and its final status for the scheduler's own checks.
    """
    job = Job(sh('%sexit %d' % (script, code)))
    seen = history(job)
    executor.submit(job)
    assert job.native_id is not None
    st = wait_final(job)
    assert st.exit_code == code, st
    assert st.state is (JobState.COMPLETED if code == 0 else JobState.FAILED), st
    states = [s.state for s in seen]
    assert states[-1] is st.state and JobState.ACTIVE in states, states
    assert states == sorted(set(states), key=states.index), states  # no state twice
    return job, st


def check_byte_exact(executor: JobExecutor, tmp_path: Path, more_arguments: Sequence[str] = (),
                     more_environment: Optional[Dict[str, str]] = None) -> Tuple[Job, Any]:
    """
    Runs `DUMP` with `TRICKY_ARGUMENTS` + `more_arguments` and `TRICKY_ENVIRONMENT` +
    `more_environment` (e.g. the scheduler's own directive lines): the job sees each byte for
    byte. Returns the job and what it saw (``argv``, ``env``, ``cwd``).
    """
    args = TRICKY_ARGUMENTS + list(more_arguments)
    env: Dict[str, Union[str, int]] = dict(TRICKY_ENVIRONMENT, **(more_environment or {}))
    out = tmp_path / 'dump.json'
    env['OUT_FILE'] = str(out)
    job = Job(JobSpec(PYTHON, ['-c', DUMP] + args, environment=env))
    executor.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    got = json.loads(out.read_text())
    assert got['argv'] == args
    for k, v in env.items():
        if k != 'V5':
            assert got['env'][k] == v, k
    assert got['env']['V5'] == 'base/x'
    return job, got


def check_stdio_and_directory(executor: JobExecutor, tmp_path: Path, name: str = 'job dir') -> None:
    """A job in a directory called `name` (a blank in it by default) reads its stdin and
    writes its stdout and stderr where the spec says, and runs in that directory."""
    d = tmp_path / name
    d.mkdir()
    (d / 'in.txt').write_text('from stdin\n')
    job = Job(sh('cat; echo out; echo err >&2; pwd', directory=d, stdin_path=d / 'in.txt',
                 stdout_path=d / 'out.txt', stderr_path=d / 'err.txt'))
    executor.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    assert (d / 'out.txt').read_text() == 'from stdin\nout\n%s\n' % d
    assert (d / 'err.txt').read_text() == 'err\n'


def check_missing_directory_fails(executor: JobExecutor, tmp_path: Path) -> JobStatus:
    """A job whose directory does not exist ends FAILED with exit code 1, saying why."""
    job = Job(sh('true', directory=tmp_path / 'nope'))
    executor.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 1, st
    assert 'cannot change to the job directory' in (st.message or ''), st
    return st


def check_status_times_never_go_back(executor: JobExecutor, jobs: int = 5) -> None:
    """
    Runs `jobs` short jobs at once: the statuses each job goes through, synthesized ones
    included, are stamped in order (a status is never older than the one before it).
    """
    runs = []
    for i in range(jobs):
        job = Job(sh('exit %d' % (i % 2)))
        runs.append((job, history(job)))
        executor.submit(job)
    for job, seen in runs:
        wait_final(job)
        stamps = [(s.state.name, s.time) for s in seen]
        assert len(stamps) >= 2, stamps
        for (prev, t0), (state, t1) in zip(stamps, stamps[1:], strict=False):
            assert t1 >= t0, 'job %s: %s stamped %.6f s before %s: %s' % (
                job.native_id, state, t0 - t1, prev, stamps)


def check_unknown_id_refused(executor: BatchSchedulerExecutor, unknown: str) -> None:
    """
    `unknown` is a well-formed id of a job that neither the queue nor the accounting knows:
    `attach` and `attach_many` refuse it with an `InvalidJobException` naming it (the job
    stays ``NEW`` and unbound), and ``psij status`` and ``psij cancel`` exit non-zero
    without reporting a state for it.
    """
    import subprocess
    assert_attach_refused(executor, unknown)
    other = Job()
    refused = executor.attach_many([(other, unknown)])
    assert [j for j, _ in refused] == [other], refused
    assert repr(unknown) in str(refused[0][1]), refused
    # the command line finds the scheduler's commands where this executor does (a test's
    # executor may have them from its configuration, not from the environment)
    env = dict(os.environ)
    command_dir = getattr(executor.config, 'command_directory', None)
    if command_dir:
        env['PSIJ_%s_COMMAND_DIR' % executor.name.upper()] = str(command_dir)
    for command in ('status', 'cancel'):
        p = subprocess.run([sys.executable, '-m', 'psij', command, '-x', executor.name,
                            unknown], capture_output=True, text=True, timeout=WAIT, env=env)
        assert p.returncode != 0, (command, p.stdout, p.stderr)
        assert p.stdout.strip() == '' and unknown in p.stderr, (command, p.stdout, p.stderr)


SELF_KILLS = {"trap 'kill 0' EXIT; exit 0": 143, 'kill -9 0': 137}
"""Scripts that kill their own process group (the batch script with it), and the exit code
of each: the shell's 128 + the signal."""


def check_self_kill_is_failed(executor: JobExecutor) -> None:
    """
    A job that kills its own process group, with SIGTERM from an EXIT trap (a common
    pattern) or with SIGKILL, was not canceled: it ends FAILED with 128 + the signal as its
    exit code, however the scheduler accounts for it.
    """
    jobs = {script: Job(sh(script)) for script in SELF_KILLS}
    for job in jobs.values():
        executor.submit(job)
    for script, job in jobs.items():
        st = wait_final(job)
        assert (st.state, st.exit_code) == (JobState.FAILED, SELF_KILLS[script]), (script, st)


def check_cpu_limit_kill(executor: JobExecutor, attributes: Dict[str, str],
                         seconds: float) -> JobStatus:
    """
    A job that burns CPU past the CPU-time limit of `seconds` that the custom `attributes`
    ask the scheduler for (``{'pbs.cput': '00:00:03'}``, ``{'sge.l': 'h_cpu=3'}``) ends
    FAILED with no exit code and a message starting "CPU-time limit exceeded (N s)" (a
    walltime of two minutes ends it if the limit is not enforced). Returns its final status.
    """
    from datetime import timedelta

    from psij.job_attributes import JobAttributes
    job = Job(sh('i=0; while :; do i=$((i + 1)); done', attributes=JobAttributes(
        duration=timedelta(minutes=2), custom_attributes=dict(attributes))))
    executor.submit(job)
    st = wait_final(job)
    assert (st.state, st.exit_code) == (JobState.FAILED, None), st
    assert (st.message or '').startswith('CPU-time limit exceeded (%g s)' % seconds), st
    return st


def check_mpirun_multi_node(executor: JobExecutor, tmp_path: Path, nodes: int = 2,
                            per_node: int = 2) -> None:
    """
    A job of `nodes` nodes and `per_node` processes per node started by the ``mpirun``
    launcher completes with every rank run once, also where the scheduler's "nodes" are
    vnodes of one host (the node file then names one host several times). Open MPI must be
    on ``PATH`` (as root, the caller sets ``PSIJ_MPIRUN_OPTIONS=--allow-run-as-root``).
    """
    out = tmp_path / 'ranks'
    out.mkdir()
    job = Job(JobSpec('/bin/sh', ['-c', 'echo x > "$0/rank.${OMPI_COMM_WORLD_RANK:-$PMI_RANK}"',
                                  str(out)], launcher='mpirun', directory=tmp_path,
                      resources=ResourceSpecV1(node_count=nodes, processes_per_node=per_node)))
    executor.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    assert sorted(p.name for p in out.iterdir()) == \
        ['rank.%d' % r for r in range(nodes * per_node)]


def use_mpirun(monkeypatch: Any) -> None:
    """
    Skips the calling test when ``mpirun`` is not on ``PATH`` (fails it with
    ``PSIJ_REQUIRE_MPI=1``, as CI sets); as root, sets ``PSIJ_MPIRUN_OPTIONS`` to
    ``--allow-run-as-root`` with `monkeypatch` (pytest's fixture) for the jobs it submits.
    """
    import os
    import shutil

    import pytest
    if shutil.which('mpirun') is None:
        if os.environ.get('PSIJ_REQUIRE_MPI') == '1':
            pytest.fail('mpirun not found but PSIJ_REQUIRE_MPI=1')
        pytest.skip('mpirun not found: install Open MPI (ci/setup-system.sh does)')
    if os.getuid() == 0:
        monkeypatch.setenv('PSIJ_MPIRUN_OPTIONS', '--allow-run-as-root')
