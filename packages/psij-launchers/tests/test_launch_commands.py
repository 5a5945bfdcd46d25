"""
The argv of every launcher: each resource becomes that tool's flag, and nothing is added that
the job did not ask for. (Real ranks are run by the other test modules.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional

import psij_launchers
import pytest
from conftest import NASTY_ARGS, write_script
from psij import InvalidJobException, Job, JobSpec, Launcher, ResourceSpecV1
from psij_launchers._base import rank_command

CMD = ['/x/my prog', 'a b', '$Y']

pytestmark = pytest.mark.usefixtures('clean_env')


def argv(name: str, res: Optional[ResourceSpecV1] = None, exe: str = CMD[0],
         args: Optional[List[str]] = None) -> List[str]:
    spec = JobSpec(exe, CMD[1:] if args is None else args, resources=res)
    return Launcher.get_instance(name).get_launch_command(Job(spec))


R = ResourceSpecV1
ALL = R(node_count=2, processes_per_node=3, cpu_cores_per_process=4, gpu_cores_per_process=1)

# (launcher, resources, the flags expected between the tool's name and the command)
DIRECT = [
    ('srun', None, ['--ntasks=1']),
    ('srun', R(process_count=4), ['--ntasks=4']),
    ('srun', R(node_count=2), ['--ntasks=2', '--nodes=2', '--ntasks-per-node=1']),
    ('srun', R(process_count=6, processes_per_node=3),
     ['--ntasks=6', '--nodes=2', '--ntasks-per-node=3']),
    ('srun', R(process_count=2, cpu_cores_per_process=3), ['--ntasks=2', '--cpus-per-task=3']),
    ('srun', R(gpu_cores_per_process=0), ['--ntasks=1']),
    ('srun', ALL, ['--ntasks=6', '--nodes=2', '--ntasks-per-node=3', '--cpus-per-task=4',
                   '--gpus-per-task=1']),
    ('jsrun', None, ['-n', '1', '-a', '1']),
    ('jsrun', R(process_count=4), ['-n', '4', '-a', '1']),
    ('jsrun', R(node_count=2), ['-n', '2', '-a', '1', '-r', '1']),
    ('jsrun', ALL, ['-n', '6', '-a', '1', '-r', '3', '-c', '4', '-g', '1']),
    ('jsrun', R(gpu_cores_per_process=2), ['-n', '1', '-a', '1', '-g', '2']),
    ('aprun', None, ['-n', '1']),
    ('aprun', R(process_count=5), ['-n', '5']),
    ('aprun', R(node_count=3, processes_per_node=2), ['-n', '6', '-N', '2']),
    ('aprun', ALL, ['-n', '6', '-N', '3', '-d', '4']),
    ('aprun', R(cpu_cores_per_process=8), ['-n', '1', '-d', '8']),
    ('ibrun', None, []),
    ('ibrun', R(cpu_cores_per_process=2, gpu_cores_per_process=1), []),
    ('ibrun', R(process_count=4), ['-n', '4', '-o', '0']),
    ('ibrun', ALL, ['-n', '6', '-o', '0']),
]


@pytest.mark.parametrize('name,res,flags', DIRECT)
def test_direct_launchers(name: str, res: Optional[ResourceSpecV1], flags: List[str]) -> None:
    got = argv(name, res)
    assert got[0] == name
    # srun alone ends its options with '--' (see test_dash_executable_kept_after_double_dash)
    tail = ['--'] if name == 'srun' else []
    assert got == [name] + flags + tail + rank_command(CMD)


@pytest.mark.parametrize('name', ['srun', 'jsrun', 'aprun', 'ibrun', 'multiple', 'mpirun'])
def test_arguments_are_passed_untouched(name: str) -> None:
    got = argv(name, args=NASTY_ARGS)
    expected = [CMD[0]] + NASTY_ARGS
    if name != 'multiple':  # each word behind an 'x' the rank drops (see rank_command)
        expected = ['x' + w for w in expected]
    assert got[-len(NASTY_ARGS) - 1:] == expected


@pytest.mark.parametrize('name', ['srun', 'jsrun', 'aprun', 'ibrun', 'mpirun'])
def test_launcher_never_sees_a_users_colon_and_the_rank_gets_every_word(name: str) -> None:
    # a lone ':' makes srun (even after '--'), Open MPI, MPICH and aprun start a second
    # program with the words after it
    words = [':', 'exit', '3', '-n', '2', '--host', 'x', ''] + NASTY_ARGS
    got = argv(name, exe='/bin/sh',
               args=['-c', 'for a do printf "%s\\0" "$a"; done', 'psij'] + words)
    assert ':' not in got and '-n' not in got[got.index('psij-rank'):]
    rank = got[got.index('psij-rank') - 3:]
    out = subprocess.run(rank, capture_output=True, check=True).stdout
    assert out.split(b'\0')[:-1] == [w.encode() for w in words]


@pytest.mark.parametrize('name', ['jsrun', 'aprun', 'ibrun', 'mpirun'])
def test_dash_executable_refused_where_it_would_be_an_option(name: str) -> None:
    with pytest.raises(InvalidJobException, match='starts with'):
        argv(name, exe='-oops')


@pytest.mark.parametrize('name', ['srun', 'multiple'])
def test_dash_executable_kept_after_double_dash(name: str) -> None:
    expected = ['-odd'] + CMD[1:]
    if name == 'srun':
        expected = ['x' + w for w in expected]
    assert argv(name, exe='-odd')[-3:] == expected


@pytest.mark.parametrize('res,expected', [(None, '1'), (R(process_count=7), '7'),
                                          (R(node_count=2, processes_per_node=2), '4')])
def test_multiple_passes_only_the_count(res: Optional[ResourceSpecV1], expected: str) -> None:
    got = argv('multiple', res)
    assert got[:2] == ['/bin/sh', '-c']
    assert got[3:] == ['psij-multiple', expected] + CMD


# -- mpirun: the flags are chosen at run time, so run mpirun.sh against fake mpiruns -------------

FAKE_MPIRUN = '''#!/bin/sh
# a fake mpirun: prints a flavour's version text, or records its argv (one per line)
if [ "$1" = --version ]; then printf '%s\\n' "$FAKE_VERSION"; exit 0; fi
for a in "$@"; do printf '%s\\n' "$a"; done > "$FAKE_RECORD"
'''
OMPI = 'mpirun (Open MPI) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/'
HYDRA = 'HYDRA build details:\n    Version:                                 4.0.2'


def run_mpirun_sh(tmp_path: Path, version: str, res: Optional[ResourceSpecV1],
                  nodefile: Optional[str]) -> subprocess.CompletedProcess[str]:
    write_script(tmp_path / 'mpirun', FAKE_MPIRUN)
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']),
               FAKE_VERSION=version, FAKE_RECORD=str(tmp_path / 'argv'))
    env.pop('PSIJ_NODEFILE', None)
    if nodefile is not None:
        env['PSIJ_NODEFILE'] = nodefile
    return subprocess.run(argv('mpirun', res), env=env, capture_output=True, text=True,
                          check=False)


MPIRUN = [
    (OMPI, None, None, ['-n', '1']),
    (OMPI, R(process_count=4), '/n f', ['--hostfile', '/n f', '--map-by', 'slot', '-n', '4']),
    (OMPI, R(node_count=2, processes_per_node=2), None, ['--map-by', 'ppr:2:node', '-n', '4']),
    (OMPI, R(process_count=2, cpu_cores_per_process=2), None,
     ['--map-by', 'slot:PE=2', '-n', '2']),
    # an exact host file: by slot, whatever the processes per node (vnodes of one host)
    (OMPI, ALL, 'nf', ['--hostfile', 'nf', '--map-by', 'slot:PE=4', '-n', '6']),
    (OMPI, R(node_count=2, processes_per_node=2), 'nf',
     ['--hostfile', 'nf', '--map-by', 'slot', '-n', '4']),
    (OMPI, R(gpu_cores_per_process=1), None, ['-n', '1']),
    (HYDRA, None, None, ['-n', '1']),
    (HYDRA, R(process_count=4), '/n f', ['-f', '/n f', '-n', '4']),
    (HYDRA, R(node_count=2), None, ['-ppn', '1', '-n', '2']),
    (HYDRA, ALL, 'nf', ['-f', 'nf', '-bind-to', 'core:4', '-ppn', '3', '-n', '6']),
    ('Some Other MPI 1.0', R(process_count=3), 'nf', ['-n', '3']),
]


@pytest.mark.parametrize('version,res,nodefile,flags', MPIRUN)
def test_mpirun_flags_per_flavour(tmp_path: Path, version: str, res: Optional[ResourceSpecV1],
                                  nodefile: Optional[str], flags: List[str]) -> None:
    proc = run_mpirun_sh(tmp_path, version, res, nodefile)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'argv').read_text().split('\n')[:-1] == flags + rank_command(CMD)


@pytest.mark.parametrize('version,flags', [
    (OMPI, ['-n', '2', '--allow-run-as-root', '--mca', 'btl', 'self,vader']),
    (HYDRA, ['-n', '2', '--allow-run-as-root', '--mca', 'btl', 'self,vader'])])
def test_mpirun_site_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str,
                             flags: List[str]) -> None:
    # read where the job is submitted, split like a shell, passed after the launcher's flags
    monkeypatch.setenv('PSIJ_MPIRUN_OPTIONS', "--allow-run-as-root --mca btl 'self,vader'")
    proc = run_mpirun_sh(tmp_path, version, R(process_count=2), None)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'argv').read_text().split('\n')[:-1] == flags + rank_command(CMD)


def test_mpirun_unknown_flavour_refuses_placement(tmp_path: Path) -> None:
    proc = run_mpirun_sh(tmp_path, 'Some Other MPI 1.0', R(node_count=2), None)
    assert proc.returncode == 127
    assert not (tmp_path / 'argv').exists()
    launcher = Launcher.get_instance('mpirun')
    assert launcher.is_launcher_failure(proc.stderr)
    assert 'unknown MPI flavour' in launcher.get_launcher_failure_message(proc.stderr)


def test_mpirun_missing(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run(argv('mpirun'), env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 127
    assert Launcher.get_instance('mpirun').is_launcher_failure(proc.stderr)


def test_failure_detection() -> None:
    srun = Launcher.get_instance('srun')
    out = 'hello from the job\nsrun: error: Unable to create step for job 12: no nodes\n'
    assert srun.is_launcher_failure(out)
    assert srun.get_launcher_failure_message(out) == \
        'srun: error: Unable to create step for job 12: no nodes'
    assert not srun.is_launcher_failure('hello from the job\nerror in my own code\n')
    # a rank's failure, as srun reports it, is the job's failure
    assert not srun.is_launcher_failure('srun: error: n2: task 1: Exited with exit code 3\n'
                                        'srun: error: n1: tasks 0,2-3: Killed\n')
    assert Launcher.get_instance('multiple').is_launcher_failure(
        'PSIJ_LAUNCHER_FAILURE: multiple: invalid process count')


@pytest.mark.parametrize('name', ['multiple.sh', 'mpirun.sh'])
def test_scripts_pass_shellcheck(name: str) -> None:
    shellcheck = shutil.which('shellcheck')
    if shellcheck is None:
        pytest.skip('shellcheck is not installed')
    path = Path(psij_launchers.__file__).parent / 'scripts' / name
    subprocess.run([shellcheck, '-s', 'sh', str(path)], check=True)
