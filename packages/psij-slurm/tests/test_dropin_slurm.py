"""
Drop-in for psij-python on the real Slurm cluster (issue 16):

- an executor written the psij-python way (psij_python_style: a Mustache template rendered by
  TemplatedScriptGenerator, psij-python's hooks) runs unchanged;
- staging as psij-python's documentation shows it (a job reading ``in1.txt`` staged in and
  writing an output staged out) works on ``slurm``, inside the job; before, ``slurm`` ran such
  a job without its files (``cat: in1.txt: No such file or directory``);
- a canceled job stages out its ``ON_CANCEL`` files from Slurm's SIGTERM;
- a template in the style of psij-python's templates with staging (the partials
  ``{{> batch_lib}}``, ``{{> stagein}}``, ``{{> stageout}}``, ``{{> cleanup}}``) stages.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Tuple

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobAttributes,
    JobSpec,
    JobState,
    StageIn,
    StageOut,
    StageOutFlags,
)
from psij_python_style.executor import (
    SlurmPartialsStyleExecutor,
    SlurmStyleExecutor,
    StyleExecutorConfig,
)
from psij_slurm.conformance import scheduler_view
from slurm_helpers import executor, sh, wait_final, wait_state

pytestmark = pytest.mark.usefixtures('slurm_cluster')

EVERY_STATE = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
               JobState.CLEANUP]


def _style(work: Path, cls: type = SlurmStyleExecutor) -> SlurmStyleExecutor:
    return cls(config=StyleExecutorConfig(
        work_directory=work, queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
        file_check_interval=0.2))


def _states(job: Job) -> List[JobState]:
    seen: List[JobState] = []
    job.set_job_status_callback(lambda j, s: seen.append(s.state))
    return seen


def test_psij_python_style_executor_runs_unchanged(tmp_path: Path) -> None:
    ex = _style(tmp_path / 'work')
    out = tmp_path / 'out.txt'
    attrs = {'slurm.comment': 'first'}
    job = Job(JobSpec('/bin/sh', ['-c', 'echo "$1|$FOO|$(pwd)"; exit 3', 'sh', 'a  b'],
                      directory=tmp_path, environment={'FOO': "it's $HOME"}, stdout_path=out,
                      attributes=JobAttributes(queue_name='debug', custom_attributes=attrs)))
    attrs['slurm.comment'] = 'changed_after'  # psij-python keeps the dict: this counts
    ex.submit(job)
    assert job.native_id is not None
    view = scheduler_view(job.native_id)
    st = wait_final(job)
    # the exit code comes from the template's own exit-code file (no psij token in it)
    assert st.state is JobState.FAILED and st.exit_code == 3, st
    assert out.read_text() == "a  b|it's $HOME|%s\n" % tmp_path
    assert view.get('slurm.comment') == 'changed_after', view


def test_psij_python_style_executor_completes_and_refuses_what_it_cannot_do(
        tmp_path: Path) -> None:
    ex = _style(tmp_path / 'work')
    job = Job(sh('exit 0', attributes=JobAttributes(queue_name='debug')))
    seen = _states(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED and st.exit_code == 0, st
    assert seen == EVERY_STATE + [JobState.COMPLETED]
    src = tmp_path / 'in.txt'
    src.write_text('x')
    # its template does not stage: refused, not dropped
    with pytest.raises(InvalidJobException, match='JobSpec.stage_in'):
        ex.submit(Job(sh('exit 0', stage_in={StageIn(src, 'in.txt')})))
    # a job name that would end the #SBATCH line and start shell code
    with pytest.raises(InvalidJobException, match='cannot be written into the line'):
        ex.submit(Job(sh('exit 0', name='x\ntouch %s' % (tmp_path / 'pwned'))))
    assert not (tmp_path / 'pwned').exists()


def _documented_staging(tmp: Path, command: str, source: str) -> Tuple[Job, Path, Path]:
    """The job of psij-python's staging documentation (reads ``in1.txt``, staged in from
    `source` with ``{}`` for the inputs directory, writes ``out1.txt``, staged out, and
    ``scratch.log``, cleaned up); returns it, the outputs directory and its directory."""
    inputs, outputs, run = tmp / 'inputs', tmp / 'outputs', tmp / 'run'
    for d in (inputs, outputs, run):
        d.mkdir()
    (inputs / 'in1.txt').write_text('input one\n')
    job = Job(JobSpec('/bin/sh', ['-c', command + ' < in1.txt > out1.txt; date > scratch.log'],
                      directory=run, attributes=JobAttributes(queue_name='debug'),
                      stage_in={StageIn(source.format(inputs / 'in1.txt'), 'in1.txt')},
                      stage_out={StageOut('out1.txt', outputs / 'out1.txt'),
                                 StageOut('missing.txt', outputs / 'missing.txt',
                                          StageOutFlags.IF_PRESENT)},
                      cleanup={'scratch.log', 'in1.txt'}))
    return job, outputs, run


def test_staging_as_in_psij_pythons_documentation(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    job, outputs, run = _documented_staging(tmp_path, 'cat', 'file://{}')
    seen = _states(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    assert (outputs / 'out1.txt').read_text() == 'input one\n'
    assert not (outputs / 'missing.txt').exists()
    assert not (run / 'scratch.log').exists() and not (run / 'in1.txt').exists()
    assert seen == EVERY_STATE + [JobState.COMPLETED]


def test_canceled_job_stages_out_its_on_cancel_files(tmp_path: Path) -> None:
    ex = executor(tmp_path / 'work')
    run, kept, not_kept = tmp_path / 'run', tmp_path / 'partial.txt', tmp_path / 'ok.txt'
    run.mkdir()
    started = run / 'started'
    job = Job(sh('echo partial > partial.txt; : > started; exec sleep 300', directory=run,
                 stage_out={StageOut('partial.txt', kept, StageOutFlags.ON_CANCEL),
                            StageOut('partial.txt', not_kept, StageOutFlags.ON_SUCCESS)},
                 cleanup={'started'}, cleanup_flags=StageOutFlags.ON_CANCEL))
    ex.submit(job)
    wait_state(job, JobState.ACTIVE)
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), 'the job never started its command'
    job.cancel()
    st = wait_final(job)
    assert st.state is JobState.CANCELED, st
    deadline = time.monotonic() + 60  # the trap runs as Slurm ends the job
    while not kept.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept.read_text() == 'partial\n'
    assert not not_kept.exists()
    assert not started.exists(), 'the ON_CANCEL cleanup did not run'


def test_psij_pythons_own_slurm_executor_source_runs_on_psij(tmp_path: Path) -> None:
    """psij-python 0.9.11's slurm.py and slurm.mustache, loaded from its installation (see
    ``PSIJ_PYTHON_VENV``), run on psij's framework against the real cluster."""
    import glob
    import importlib.util
    import os

    venv = os.environ.get('PSIJ_PYTHON_VENV', '/tmp/psijpy-venv')
    found = glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages', 'psij',
                                   'executors', 'batch', 'slurm.py'))
    if not found:
        pytest.skip('psij-python is not installed in %s (nox -s bench installs it)' % venv)
    spec = importlib.util.spec_from_file_location('psij_python_slurm', found[0])
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ex = mod.SlurmJobExecutor(config=mod.SlurmExecutorConfig(
        work_directory=tmp_path / 'work', queue_polling_interval=1.0,
        initial_queue_polling_delay=0.5))
    out = tmp_path / 'out.txt'
    job = Job(JobSpec('/bin/sh', ['-c', 'echo "$1|$FOO"; exit 4', 'sh', "it's"],
                      environment={'FOO': 'a b'}, stdout_path=out,
                      attributes=JobAttributes(queue_name='debug',
                                               custom_attributes={'slurm.comment': 'pp'})))
    seen = _states(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 4, st
    assert out.read_text() == "it's|a b\n"
    assert seen == EVERY_STATE + [JobState.FAILED]
    # its _clean_submit_script deletes the node file its template writes
    assert not list((tmp_path / 'work').iterdir()), list((tmp_path / 'work').iterdir())


def test_psij_python_template_with_staging_partials(tmp_path: Path) -> None:
    ex = _style(tmp_path / 'work', SlurmPartialsStyleExecutor)
    job, outputs, run = _documented_staging(tmp_path, 'tr a-z A-Z', '{}')
    seen = _states(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED and st.exit_code == 0, st
    assert (outputs / 'out1.txt').read_text() == 'INPUT ONE\n'
    assert sorted(p.name for p in run.iterdir()) == ['out1.txt']
    assert seen == EVERY_STATE + [JobState.COMPLETED]
    # a mandatory stage-out of nothing fails the job that exited 0, saying why
    job = Job(JobSpec('/bin/true', directory=run, attributes=JobAttributes(queue_name='debug'),
                      stage_out={StageOut('missing.txt', outputs / 'missing.txt')}))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 1, st
    assert 'stage-out of missing.txt failed' in (st.message or ''), st
    # without a stage-out partial, a stage-out is refused, not dropped
    plain = _style(tmp_path / 'work2')
    with pytest.raises(InvalidJobException, match='JobSpec.stage_out'):
        plain.submit(Job(JobSpec('/bin/true', stage_out={StageOut('x', outputs / 'x')})))
