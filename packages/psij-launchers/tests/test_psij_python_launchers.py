"""
A launcher written for psij-python runs unchanged: a subclass of ``MultipleLauncher`` built as
psij-python's own test plugin builds one (``super().__init__(script_path, config)``, its own
bash script sourcing ``launcher_lib.sh``, ``_files_to_deploy`` adding a file, and
``get_additional_args`` extending the process count psij-python's base gives).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import pytest
from conftest import RunJob, write_script
from psij import Descriptor, Job, JobExecutorConfig, JobSpec, Launcher, ResourceSpecV1
from psij.launchers import MultipleLauncher, ScriptBasedLauncher

pytestmark = pytest.mark.usefixtures('clean_env')

SCRIPTS = Path(os.environ.get('PSIJ_TEST_PP_SCRIPTS', '/nonexistent'))

# psij-python's calling convention: seven arguments the library takes, then the process
# count, node count and processes per node (get_additional_args), then the command
LAUNCHER_SH = r'''#!/bin/bash
source "$(dirname "$0")/launcher_lib.sh"

pre_launch
log "arguments: $*"
count=$1 nodes=$2 ppn=$3
shift 3
starter="$(dirname "$0")/rank-starter.sh"
pids=()
for ((node = 0; node < nodes; node++)); do
    for ((p = 0; p < ppn; p++)); do
        PSIJ_TEST_RANK=$((node * ppn + p)) "$starter" "$@" \
            1>>"$_PSI_J_STDOUT" 2>>"$_PSI_J_STDERR" <"$_PSI_J_STDIN" &
        pids+=($!)
    done
done
failed=0
for pid in "${pids[@]}"; do
    set +e
    wait "$pid"
    ec=$?
    set -e
    if [ "$ec" != 0 ] && [ "$failed" = 0 ]; then
        failed=$ec
    fi
done
log "count $count done"
post_launch
exit "$failed"
'''

STARTER_SH = '#!/bin/sh\nexport PSIJ_TEST_RANK\nexec "$@"\n'


class PsijPythonStyleLauncher(MultipleLauncher):
    """Written as psij-python's test plugin writes its launcher."""

    def __init__(self, config: Optional[JobExecutorConfig] = None):
        super().__init__(SCRIPTS / 'launcher.sh', config)

    def _files_to_deploy(self) -> List[Path]:
        files = super()._files_to_deploy()
        files.append(SCRIPTS / 'rank-starter.sh')
        return files

    def get_additional_args(self, job: Job) -> List[str]:
        args = super().get_additional_args(job)
        process_count = int(args[0])
        assert job.spec is not None and isinstance(job.spec.resources, ResourceSpecV1)
        nodes = job.spec.resources.computed_node_count
        return args + [str(nodes), str(process_count // nodes)]


class PsijPythonStyleScriptLauncher(ScriptBasedLauncher):
    """A psij-python ScriptBasedLauncher subclass: the script with one leading argument."""

    def __init__(self, config: Optional[JobExecutorConfig] = None):
        super().__init__(SCRIPTS / 'launcher.sh', config)

    def _files_to_deploy(self) -> List[Path]:
        return super()._files_to_deploy() + [SCRIPTS / 'rank-starter.sh']

    def get_additional_args(self, job: Job) -> List[str]:
        return ['2', '1', '2']


@pytest.fixture(scope='module')
def launchers(tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp('psij-python launcher')
    write_script(d / 'launcher.sh', LAUNCHER_SH)
    write_script(d / 'rank-starter.sh', STARTER_SH)
    global SCRIPTS
    SCRIPTS = d
    for name, cls in (('psij-test-pp-multiple', 'PsijPythonStyleLauncher'),
                      ('psij-test-pp-script', 'PsijPythonStyleScriptLauncher')):
        try:
            Launcher.register_launcher(Descriptor(name=name, version='0.0.1',
                                                  cls='test_psij_python_launchers.' + cls))
        except ValueError:
            pass  # registered by an earlier run in this process


def spec(d: Path, launcher: str, count: int, code: str = '0') -> JobSpec:
    write_script(d / 'pre.sh', 'echo pre >> "$PSIJ_TEST_LOG"\nexport FROM_PRE="p  q"\n')
    write_script(d / 'post.sh', 'echo post >> "$PSIJ_TEST_LOG"\n')
    return JobSpec('/bin/sh', ['-c', 'printf "%s|%s|%s\\n" "$PSIJ_TEST_RANK" "$FROM_PRE" "$1"; '
                               'exit $((PSIJ_TEST_RANK == 1 ? ' + code + ' : 0))', 'sh',
                               "two  words $HOME 'q'"],
                   directory=d, environment={'PSIJ_TEST_LOG': str(d / 'log')},
                   resources=ResourceSpecV1(process_count=count), launcher=launcher,
                   pre_launch=d / 'pre.sh', post_launch=d / 'post.sh',
                   stdout_path=d / 'out.txt', stderr_path=d / 'err.txt')


@pytest.mark.parametrize('launcher, count', [('psij-test-pp-multiple', 3),
                                             ('psij-test-pp-script', 2)])
def test_psij_python_launcher_runs_every_rank(launchers: None, run_job: RunJob,
                                              spaced_dir: Path, launcher: str,
                                              count: int) -> None:
    result = run_job(spec(spaced_dir, launcher, count))
    assert result.exit_code == 0, result.stderr
    assert sorted(result.lines()) == ["%d|p  q|two  words $HOME 'q'" % i for i in range(count)]
    # the pre- and post-launch scripts ran once each (the executor's, not the library's)
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'


def test_psij_python_launcher_exit_code(launchers: None, run_job: RunJob,
                                        spaced_dir: Path) -> None:
    result = run_job(spec(spaced_dir, 'psij-test-pp-multiple', 2, code='7'))
    assert result.exit_code == 7


def test_files_deployed_side_by_side_and_logged(launchers: None, tmp_path: Path) -> None:
    log = tmp_path / 'launcher.log'
    config = JobExecutorConfig(launcher_log_file=log, work_directory=tmp_path / 'work')
    launcher = PsijPythonStyleLauncher(config)
    job = Job(JobSpec('/bin/true', resources=ResourceSpecV1(process_count=4, node_count=2)))
    argv = launcher.get_launch_command(job)
    deployed = Path(argv[1])
    assert argv[0] == '/bin/bash' and deployed.name == 'launcher.sh'
    assert argv[2:] == [job.id, str(log), '', '', '/dev/stdin', '/dev/stdout', '/dev/stderr',
                        '4', '2', '2', '/bin/true']
    assert sorted(p.name for p in deployed.parent.iterdir()) == [
        'launcher.sh', 'launcher_lib.sh', 'rank-starter.sh']
    assert deployed.parent.parent == tmp_path / 'work' / 'launchers'
    assert deployed.parent.stat().st_mode & 0o077 == 0  # private to the user
    # the same files deploy to the same place, from another instance too
    assert PsijPythonStyleLauncher(config).get_launch_command(job)[1] == str(deployed)
    # the library's log function writes the launcher log
    import subprocess
    p = subprocess.run(argv[:2] + [job.id, str(log), '', '', '/dev/null', '/dev/null',
                                   '/dev/null', '1', '1', '1', '/bin/true'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    text = log.read_text()
    assert '%s Launcher: %s' % (job.id, deployed) in text and 'count 1 done' in text


def test_multiple_launcher_keeps_its_own_signature() -> None:
    config = JobExecutorConfig()
    own = MultipleLauncher(config)
    assert own.config is config
    argv = own.get_launch_command(Job(JobSpec('/bin/true',
                                              resources=ResourceSpecV1(process_count=2))))
    assert argv[:2] == ['/bin/sh', '-c'] and argv[-1] == '/bin/true'
