"""
The ``mpirun`` launcher with real MPI: Open MPI and MPICH (Debian's ``mpirun.openmpi`` and
``mpirun.mpich``, installed side by side), each put first on ``PATH`` as ``mpirun`` the way a
module system would, running a C program that asks MPI for its rank and size.

Open MPI refuses to run as root unless told; like CI would, the test tells it through Open
MPI's own environment variables, never through the launcher. Oversubscription is not enabled:
with more ranks than cores the job must still run because the executor's ``PSIJ_NODEFILE``
gives exactly one slot per rank.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Union

import pytest
from conftest import (
    NASTY_ARGS,
    NASTY_ENV,
    RunJob,
    compile_c,
    run_contract,
    salloc_for,
    slurm_nodes,
    unhex,
    unhex_argv,
    write_script,
)
from psij import JobSpec, Launcher, ResourceSpecV1

pytestmark = [pytest.mark.mpi, pytest.mark.usefixtures('clean_env')]


@dataclass
class Mpi:
    """One MPI flavour, ready to use."""

    flavour: str
    bin_dir: Path
    program: Path


FLAVOURS = {'openmpi': ('mpirun.openmpi', 'mpicc.openmpi'),
            'mpich': ('mpirun.mpich', 'mpicc.mpich')}


@pytest.fixture(scope='module', params=sorted(FLAVOURS))
def mpi_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Mpi:
    """The rank program compiled with one flavour's mpicc, and a PATH dir with its mpirun."""
    flavour = request.param
    mpirun, mpicc = FLAVOURS[flavour]
    real = shutil.which(mpirun)
    if real is None:
        pytest.skip('%s is not installed (apt-get install -y openmpi-bin libopenmpi-dev '
                    'mpich libmpich-dev)' % mpirun)
    d = tmp_path_factory.mktemp(flavour) / 'mpi bin'
    d.mkdir()
    # a script, not a symlink: Hydra finds its helpers next to the path it was started as
    write_script(d / 'mpirun', '#!/bin/sh\nexec %s "$@"\n' % real)
    return Mpi(flavour, d, compile_c(mpicc, d / 'rank report', '-DWITH_MPI'))


@pytest.fixture
def mpi(mpi_build: Mpi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mpi]:
    """`mpi_build` first on PATH, with the environment a CI job would give it."""
    monkeypatch.setenv('PATH', '%s:%s' % (mpi_build.bin_dir, os.environ['PATH']))
    monkeypatch.delenv('OMPI_MCA_rmaps_base_oversubscribe', raising=False)
    if os.geteuid() == 0:
        monkeypatch.setenv('OMPI_ALLOW_RUN_AS_ROOT', '1')
        monkeypatch.setenv('OMPI_ALLOW_RUN_AS_ROOT_CONFIRM', '1')
    yield mpi_build


PRE = '''echo pre >> "$PSIJ_TEST_LOG"
PSIJ_TEST_PRE="pre's value"
export PSIJ_TEST_PRE
'''
POST = '''echo post >> "$PSIJ_TEST_LOG"
echo post-launch-ran
'''


def mpi_spec(mpi: Mpi, d: Path, res: ResourceSpecV1, **env: str) -> JobSpec:
    write_script(d / 'pre launch.sh', PRE)
    write_script(d / 'post launch.sh', POST)
    environment: Dict[str, Union[str, int]] = {'PSIJ_TEST_ENV': NASTY_ENV,
                                               'PSIJ_TEST_LOG': str(d / 'log')}
    environment.update(env)
    return JobSpec(str(mpi.program), NASTY_ARGS, directory=d, environment=environment,
                   resources=res, launcher='mpirun', pre_launch=d / 'pre launch.sh',
                   post_launch=d / 'post launch.sh', stdout_path=d / 'job out',
                   stderr_path=d / 'job err')


@pytest.mark.parametrize('res', [ResourceSpecV1(), ResourceSpecV1(process_count=3),
                                 ResourceSpecV1(process_count=5),
                                 ResourceSpecV1(node_count=1, processes_per_node=4),
                                 ResourceSpecV1(process_count=2, cpu_cores_per_process=1)],
                         ids=['default', 'p3', 'p5-more-than-cores', 'n1-ppn4', 'p2-c1'])
def test_ranks_size_args_env(run_job: RunJob, mpi: Mpi, spaced_dir: Path,
                             res: ResourceSpecV1) -> None:
    count = res.computed_process_count
    result = run_job(mpi_spec(mpi, spaced_dir, res))
    assert result.exit_code == 0, result.stderr.decode()
    ranks = result.ranks()
    assert sorted(int(r['rank']) for r in ranks) == list(range(count))
    for r in ranks:
        assert int(r['size']) == count  # MPI_Comm_size
        assert unhex_argv(r['argv']) == NASTY_ARGS
        assert unhex(r['env']) == NASTY_ENV
        assert unhex(r['pre']) == "pre's value"
    assert result.lines()[-1] == 'post-launch-ran'
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'
    err = result.stderr.decode().splitlines()
    assert sorted(line for line in err if line.startswith('stderr-rank=')) == \
        sorted('stderr-rank=%d' % i for i in range(count))


def test_exit_code_of_the_failing_rank(run_job: RunJob, mpi: Mpi, spaced_dir: Path) -> None:
    spec = mpi_spec(mpi, spaced_dir, ResourceSpecV1(process_count=3),
                    PSIJ_TEST_FAIL_RANK='1', PSIJ_TEST_FAIL_CODE='42')
    result = run_job(spec)
    assert result.exit_code == 42, result.stderr.decode()
    # a rank failing is the job's failure, not the launcher's
    assert not Launcher.get_instance('mpirun').is_launcher_failure(result.stderr.decode())
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'


def test_mpi_flavour_is_the_one_on_path(run_job: RunJob, mpi: Mpi, tmp_path: Path) -> None:
    # the launcher must have asked the mpirun on PATH, not a fixed one: each flavour's ranks
    # see their own launcher's rank variable
    var = 'OMPI_COMM_WORLD_RANK' if mpi.flavour == 'openmpi' else 'PMI_RANK'
    spec = JobSpec('/bin/sh', ['-c', 'echo "r=${%s:-none}"' % var], launcher='mpirun',
                   resources=ResourceSpecV1(process_count=2), directory=tmp_path)
    result = run_job(spec)
    assert result.exit_code == 0, result.stderr.decode()
    assert sorted(result.lines()) == ['r=0', 'r=1']


def test_inherit_environment_false(run_job: RunJob, mpi: Mpi, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # mpirun itself must still work (no PATH, no OMPI_* variables), and the ranks must not see
    # the submitter's variables. As root, Open MPI then needs the site option, since
    # OMPI_ALLOW_RUN_AS_ROOT does not reach it.
    if mpi.flavour == 'openmpi' and os.geteuid() == 0:
        monkeypatch.setenv('PSIJ_MPIRUN_OPTIONS', '--allow-run-as-root')
    monkeypatch.setenv('PSIJ_TEST_SUBMITTER_ONLY', 'must not be seen')
    spec = JobSpec(str(mpi.program), ['x'], inherit_environment=False,
                   environment={'PSIJ_TEST_ENV': 'only this',
                                'PATH': '%s:/usr/bin:/bin' % mpi.bin_dir},
                   launcher='mpirun', resources=ResourceSpecV1(process_count=2),
                   directory=tmp_path)
    spec.executable = '/usr/bin/env'
    spec.arguments = []
    result = run_job(spec)
    assert result.exit_code == 0, result.stderr.decode()
    assert 'PSIJ_TEST_SUBMITTER_ONLY=' not in result.stdout.decode()
    assert result.stdout.decode().count('PSIJ_TEST_ENV=only this\n') == 2


# As the Slurm executor does inside the job: one PSIJ_NODEFILE line per task slot of the
# allocation (here PPN per node), then the launch wrapper.
_SLURM_NODEFILE = '''scontrol show hostnames "$SLURM_JOB_NODELIST" | while read -r h; do
    i=0; while [ "$i" -lt "$1" ]; do echo "$h"; i=$((i + 1)); done
done > "$PSIJ_NODEFILE"
shift
exec "$@"
'''


@pytest.mark.slurm
def test_across_slurm_nodes(mpi: Mpi, spaced_dir: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    # mpirun inside a two-node allocation, the way a Slurm job with launcher='mpirun' runs:
    # both flavours start their daemons through Slurm and the ranks land 2 + 2 on the nodes
    if slurm_nodes() < 2:
        pytest.skip('needs a Slurm cluster with 2 nodes (ci/slurm/start-slurm.sh)')
    # the CI's emulated nodes share one host and one /dev/shm, where Open MPI's shared-memory
    # segments of two "nodes" would collide: use TCP between ranks
    monkeypatch.setenv('OMPI_MCA_btl', 'self,tcp')
    res = ResourceSpecV1(node_count=2, processes_per_node=2)
    prefix = salloc_for(res) + ['/bin/sh', '-c', _SLURM_NODEFILE, 'psij-nodefile', '2']
    result = run_contract(mpi_spec(mpi, spaced_dir, res), tmp_path, prefix=prefix)
    assert result.exit_code == 0, result.stderr.decode()
    ranks = result.ranks()
    assert sorted(int(r['rank']) for r in ranks) == [0, 1, 2, 3]
    assert {int(r['size']) for r in ranks} == {4}
    assert sorted(Counter(r['host'] for r in ranks).values()) == [2, 2]
    for r in ranks:
        assert unhex_argv(r['argv']) == NASTY_ARGS
        assert unhex(r['pre']) == "pre's value"
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'
