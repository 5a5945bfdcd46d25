"""The LSF executor without a cluster: directives, validation, commands, output handling, and the
node file written from LSF's variables."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import pytest
from psij import Job, JobAttributes, JobExecutor, JobSpec, JobState, ResourceSpecV1
from psij.conformance.executor_test_helpers import check_native_id_forms
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutorConfig,
    InvalidJobStateError,
)
from psij_lsf.executor import LsfExecutorConfig, LsfJobExecutor, lsf_job_name

SAMPLES = Path(__file__).parent / 'samples' / 'lsf'


@pytest.fixture
def ex(tmp_path: Path) -> LsfJobExecutor:
    return LsfJobExecutor(config=LsfExecutorConfig(work_directory=tmp_path / 'work'))


def _directives(ex: LsfJobExecutor, spec: JobSpec) -> List[str]:
    job = Job(spec)
    ex._check_job(job)
    ctx = ex._create_script_context(job)
    return ex.get_directives(job, ctx)


def _opts(lines: List[str]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for line in lines:
        assert line.startswith('#BSUB -'), line
        key, _, value = line[len('#BSUB -'):].partition(' ')
        out.setdefault(key, []).append(value)
    return out


def test_every_field_maps_to_a_directive(ex: LsfJobExecutor, tmp_path: Path) -> None:
    spec = JobSpec('/bin/true', name='my job[1]\tname', directory=tmp_path,
                   inherit_environment=False,
                   resources=ResourceSpecV1(node_count=2, processes_per_node=3,
                                            cpu_cores_per_process=2, gpu_cores_per_process=1,
                                            exclusive_node_use=True, memory=3 * 2**30),
                   attributes=JobAttributes(duration=timedelta(hours=2, minutes=3, seconds=1),
                                            queue_name='normal', account='proj1',
                                            reservation_id='user1#0',
                                            custom_attributes={'lsf.alloc_flags': 'gpumps',
                                                               'lsf.B': True,
                                                               'lsf.N': False,
                                                               'slurm.qos': 'ignored'}))
    o = _opts(_directives(ex, spec))
    assert o['J'] == ['"my_job_1__name"']
    assert o['cwd'] == ['"%s"' % tmp_path]
    assert o['o'][0].startswith('"%s/%%J.' % (tmp_path / 'work')) and o['o'][0].endswith('.out"')
    assert o['env'] == ['"none"']
    assert o['n'] == ['6']
    assert o['R'] == ['"span[ptile=3]"', '"affinity[core(2)]"',
                      '"rusage[mem=%d]"' % (3 * 2**20 // 6)]
    assert o['gpu'] == ['"num=1/task"']
    assert o['M'] == ['%d' % (3 * 2**20 // 6)]  # KB per process, LSF's defaults
    assert o['x'] == ['']
    assert o['W'] == ['2:04']  # minutes, rounded up
    assert o['q'] == ['"normal"'] and o['P'] == ['"proj1"'] and o['U'] == ['"user1#0"']
    assert o['alloc_flags'] == ['"gpumps"'] and o['B'] == ['']
    assert 'N' not in o and 'qos' not in o and 'nnodes' not in o


def test_defaults(ex: LsfJobExecutor) -> None:
    o = _opts(_directives(ex, JobSpec('/bin/true')))
    assert o['n'] == ['1'] and 'R' not in o and 'env' not in o and 'x' not in o
    assert o['J'] == ['"_bin_true"']


def test_nnodes_and_memory_units(tmp_path: Path) -> None:
    cfg = LsfExecutorConfig(work_directory=tmp_path, use_nnodes=True, memory_unit='MB',
                            memory_per_process=False)
    ex = LsfJobExecutor(config=cfg)
    o = _opts(_directives(ex, JobSpec('/bin/true', resources=ResourceSpecV1(
        node_count=3, processes_per_node=4, memory=10 * 2**20 + 1))))
    assert o['nnodes'] == ['3'] and 'n' not in o and 'R' in o
    assert o['M'] == ['11']  # MB for the whole job, rounded up
    with pytest.raises(ValueError):
        LsfExecutorConfig(memory_unit='PB')


@pytest.mark.parametrize('attrs', [
    JobAttributes(queue_name='q\n#BSUB -x'),
    JobAttributes(queue_name='q" -x "'),
    JobAttributes(account='-P other'),
    JobAttributes(account='$(id)'),
    JobAttributes(custom_attributes={'lsf.R': 'a`id`'}),
    JobAttributes(custom_attributes={'lsf.bad key': 'x'}),
    JobAttributes(custom_attributes={'lsf.x': ''}),
])
def test_injection_is_refused(ex: LsfJobExecutor, attrs: JobAttributes) -> None:
    job = Job(JobSpec('/bin/true', attributes=attrs))
    with pytest.raises(InvalidJobException):
        ex.submit(job)
    assert job.status.state is JobState.NEW


def test_unsafe_directory_is_left_to_the_script(ex: LsfJobExecutor) -> None:
    o = _opts(_directives(ex, JobSpec('/bin/true', directory=Path('/tmp/a"b'))))
    assert 'cwd' not in o  # the script still cd's there, safely quoted


def test_job_names() -> None:
    assert lsf_job_name('a b[1]%I') == 'a_b_1__I'
    assert lsf_job_name('--x') == 'x'
    assert lsf_job_name('') == 'psij'
    assert len(lsf_job_name('x' * 500)) == 200


def test_script_is_a_bash_script_with_directives_first(ex: LsfJobExecutor) -> None:
    job = Job(JobSpec('/bin/echo', ['a b'], environment={'V': 'x y'}))
    ex._check_job(job)
    f = io.StringIO()
    ex.generate_submit_script(job, ex._create_script_context(job), f)
    lines = f.getvalue().splitlines()
    assert lines[0] == '#!/bin/bash'
    first_cmd = next(i for i, line in enumerate(lines) if not line.startswith('#'))
    assert all(line.startswith('#BSUB ') for line in lines[1:first_cmd])
    assert '_psij_id="${LSB_JOBID}"' in lines
    assert "export V='x y'" in lines


def test_commands_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PSIJ_LSF_COMMAND_DIR', raising=False)
    monkeypatch.setenv('PSIJ_LSF_BIN', '/opt/lsf/10.1/linux/bin')
    ex = LsfJobExecutor(config=LsfExecutorConfig(work_directory=tmp_path))
    assert ex.get_cancel_command('5') == ['/opt/lsf/10.1/linux/bin/bkill', '5']
    assert ex.get_status_command(['1'])[0] == '/opt/lsf/10.1/linux/bin/bjobs'
    assert ex.get_submit_command(Job(), tmp_path / 's.job') == [
        '/bin/sh', '-c', 'exec "$0" <"$1"', '/opt/lsf/10.1/linux/bin/bsub',
        str(tmp_path / 's.job')]
    # the configuration, then the framework's PSIJ_LSF_COMMAND_DIR, win over PSIJ_LSF_BIN
    ex2 = LsfJobExecutor(config=LsfExecutorConfig(work_directory=tmp_path,
                                                  command_directory=Path('/x')))
    assert ex2.command('bsub') == '/x/bsub'
    monkeypatch.setenv('PSIJ_LSF_COMMAND_DIR', '/y')
    assert LsfJobExecutor(config=LsfExecutorConfig()).command('bjobs') == '/y/bjobs'
    monkeypatch.delenv('PSIJ_LSF_COMMAND_DIR')
    monkeypatch.delenv('PSIJ_LSF_BIN')
    assert LsfJobExecutor(config=LsfExecutorConfig()).command('bjobs') == 'bjobs'


def test_registered_lazily_and_psij_python_path() -> None:
    import importlib
    import sys
    assert 'lsf' in JobExecutor.get_executor_names()
    assert 'psij_lsf.executor' in sys.modules or True  # may be imported by other tests
    mod = importlib.import_module('psij.executors.batch.lsf')
    assert mod.LsfJobExecutor is LsfJobExecutor
    assert isinstance(JobExecutor.get_instance('lsf'), LsfJobExecutor)


def test_generic_config_is_converted(tmp_path: Path) -> None:
    base = BatchSchedulerExecutorConfig(work_directory=tmp_path, queue_polling_interval=7)
    ex = LsfJobExecutor(config=base)
    assert isinstance(ex.config, LsfExecutorConfig)
    assert ex.config.queue_polling_interval == 7 and ex.work_directory == tmp_path


# -- commands replaced by small scripts -----------------------------------------------------------

def _fake(d: Path, name: str, body: str) -> None:
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text('#!/bin/sh\n' + body)
    p.chmod(p.stat().st_mode | stat.S_IXUSR)


def _ex_with(tmp_path: Path, **fakes: str) -> LsfJobExecutor:
    d = tmp_path / 'bin'
    for name, body in fakes.items():
        _fake(d, name, body)
    return LsfJobExecutor(config=LsfExecutorConfig(work_directory=tmp_path / 'work',
                                                   command_directory=d, command_timeout=10))


def _cat(name: str, stream: str = '', rc: int = 0) -> str:
    return 'cat %s %s\nexit %d\n' % (SAMPLES / name, '>&2' if stream == 'err' else '', rc)


def test_submit_reads_the_id_after_an_esub_line(tmp_path: Path) -> None:
    done = '{"RECORDS":[{"JOBID":"473713","STAT":"DONE","EXIT_CODE":"","EXIT_REASON":""}]}'
    ex = _ex_with(tmp_path, bsub='cat >/dev/null\n' + _cat(
        'bsub_success_with_esub_line_lsf7.out'), bjobs="echo '%s'\n" % done)
    ex.config.initial_queue_polling_delay = 0
    job = Job(JobSpec('/bin/true'))
    ex.submit(job)
    assert job.native_id == '473713'
    st = job.wait(timeout=60)  # the fake bjobs says DONE: nothing stays in the status engine
    assert st is not None and st.state is JobState.COMPLETED and st.exit_code == 0


@pytest.mark.parametrize('name', ['bsub_error_no_such_queue.err', 'bsub_error_bad_n.err',
                                  'bsub_error_rusage_section.err',
                                  'bsub_error_select_section_REWRAPPED.err'])
def test_rejected_requests_are_invalid_jobs(tmp_path: Path, name: str) -> None:
    ex = _ex_with(tmp_path, bsub='cat >/dev/null\n' + _cat(name, 'err', 255))
    job = Job(JobSpec('/bin/true'))
    with pytest.raises(InvalidJobException) as ei:
        ex.submit(job)
    assert (SAMPLES / name).read_text().strip() in str(ei.value)
    assert job.status.state is JobState.NEW


def test_unreachable_master_is_transient(tmp_path: Path) -> None:
    ex = _ex_with(tmp_path, bsub='cat >/dev/null\necho "Cannot connect to LSF. Please wait ..." '
                  '>&2\nexit 255\n')
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert ei.value.transient


def test_other_submit_errors(tmp_path: Path) -> None:
    ex = _ex_with(tmp_path, bsub='cat >/dev/null\necho "Something odd. Job not submitted." '
                  '>&2\nexit 255\n')
    with pytest.raises(SubmitException) as ei:
        ex.submit(Job(JobSpec('/bin/true')))
    assert not ei.value.transient and 'Something odd' in str(ei.value)
    ex = _ex_with(tmp_path, bsub='cat >/dev/null\necho "Job <12> is almost there"\n')
    with pytest.raises(SubmitException):
        ex.submit(Job(JobSpec('/bin/true')))


def test_cancel_outputs(ex: LsfJobExecutor) -> None:
    with pytest.raises(InvalidJobStateError):
        ex.process_cancel_command_output(255, (SAMPLES / 'bkill_finished.err').read_text())
    with pytest.raises(InvalidJobStateError):
        ex.process_cancel_command_output(255, 'Job <5>: No matching job found')
    with pytest.raises(SubmitException) as ei:
        ex.process_cancel_command_output(255, 'Cannot connect to LSF. Please wait ...')
    assert ei.value.transient


def test_status_parsing_errors_and_quirks(ex: LsfJobExecutor) -> None:
    text = (SAMPLES / 'bjobs_-a_-json_-o_jobid_job_name_stat_finish_time_EXIT_DONE.out')
    got = ex.parse_status_output(0, text.read_text())
    assert got['491861'].state is JobState.COMPLETED and got['487641'].state is JobState.FAILED
    # one unknown id: rc 0 and nothing on stdout (the framework passes stdout only), or an
    # empty JSON document
    assert ex.parse_status_output(0, '') == {}
    empty = '{\n  "COMMAND":"bjobs",\n  "JOBS":0,\n  "RECORDS":[\n  ]\n}\n'
    assert ex.parse_status_output(0, empty) == {}
    assert ex.parse_status_output(0, 'JOBID|STAT|EXIT_CODE|EXIT_REASON\n') == {}
    # mixed known and unknown: rc 255, stdout and stderr together
    mixed = text.read_text() + (SAMPLES / 'bjobs_unknown_id.err').read_text()
    assert len(ex.parse_status_output(255, mixed)) == 6
    with pytest.raises(RuntimeError):
        ex.parse_status_output(255, 'Cannot connect to LSF. Please wait ...\n' * 3)
    with pytest.raises(RuntimeError):
        ex.parse_status_output(0, 'garbage\n')
    busy = 'LSF is processing your request. Please wait ...\n' + text.read_text()
    assert len(ex.parse_status_output(0, busy)) == 6


def test_falls_back_to_the_delimiter_form(tmp_path: Path) -> None:
    ex = _ex_with(tmp_path)
    assert '-json' in ex.get_status_command(['1'])
    with pytest.raises(RuntimeError):
        ex.parse_status_output(255, '-json: Illegal option.\nUsage: bjobs [-a] ...\n')
    cmd = ex.get_status_command(['1'])
    assert '-json' not in cmd and "jobid stat exit_code exit_reason delimiter='|'" in cmd
    got = ex.parse_status_output(0, (SAMPLES / 'bjobs_-o_delimiter_DONE_lsf9.out').read_text())
    assert got['261871'].state is JobState.COMPLETED
    assert '-noheader' in ex.get_list_command()


def test_final_status_of_forgotten_jobs(tmp_path: Path) -> None:
    ex = _ex_with(tmp_path, bjobs='echo "Job <943186> is not found" >&2\n')
    st = ex.get_final_status(['943186'])['943186']
    assert st.state is JobState.FAILED and 'no longer knows' in (st.message or '')
    down = _ex_with(tmp_path, bjobs='echo "Cannot connect to LSF. Please wait ..." >&2\n'
                    'exit 255\n')
    assert down.get_final_status(['943186']) == {}


def test_list(tmp_path: Path) -> None:
    ex = _ex_with(tmp_path, bjobs=_cat('bjobs_-a_-json_-o_jobid_job_name_stat_finish_time_'
                                       'EXIT_DONE.out'))
    assert ex.list()[:3] == ['487641', '487642', '488155']
    ex = _ex_with(tmp_path, bjobs=_cat('bjobs_no_unfinished_job_DOC.err', 'err', 255))
    assert ex.list() == []
    ex = _ex_with(tmp_path, bjobs='echo "Cannot connect to LSF. Please wait ..." >&2\nexit 255\n')
    with pytest.raises(SubmitException) as ei:
        ex.list()
    assert ei.value.transient


# -- the node file ---------------------------------------------------------------------------------

def _nodefile(ex: LsfJobExecutor, tmp_path: Path, env: Dict[str, str]) -> List[str]:
    script = tmp_path / 'n.sh'
    nodes = tmp_path / 'nodes'
    script.write_text('export PSIJ_NODEFILE=%s\n' % nodes
                      + '\n'.join(ex.nodefile_commands(Job())) + '\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith('LSB_')}
    subprocess.run(['bash', str(script)], env=dict(clean, **env), check=True, timeout=30)
    return nodes.read_text().splitlines()


def test_nodefile_from_hostfile_and_mcpu_hosts(ex: LsfJobExecutor, tmp_path: Path) -> None:
    hf = tmp_path / 'hostfile'
    hf.write_text('hostA\nhostA\nhostB\nhostB\n')
    assert _nodefile(ex, tmp_path, {'LSB_DJOB_HOSTFILE': str(hf)}) == \
        ['hostA', 'hostA', 'hostB', 'hostB']
    assert _nodefile(ex, tmp_path, {'LSB_MCPU_HOSTS': 'hostA 3 hostB 1'}) == \
        ['hostA', 'hostA', 'hostA', 'hostB']
    assert len(_nodefile(ex, tmp_path, {})) == 1  # outside LSF: this host


def test_nodefile_without_csm_launch_node(tmp_path: Path) -> None:
    ex = LsfJobExecutor(config=LsfExecutorConfig(work_directory=tmp_path, use_nnodes=True))
    hf = tmp_path / 'hostfile'
    hf.write_text('batch1\nn1\nn1\nn2\nn2\n')
    assert _nodefile(ex, tmp_path, {'LSB_DJOB_HOSTFILE': str(hf)}) == ['n1', 'n1', 'n2', 'n2']
    hf.write_text('n1\nn1\n')
    assert _nodefile(ex, tmp_path, {'LSB_DJOB_HOSTFILE': str(hf)}) == ['n1', 'n1']


def test_attach_refuses_what_is_no_job_id(ex: LsfJobExecutor) -> None:
    """An id that is not one of this scheduler's never reaches a command (``-uroot`` would be
    an option of the cancel command; a malformed id would break the shared status command)."""
    check_native_id_forms(ex, good=['1234', '1234[7]'],
                          bad=['abc', '1234[]', '1234[x]', '12.3'])
