"""A third-party batch executor for a scheduler with one program and subcommands
(tests/tctl: ``tctl submit``, ``tctl dump`` printing one JSON document, ``tctl kill``; ids like
``t.17``), as issue 26 wrote one from the guide: it runs jobs, passes the shared fault tests,
and each mistake planted in it is refused with a message that names the cause."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterator

import pytest
from psij import Job, JobSpec, JobState
from psij.conformance.batch_faults import BatchFaultTests
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
)
from tctl.executor import TctlJobExecutor

TCTL = Path(__file__).parent / 'tctl' / 'tctl.py'


def install_tctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A command directory holding ``tctl``; its state in TCTL_DIR."""
    state = tmp_path / 'tctl-state'
    state.mkdir()
    bindir = tmp_path / 'tctl-bin'
    bindir.mkdir()
    p = bindir / 'tctl'
    p.write_text('#!/bin/sh\nexec %s %s "$@"\n' % (sys.executable, TCTL))
    p.chmod(0o755)
    monkeypatch.setenv('TCTL_DIR', str(state))
    monkeypatch.setenv('PSIJ_TCTL_COMMAND_DIR', str(bindir))
    return bindir


@pytest.fixture
def tctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    bindir = install_tctl(tmp_path, monkeypatch)
    yield bindir
    # nothing of ours keeps running
    import subprocess
    subprocess.run([str(bindir / 'tctl'), 'dump'], capture_output=True, timeout=60)


def make(cls: type = TctlJobExecutor, tmp_path: Path = Path('/nonexistent'),
         **kw: float) -> TctlJobExecutor:
    cfg = BatchSchedulerExecutorConfig(work_directory=tmp_path / 'work',
                                       queue_polling_interval=0.5,
                                       initial_queue_polling_delay=0.1,
                                       file_check_interval=0.1, **kw)
    ex = cls(config=cfg)
    assert isinstance(ex, TctlJobExecutor)
    return ex


def test_tctl_runs_jobs_lists_and_attaches(tctl: Path, tmp_path: Path) -> None:
    ex = make(tmp_path=tmp_path)
    ok, bad = Job(JobSpec('/bin/true')), Job(JobSpec('/bin/sh', ['-c', 'exit 3']))
    for j in (ok, bad):
        ex.submit(j)
    assert re.fullmatch(r't\.\d+', ok.native_id or ''), ok.native_id
    assert sorted(ex.list()) == sorted([ok.native_id, bad.native_id])
    st = ok.wait(timeout=120)
    assert st is not None and st.state is JobState.COMPLETED, st
    st = bad.wait(timeout=120)
    assert st is not None and (st.state, st.exit_code) == (JobState.FAILED, 3), st
    again = Job()
    make(tmp_path=tmp_path).attach(again, ok.native_id or '')
    assert again.status.state is JobState.COMPLETED


class TestTctlFaults(BatchFaultTests):
    """The shared fault tests, on one program with subcommands: a status outage leaves the
    cancel working, a lost cancel is sent again."""

    executor_class = TctlJobExecutor
    operations = {'submit': ('tctl', 'submit'), 'status': ('tctl', 'dump'),
                  'cancel': ('tctl', 'kill'), 'list': ('tctl', 'list')}

    @pytest.fixture(autouse=True)
    def _scheduler(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real_command_dir = str(install_tctl(tmp_path, monkeypatch))


# -- planted mistakes -----------------------------------------------------------------------------

def test_native_id_pattern_given_as_a_string_works(tctl: Path, tmp_path: Path) -> None:
    class StringPattern(TctlJobExecutor):
        native_id_pattern = r't\.\d+'  # type: ignore[assignment]

    ex = make(StringPattern, tmp_path)
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    assert job.wait(timeout=120).state is JobState.COMPLETED  # type: ignore[union-attr]
    with pytest.raises(InvalidJobException, match=r"'-u root' is not a tctl job id \(they "
                                                  r"look like t\.17"):
        make(StringPattern, tmp_path).attach(Job(), '-u root')


def test_native_id_example_not_matching_the_pattern_is_refused_at_construction() -> None:
    class WrongPattern(TctlJobExecutor):
        native_id_pattern = re.compile(r't\d+')  # the "." forgotten

    with pytest.raises(TypeError) as ei:
        make(WrongPattern)
    msg = str(ei.value)
    print(msg)
    assert "WrongPattern.native_id_example 't.17' does not match" in msg
    assert "WrongPattern.native_id_pattern 't\\\\d+'" in msg


@pytest.mark.parametrize('bad', [42, r't\.(\d+'])
def test_native_id_pattern_that_is_no_pattern_is_refused_at_construction(bad: object) -> None:
    cls = type('BadPattern', (TctlJobExecutor,), {'native_id_pattern': bad})
    with pytest.raises(TypeError, match=r'BadPattern\.native_id_pattern') as ei:
        make(cls)
    print(ei.value)


def test_submitted_id_not_matching_the_pattern_is_the_executors_bug(tctl: Path,
                                                                   tmp_path: Path) -> None:
    class OtherIds(TctlJobExecutor):
        native_id_pattern = re.compile(r'job\d+')  # consistent with its example, not tctl
        native_id_example = 'job17'

    job = Job(JobSpec('/bin/sh', ['-c', 'sleep 600']))
    with pytest.raises(SubmitException) as ei:
        make(OtherIds, tmp_path).submit(job)
    msg = str(ei.value)
    print(msg)
    assert 'Bug in' in msg and 'OtherIds' in msg and 'job_id_from_submit_output returned' in msg
    assert "native_id_pattern 'job\\\\d+'" in msg
    assert job.executor is None and job.native_id is None
    # the job was submitted: cancel it as the message says
    native_id = re.search(r"returned '(t\.\d+)'", msg)
    assert native_id is not None
    import subprocess
    subprocess.run([str(tctl / 'tctl'), 'kill', native_id.group(1)], check=True, timeout=60)


def test_a_missing_hook_is_refused_at_construction_with_its_name() -> None:
    class NoCancel(TctlJobExecutor):
        get_cancel_command = BatchSchedulerExecutor.get_cancel_command

    with pytest.raises(TypeError, match=r'NoCancel is not a complete .*\n.*'
                                        r'get_cancel_command\(native_id\)') as ei:
        make(NoCancel)
    print(ei.value)


def test_an_incomplete_class_is_one_clear_error_everywhere(
        capsys: pytest.CaptureFixture[str]) -> None:
    from psij import Descriptor, JobExecutor
    from psij.cli import plugins_cmd
    from psij.cli.main import main
    from psij.plugins import registry
    registry.reset()
    try:
        JobExecutor.register_executor(Descriptor(name='tctl-nocancel', version='1.0',
                                                 cls='tctl.planted.NoCancel'))
        rows = [r for r in plugins_cmd.collect()['executors'] if r['name'] == 'tctl-nocancel']
        assert len(rows) == 1 and rows[0]['error'] is not None, rows
        first_line = rows[0]['error'].splitlines()[0]
        assert 'NoCancel is not a complete batch-scheduler executor (missing: ' \
               'get_cancel_command)' in first_line, first_line
        with pytest.raises(ValueError, match=r'Unable to load executor tctl-nocancel: '
                                             r'TypeError: .*missing: get_cancel_command'):
            JobExecutor.get_instance('tctl-nocancel')
        capsys.readouterr()
        assert main(['plugins']) == 1
        out = capsys.readouterr().out
        print(out)
        assert 'ERROR: Unable to load executor tctl-nocancel' in out
        for cmd in (['script', '-x', 'tctl-nocancel', '--', '/bin/true'],
                    ['run', '-x', 'tctl-nocancel', '--', '/bin/true']):
            code = main(cmd)
            cap = capsys.readouterr()
            text = cap.out + cap.err
            print(cmd, code, text)
            assert code != 0 and 'Traceback' not in text, text
            assert cap.err.count('missing: get_cancel_command') == 1, text
    finally:
        registry.reset()


def test_cli_script_takes_attributes_and_a_missing_command_names_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from psij import Descriptor, JobExecutor
    from psij.cli.main import main
    from psij.plugins import registry
    registry.reset()
    try:
        JobExecutor.register_executor(Descriptor(name='tctl', version='1.0',
                                                 cls='tctl.executor.TctlJobExecutor'))
        monkeypatch.setenv('HOME', str(tmp_path))
        capsys.readouterr()
        assert main(['script', '-x', 'tctl', '--queue', 'debug', '--account', 'proj1',
                     '--duration', '1:30', '--', '/bin/true']) == 0
        out = capsys.readouterr().out
        assert '#TCTL --queue=debug' in out and '#TCTL --account=proj1' in out, out
        assert '#TCTL --time=90' in out, out
        with pytest.raises(SystemExit):
            main(['script', '--help'])
        helptext = capsys.readouterr().out
        assert '--spec FILE.json holds a job specification' in helptext
        assert '"queue_name": "debug"' in helptext and '--duration' in helptext
        monkeypatch.delenv('PSIJ_TCTL_COMMAND_DIR', raising=False)
        monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
        code = main(['run', '-x', 'tctl', '--', '/bin/true'])
        cap = capsys.readouterr()
        print(cap.err)
        assert code != 0 and 'Traceback' not in cap.err
        assert 'Cannot run tctl' in cap.err and 'set PSIJ_TCTL_COMMAND_DIR' in cap.err, cap.err
    finally:
        registry.reset()


def test_kit_says_a_field_declared_honoured_is_never_written(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    import json
    import os
    import subprocess
    bindir = install_tctl(tmp_path, monkeypatch)
    # (registered by that name, the executor's command directory variable is named after it)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent),
               PSIJ_TCTL_NOACCOUNT_COMMAND_DIR=str(bindir))
    report = tmp_path / 'report.json'
    p = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'psij.conformance.plugin', '-p',
         'no:cacheprovider', '--pyargs', 'psij.conformance', '--psij-executor', 'tctl-noaccount',
         '--psij-import', 'tctl.kit_register', '--psij-work-dir', str(tmp_path / 'work'),
         '--psij-report-json', str(report), '-q', '-k', 'hostile_scheduler_fields'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1, p.stdout + p.stderr
    reasons = {f['check']: f['reason'] for f in json.loads(report.read_text())['failures']}
    reason = reasons['HostileInputChecks.test_hostile_scheduler_fields']
    print(reason)
    assert 'JobAttributes.account is declared honoured (honoured_fields) but never appears ' \
           'in the script' in reason, reason
    assert 'queue_name' not in reason, reason


def test_kit_reports_an_incomplete_executor_once(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os
    import subprocess
    install_tctl(tmp_path, monkeypatch)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    report = tmp_path / 'report.json'
    p = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'psij.conformance.plugin', '-p',
         'no:cacheprovider', '--pyargs', 'psij.conformance', '--psij-executor', 'tctl-nocancel',
         '--psij-import', 'tctl.kit_register', '--psij-work-dir', str(tmp_path / 'work'),
         '--psij-report-json', str(report), '-q'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    print(out)
    assert p.returncode == 1, out
    assert out.count('missing: get_cancel_command') == 1 and 'Traceback' not in out, out
    assert len(out.splitlines()) < 20, out
    error = json.loads(report.read_text())['executor_error']
    assert 'NoCancel is not a complete batch-scheduler executor (missing: ' \
           'get_cancel_command)' in error, error
