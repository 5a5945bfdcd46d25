"""
``jsrun``, ``aprun`` and ``ibrun`` cannot run here: they are replaced by `fake_launcher.py`,
which records the argv and environment it gets, parses them by the real tool's documented
meaning and runs the ranks locally. The tests check the exact flags, and that arguments,
environment, pre/post-launch and exit codes survive the trip as with a real launcher.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import pytest
from conftest import NASTY_ARGS, NASTY_ENV, RunJob, unhex, unhex_argv, write_script
from psij import JobSpec, ResourceSpecV1
from psij_launchers._base import rank_command

HERE = Path(__file__).parent
R = ResourceSpecV1


@pytest.fixture
def fakes(tmp_path: Path, python: str, monkeypatch: pytest.MonkeyPatch,
          clean_env: None) -> Iterator[Path]:
    """Puts fake jsrun/aprun/ibrun first on PATH; returns the file they record to."""
    d = tmp_path / 'fake bin'
    d.mkdir()
    code = (HERE / 'fake_launcher.py').read_text()
    for tool in ('jsrun', 'aprun', 'ibrun'):
        write_script(d / tool, '#!%s\n%s' % (python, code))
    record = tmp_path / 'launcher record.json'
    monkeypatch.setenv('PATH', '%s:%s' % (d, os.environ['PATH']))
    monkeypatch.setenv('FAKE_LAUNCHER_RECORD', str(record))
    monkeypatch.delenv('SLURM_NTASKS', raising=False)
    yield record


PRE = '''echo pre >> "$PSIJ_TEST_LOG"
PSIJ_TEST_PRE='pre launch  $value'
export PSIJ_TEST_PRE
'''
POST = '''echo post >> "$PSIJ_TEST_LOG"
echo post-launch-ran
'''


def fake_spec(tool: str, program: Path, d: Path, res: Optional[ResourceSpecV1],
              **env: str) -> JobSpec:
    write_script(d / 'pre launch.sh', PRE)
    write_script(d / 'post launch.sh', POST)
    environment: Dict[str, Union[str, int]] = {'PSIJ_TEST_ENV': NASTY_ENV,
                                               'PSIJ_TEST_LOG': str(d / 'log')}
    environment.update(env)
    return JobSpec(str(program), NASTY_ARGS, directory=d, environment=environment,
                   resources=res, launcher=tool, pre_launch=d / 'pre launch.sh',
                   post_launch=d / 'post launch.sh', stdout_path=d / 'job out',
                   stderr_path=d / 'job err')


# (tool, resources, expected flags, expected ranks); the flags and why:
#   jsrun: one resource set per rank (-n P -a 1), its cores (-c) and GPUs (-g), sets per
#          node (-r) only when the job shaped its nodes;
#   aprun: width -n, PEs per node -N only when asked, depth -d = cores per rank;
#   ibrun: nothing when the job gave no count (the allocation decides), else -n P -o 0.
CASES: List[Any] = [
    ('jsrun', None, ['-n', '1', '-a', '1'], 1),
    ('jsrun', R(process_count=3), ['-n', '3', '-a', '1'], 3),
    ('jsrun', R(node_count=2, processes_per_node=3, cpu_cores_per_process=2,
                gpu_cores_per_process=1),
     ['-n', '6', '-a', '1', '-r', '3', '-c', '2', '-g', '1'], 6),
    ('aprun', None, ['-n', '1'], 1),
    ('aprun', R(process_count=3), ['-n', '3'], 3),
    ('aprun', R(node_count=3, processes_per_node=2, cpu_cores_per_process=3),
     ['-n', '6', '-N', '2', '-d', '3'], 6),
    ('ibrun', R(process_count=3), ['-n', '3', '-o', '0'], 3),
    ('ibrun', R(node_count=2, processes_per_node=2), ['-n', '4', '-o', '0'], 4),
]


@pytest.mark.parametrize('tool,res,flags,count', CASES)
def test_flags_ranks_args_env(run_job: RunJob, fakes: Path, rank_report: Path,
                              spaced_dir: Path, tool: str, res: Optional[ResourceSpecV1],
                              flags: List[str], count: int) -> None:
    result = run_job(fake_spec(tool, rank_report, spaced_dir, res))
    assert result.exit_code == 0, result.stderr.decode()
    record: Dict[str, Any] = json.loads(fakes.read_text())
    # the command behind the rank shell that drops each word's 'x' (see rank_command)
    assert record['argv'] == flags + rank_command([str(rank_report)] + NASTY_ARGS)
    # what pre-launch exported reached the launcher itself, and through it every rank
    assert record['env']['PSIJ_TEST_PRE'] == 'pre launch  $value'
    assert record['env']['PSIJ_TEST_ENV'] == NASTY_ENV
    ranks = result.ranks()
    assert sorted(int(r['rank']) for r in ranks) == list(range(count))
    for r in ranks:
        assert unhex_argv(r['argv']) == NASTY_ARGS
        assert unhex(r['env']) == NASTY_ENV
        assert unhex(r['pre']) == 'pre launch  $value'
    assert result.lines()[-1] == 'post-launch-ran'
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'


def test_ibrun_without_counts_uses_the_allocation(run_job: RunJob, fakes: Path,
                                                  rank_report: Path, spaced_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SLURM_NTASKS', '3')  # as inside a 3-task Slurm allocation
    result = run_job(fake_spec('ibrun', rank_report, spaced_dir, None))
    assert result.exit_code == 0, result.stderr.decode()
    assert json.loads(fakes.read_text())['argv'] == rank_command([str(rank_report)] +
                                                                 NASTY_ARGS)
    assert sorted(int(r['rank']) for r in result.ranks()) == [0, 1, 2]


@pytest.mark.parametrize('tool', ['jsrun', 'aprun', 'ibrun'])
def test_exit_code_of_the_failing_rank(run_job: RunJob, fakes: Path, rank_report: Path,
                                       spaced_dir: Path, tool: str) -> None:
    spec = fake_spec(tool, rank_report, spaced_dir, R(process_count=3),
                     PSIJ_TEST_FAIL_RANK='2', PSIJ_TEST_FAIL_CODE='42')
    result = run_job(spec)
    assert result.exit_code == 42
    assert len(result.ranks()) == 3
    assert (spaced_dir / 'log').read_text() == 'pre\npost\n'
