"""
Staging on ``flux``: the jobspec (wrapper only when the job stages), the wrapper run here with
``sh`` on hostile paths, and jobs on the real instance with ``single``, ``multiple`` and
``mpirun`` (staging once, on the lead node, around all ranks).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from flux_helpers import Recorder, blocking, check_chain, flux, sh
from psij import (
    InvalidJobException,
    Job,
    JobExecutor,
    JobSpec,
    JobState,
    ResourceSpecV1,
    StageIn,
    StageOut,
    StageOutFlags,
    StagingMode,
)
from psij_flux.jobspec import LEAD_SH, TASK_SH, build_submission, stage_script

FLUX = '/opt/flux/bin/flux'
WAIT = 120.0

# Paths that would run code, split words or read as options if they ever reached a shell
# unquoted.
HOSTILE = ["it's $(touch pwned1) `touch pwned2`", 'new\nline; touch pwned3', '-rf',
           '--x "$HOME" *']


def command(spec: JobSpec, launcher: str = 'single') -> list[str]:
    sub = build_submission(spec, launcher, None, FLUX, job_name='j', cwd='/base',
                           environ={'PATH': '/bin'})
    return list(sub.jobspec['tasks'][0]['command'])


# -- the jobspec ----------------------------------------------------------------------------

def test_no_staging_no_wrapper() -> None:
    """A job without staging runs exactly as before: its argv, unwrapped."""
    spec = JobSpec('/bin/echo', ['a'])
    assert stage_script(spec, '', True, os.devnull, os.devnull) == []
    assert command(spec) == ['/bin/echo', 'a']
    assert not any('_psij_stage' in w for w in command(spec, 'multiple'))


def test_single_task_is_wrapped_once() -> None:
    spec = JobSpec('/bin/true', directory='/d', stage_in={StageIn('/src', 'in.txt')})
    cmd = command(spec)
    assert cmd[:2] == ['/bin/sh', '-c'] and '_psij_stage_in copy' in cmd[2]
    assert cmd[3:8] == ['psij-flux', '/d', '1', '', '']  # no stdout/stderr file: /dev/null
    assert cmd[8:11] == ['/bin/sh', '-c', TASK_SH] and cmd[-1] == '/bin/true'


@pytest.mark.parametrize('launcher', ['multiple', 'mpirun'])
def test_flux_ranks_stage_in_the_nested_instance(launcher: str) -> None:
    """Several ranks: staging is the nested instance's initial program (lead node, once),
    around the ``flux run`` of the ranks, even without pre/post-launch scripts."""
    spec = JobSpec('/bin/true', stage_out={StageOut('out', '/dst')},
                   resources=ResourceSpecV1(node_count=2, processes_per_node=1))
    cmd = command(spec, launcher)
    assert cmd[:4] == [FLUX, 'broker', '/bin/sh', '-c'] and '_psij_finish' in cmd[4]
    assert cmd[5:10] == ['psij-flux', '', '1', '', '']
    assert cmd[10:13] == ['/bin/sh', '-c', LEAD_SH]
    assert cmd[13:18] == ['psij-flux', '', FLUX, '', ''] and cmd[18:20] == [FLUX, 'run']
    assert sum('_psij_stage' in w for w in cmd) == 1


@pytest.mark.parametrize('field,kwargs', [
    ('stage_in', {'stage_in': {StageIn('http://example.org/a', 'a')}}),
    ('stage_out', {'stage_out': {StageOut('a', 'gsiftp://host/a')}}),
    ('stage_in', {'stage_in': {StageIn('file://otherhost/a', 'a')}}),
])
def test_unsupported_scheme_refused(field: str, kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidJobException, match=field):
        command(JobSpec('/bin/true', **kwargs))


# -- the wrapper, run here ------------------------------------------------------------------

def _hostile_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    src, out, d = tmp_path / 'src', tmp_path / 'out', tmp_path / HOSTILE[0]
    for p in (src, out, d):
        p.mkdir()
    for i, name in enumerate(HOSTILE):
        (src / name).write_text('in %d\n' % i)
    return src, out, d


def _hostile_spec(src: Path, out: Path, d: Path, **kwargs: object) -> JobSpec:
    # the job copies each staged-in file to NAME.out, and leaves NAME.tmp for cleanup
    script = 'for f in "$@"; do cat -- "$f" > "$f.out" && : > "$f.tmp" || exit 9; done'
    return JobSpec('/bin/sh', ['-c', script, 'job'] + HOSTILE, directory=d,
                   stage_in={StageIn(src / n, n) for n in HOSTILE},
                   stage_out={StageOut(n + '.out', out / n) for n in HOSTILE},
                   cleanup={n + '.tmp' for n in HOSTILE}, **kwargs)  # type: ignore[arg-type]


def _check_hostile(tmp_path: Path, out: Path, d: Path) -> None:
    for i, name in enumerate(HOSTILE):
        assert (out / name).read_text() == 'in %d\n' % i, name
        assert (d / name).read_text() == 'in %d\n' % i, name
        assert not (d / (name + '.tmp')).exists(), name
    assert not list(tmp_path.rglob('pwned*')), 'a path ran as code'


def test_wrapper_hostile_paths_are_data(tmp_path: Path) -> None:
    src, out, d = _hostile_tree(tmp_path)
    cmd = command(_hostile_spec(src, out, d))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    _check_hostile(tmp_path, out, d)


def test_wrapper_missing_directory_fails_as_without_staging(tmp_path: Path) -> None:
    cmd = command(JobSpec('/bin/true', directory=tmp_path / 'missing',
                          stage_in={StageIn(tmp_path / 'x', 'x')}))
    p = subprocess.run(cmd, capture_output=True, text=True, env={'PATH': '/bin:/usr/bin'})
    assert p.returncode == 1
    assert 'cannot enter the job directory' in p.stderr


# -- the real instance ----------------------------------------------------------------------

@pytest.fixture
def ex(flux_instance: str) -> JobExecutor:
    return JobExecutor.get_instance('flux')


def run(ex: JobExecutor, spec: JobSpec) -> tuple[Job, Recorder]:
    rec = Recorder()
    job = Job(spec)
    job.set_job_status_callback(rec)
    ex.submit(job)
    st = job.wait(timeout=WAIT)
    assert st is not None, 'job %s did not end: %s' % (job.native_id, job.status)
    return job, rec


@pytest.mark.flux
def test_flux_hostile_paths(ex: JobExecutor, tmp_path: Path) -> None:
    """Staged in, out and cleaned up by a real Flux job, every state reported in order."""
    src, out, d = _hostile_tree(tmp_path)
    job, rec = run(ex, _hostile_spec(src, out, d))
    assert job.status.state is JobState.COMPLETED, job.status
    check_chain(rec.states, JobState.COMPLETED)
    _check_hostile(tmp_path, out, d)


# each rank: the staged-in file, and the size of the instance that started it (the nested one
# of the job: one broker per node of the job)
RANK = 'cat in.txt > "rank.$FLUX_TASK_RANK"; flux getattr size >> "rank.$FLUX_TASK_RANK"'


@pytest.mark.flux
@pytest.mark.parametrize('launcher', ['multiple', 'mpirun'])
def test_flux_ranks_stage_once_on_the_lead_node(ex: JobExecutor, tmp_path: Path,
                                                launcher: str) -> None:
    """Two ranks on two nodes: the stage-in (a move, so that a second one would fail) happens
    before either starts, the stage-out of the directory after both ended, once."""
    src, out, d = tmp_path / 'in.txt', tmp_path / 'out', tmp_path / 'job'
    d.mkdir()
    src.write_text('staged\n')
    job, rec = run(ex, sh(RANK, directory=d, launcher=launcher,
                          stage_in={StageIn(src, 'in.txt', StagingMode.MOVE)},
                          stage_out={StageOut(d, out)}, cleanup={'in.txt'},
                          resources=ResourceSpecV1(node_count=2, processes_per_node=1)))
    assert job.status.state is JobState.COMPLETED, job.status
    check_chain(rec.states, JobState.COMPLETED)
    assert not src.exists() and not (d / 'in.txt').exists()
    ranks = sorted(out.glob('rank.*'))
    assert [f.name for f in ranks] == ['rank.0', 'rank.1']
    lines = [f.read_text().split('\n') for f in ranks]
    assert all(ln[0] == 'staged' for ln in lines), lines
    assert all(ln[1] == '2' for ln in lines), lines
    assert job.native_id is not None
    assert flux('jobs', '-n', '-o', '{nnodes}', job.native_id).stdout.strip() == '2'
    assert (out / 'in.txt').read_text() == 'staged\n'  # staged out before the cleanup


@pytest.mark.flux
@pytest.mark.parametrize('launcher', ['single', 'multiple'])
def test_flux_failed_stage_in_does_not_run(ex: JobExecutor, tmp_path: Path,
                                           launcher: str) -> None:
    marker, err = tmp_path / 'ran', tmp_path / 'err'
    job, rec = run(ex, sh(': > "$1"', str(marker), launcher=launcher, directory=tmp_path,
                          stdout_path=err, resources=ResourceSpecV1(process_count=2)
                          if launcher != 'single' else None,
                          stage_in={StageIn(tmp_path / 'missing', 'in.txt')},
                          stage_out={StageOut('log', tmp_path / 'log-out',
                                              StageOutFlags.ON_ERROR)},
                          cleanup={'log'}))
    assert job.status.state is JobState.FAILED and job.status.exit_code == 1, job.status
    assert not marker.exists()
    assert 'stage-in of %s failed' % (tmp_path / 'missing') in err.read_text()


@pytest.mark.flux
def test_flux_failed_stage_out_fails_the_job(ex: JobExecutor, tmp_path: Path) -> None:
    job, rec = run(ex, sh('exit 0', directory=tmp_path,
                          stage_out={StageOut('never-written', tmp_path / 'x')}))
    assert job.status.state is JobState.FAILED and job.status.exit_code == 1, job.status
    check_chain(rec.states, JobState.FAILED)
    out = tmp_path / 'if-present'
    job, rec = run(ex, sh('exit 0', directory=tmp_path, stage_out={
        StageOut('never-written', out, StageOutFlags.IF_PRESENT)}))
    assert job.status.state is JobState.COMPLETED, job.status
    assert not out.exists()


@pytest.mark.flux
def test_flux_unsupported_scheme_not_submitted(ex: JobExecutor, tmp_path: Path) -> None:
    marker = tmp_path / 'ran'
    job = Job(sh(': > "$1"', str(marker), stage_in={StageIn('http://example.org/a', 'a')}))
    with pytest.raises(InvalidJobException, match='stage_in'):
        ex.submit(job)
    assert job.status.state is JobState.NEW and job.native_id is None


@pytest.mark.flux
@pytest.mark.parametrize('launcher', ['single', 'multiple'])
def test_flux_cancel_stages_out_on_cancel(ex: JobExecutor, tmp_path: Path,
                                          launcher: str) -> None:
    """Flux's SIGTERM (single task) or the nested instance's SIGHUP (two ranks) reaches the
    wrapper's trap: ON_CANCEL entries are staged out, the others not, and cleanup runs."""
    res = ResourceSpecV1(node_count=2, processes_per_node=1) if launcher != 'single' else None
    spec, started, _ = blocking(tmp_path, directory=tmp_path, launcher=launcher,
                                resources=res)
    (tmp_path / 'partial').write_text('p\n')
    (tmp_path / 'tmp').write_text('t\n')
    spec.stage_out = {StageOut('partial', tmp_path / 'on-cancel', StageOutFlags.ON_CANCEL),
                      StageOut('partial', tmp_path / 'on-success', StageOutFlags.ON_SUCCESS)}
    spec.cleanup = {'tmp'}
    job = Job(spec)
    ex.submit(job)
    for _ in range(1200):  # the command runs: the staging trap is set
        if started.exists() or job.status.state.final:
            break
        time.sleep(0.1)
    assert started.exists(), job.status
    job.cancel()
    st = job.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED, st
    assert (tmp_path / 'on-cancel').read_text() == 'p\n'
    assert not (tmp_path / 'on-success').exists()
    assert not (tmp_path / 'tmp').exists()


@pytest.mark.flux
@pytest.mark.parametrize('env', [{}, {'PATH': '/nonexistent'}])
def test_flux_staging_without_a_usable_path(ex: JobExecutor, tmp_path: Path,
                                            env: dict[str, str]) -> None:
    """The job's environment need not give the staging commands a PATH, and the command gets
    the job's own PATH (or none) back."""
    src, out = tmp_path / 'src', tmp_path / 'env.out'
    src.write_text('x\n')
    job, _ = run(ex, JobSpec('/usr/bin/env', directory=tmp_path, inherit_environment=False,
                             environment=dict(env), stdout_path=out,
                             stage_in={StageIn(src, 'in')},
                             stage_out={StageOut('in', tmp_path / 'back')}))
    assert job.status.state is JobState.COMPLETED, (job.status, out.read_text())
    assert (tmp_path / 'back').read_text() == 'x\n'
    paths = [ln for ln in out.read_text().splitlines() if ln.startswith('PATH=')]
    assert paths == (['PATH=' + env['PATH']] if 'PATH' in env else []), paths


@pytest.mark.flux
@pytest.mark.parametrize('launcher', ['single', 'multiple'])
def test_flux_stage_out_of_the_jobs_own_output_is_complete(ex: JobExecutor, tmp_path: Path,
                                                            launcher: str) -> None:
    """The job's stdout, staged out: all of it (the staging wrapper writes it itself, so it is
    complete when the stage-out copies it, not still on its way through Flux's shell), and
    only this run's (the file is truncated at the start, as without staging)."""
    d = tmp_path / 'jobdir'
    d.mkdir()
    (d / 'out.txt').write_text('left by an earlier job\n' * 1000)
    for i in range(3):
        dest = tmp_path / ('staged-%d.txt' % i)
        job, _ = run(ex, JobSpec('/bin/sh', ['-c', 'seq 1 20000; echo end'], directory=d,
                                 launcher=launcher, stdout_path=Path('out.txt'),
                                 stage_out={StageOut('out.txt', dest,
                                                     flags=StageOutFlags.IF_PRESENT)}))
        assert job.status.state is JobState.COMPLETED, job.status
        want = ''.join('%d\n' % n for n in range(1, 20001)) + 'end\n'
        assert dest.read_text() == want, 'round %d: %d of %d bytes staged out' % (
            i, len(dest.read_text()), len(want))
        assert (d / 'out.txt').read_text() == want
