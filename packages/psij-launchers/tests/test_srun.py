"""
The ``srun`` launcher on a real Slurm cluster (CI: ``ci/slurm/start-slurm.sh``, three nodes).

Each job runs the way a Slurm executor runs it: its launch wrapper inside an allocation
(``salloc``) sized from the job's resources, the wrapper calling ``srun`` with the launcher's
argv, which must spread the ranks over the nodes as asked. With the local executor (the
``local`` variants) there is no allocation: ``srun`` makes its own. Skipped, saying why, when
Slurm is absent; CI requires these tests, so there the skip is a failure to look at.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Union

import pytest
from conftest import (
    NASTY_ARGS,
    NASTY_ENV,
    Result,
    run_contract,
    run_local,
    salloc_for,
    slurm_nodes,
    unhex,
    unhex_argv,
    write_script,
)
from psij import JobSpec, Launcher, ResourceSpecV1

NODES = slurm_nodes()
pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures('clean_env'),
              pytest.mark.skipif(NODES == 0, reason='no Slurm cluster here (sinfo absent or '
                                 'failing); start one with ci/slurm/start-slurm.sh')]

RunSlurm = Callable[[JobSpec], Result]


@pytest.fixture(params=['salloc', 'local'])
def run_slurm(request: pytest.FixtureRequest, tmp_path: Path) -> RunSlurm:
    """Runs a job in a Slurm allocation (``salloc``) or through the local executor."""
    if request.param == 'local':
        return lambda spec: run_local(spec, tmp_path)

    def run(spec: JobSpec) -> Result:
        res = spec.resources
        assert isinstance(res, ResourceSpecV1)
        return run_contract(spec, tmp_path, prefix=salloc_for(res))
    return run


PRE = '''echo pre >> "$PSIJ_TEST_LOG"
PSIJ_TEST_PRE='exported by pre-launch'
export PSIJ_TEST_PRE
'''
POST = '''echo post >> "$PSIJ_TEST_LOG"
echo post-launch-ran
'''


@pytest.fixture(scope='module')
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rank program (rank from SLURM_PROCID, host from SLURMD_NODENAME)."""
    from conftest import compile_c
    d = tmp_path_factory.mktemp('srun') / 'bin dir'
    d.mkdir()
    return compile_c('cc', d / 'rank report')


def srun_spec(program: Path, d: Path, res: ResourceSpecV1, **env: str) -> JobSpec:
    write_script(d / 'pre launch.sh', PRE)
    write_script(d / 'post launch.sh', POST)
    environment: Dict[str, Union[str, int]] = {'PSIJ_TEST_ENV': NASTY_ENV,
                                               'PSIJ_TEST_LOG': str(d / 'log')}
    environment.update(env)
    return JobSpec(str(program), NASTY_ARGS, directory=d, environment=environment,
                   resources=res, launcher='srun', pre_launch=d / 'pre launch.sh',
                   post_launch=d / 'post launch.sh', stdout_path=d / 'job out',
                   stderr_path=d / 'job err')


def check(result: Result, d: Path, count: int) -> List[str]:
    """Checks ranks, size, arguments, environment, pre/post; returns each rank's host."""
    assert result.exit_code == 0, result.stderr.decode()
    ranks = sorted(result.ranks(), key=lambda r: int(r['rank']))
    assert [int(r['rank']) for r in ranks] == list(range(count))
    for r in ranks:
        assert int(r['size']) == count
        assert unhex_argv(r['argv']) == NASTY_ARGS
        assert unhex(r['env']) == NASTY_ENV
        assert unhex(r['pre']) == 'exported by pre-launch'
    assert result.lines()[-1] == 'post-launch-ran'
    assert (d / 'log').read_text() == 'pre\npost\n'
    err = [x for x in result.stderr.decode().splitlines() if x.startswith('stderr-rank=')]
    assert sorted(err) == sorted('stderr-rank=%d' % i for i in range(count))
    return [r['host'] for r in ranks]


def test_two_nodes_two_per_node(run_slurm: RunSlurm, program: Path, spaced_dir: Path) -> None:
    if NODES < 2:
        pytest.skip('needs 2 Slurm nodes, the cluster has %d' % NODES)
    hosts = check(run_slurm(srun_spec(program, spaced_dir,
                                      ResourceSpecV1(node_count=2, processes_per_node=2))),
                  spaced_dir, 4)
    assert sorted(Counter(hosts).values()) == [2, 2]


def test_one_rank_per_node(run_slurm: RunSlurm, program: Path, spaced_dir: Path) -> None:
    n = min(NODES, 3)
    hosts = check(run_slurm(srun_spec(program, spaced_dir, ResourceSpecV1(node_count=n))),
                  spaced_dir, n)
    assert len(set(hosts)) == n


def test_process_count_only(run_slurm: RunSlurm, program: Path, spaced_dir: Path) -> None:
    check(run_slurm(srun_spec(program, spaced_dir, ResourceSpecV1(process_count=2))),
          spaced_dir, 2)


def test_cpu_cores_per_process(run_slurm: RunSlurm, program: Path, spaced_dir: Path) -> None:
    # the CI nodes have 2 CPUs: two ranks of 2 cores each cannot share a node, so the hosts
    # show that --cpus-per-task reached Slurm
    if NODES < 2:
        pytest.skip('needs 2 Slurm nodes, the cluster has %d' % NODES)
    cpus = subprocess.run(['sinfo', '-h', '-o', '%c'], capture_output=True, text=True,
                          check=True).stdout.split()
    if any(int(c.rstrip('+')) != 2 for c in cpus):
        pytest.skip('needs nodes with exactly 2 CPUs (ci/slurm/start-slurm.sh), found %s' % cpus)
    res = ResourceSpecV1(process_count=2, cpu_cores_per_process=2)
    hosts = check(run_slurm(srun_spec(program, spaced_dir, res)), spaced_dir, 2)
    assert len(set(hosts)) == 2


def test_exit_code_of_the_failing_rank(run_slurm: RunSlurm, program: Path,
                                       spaced_dir: Path) -> None:
    res = ResourceSpecV1(process_count=3)
    spec = srun_spec(program, spaced_dir, res, PSIJ_TEST_FAIL_RANK='1', PSIJ_TEST_FAIL_CODE='42')
    result = run_slurm(spec)
    assert result.exit_code == 42, result.stderr.decode()
    assert len(result.ranks()) == 3
    # a rank failing is the job's failure, not the launcher's
    assert not Launcher.get_instance('srun').is_launcher_failure(result.stderr.decode())
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'
