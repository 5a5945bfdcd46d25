"""The ``multiple`` launcher, running real copies of a real program."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Union

import pytest
from conftest import NASTY_ARGS, NASTY_ENV, RunJob, unhex, unhex_argv, write_script
from psij import InvalidJobException, JobSpec, Launcher, ResourceSpecV1

pytestmark = pytest.mark.usefixtures('clean_env')

PRE = '''# sourced once by the launch wrapper: counts itself, exports a variable for every rank
echo pre >> "$PSIJ_TEST_LOG"
PSIJ_TEST_PRE='from pre  launch $HOME'
export PSIJ_TEST_PRE
'''
POST = '''# sourced once after all ranks end
echo post >> "$PSIJ_TEST_LOG"
echo post-launch-ran
'''


def spec_for(rank_report: Path, d: Path, count: int, **env: str) -> JobSpec:
    write_script(d / 'pre launch.sh', PRE)
    write_script(d / 'post launch.sh', POST)
    environment: Dict[str, Union[str, int]] = {'PSIJ_TEST_ENV': NASTY_ENV,
                                   'PSIJ_TEST_LOG': str(d / 'wrapper log')}
    environment.update(env)
    return JobSpec(str(rank_report), NASTY_ARGS, directory=d, environment=environment,
                   resources=ResourceSpecV1(process_count=count), launcher='multiple',
                   pre_launch=d / 'pre launch.sh', post_launch=d / 'post launch.sh',
                   stdout_path=d / 'job out.txt', stderr_path=d / 'job err.txt')


def check_ranks(ranks: List[Dict[str, str]], count: int) -> None:
    assert sorted(int(r['rank']) for r in ranks) == list(range(count))
    for r in ranks:
        assert int(r['size']) == count
        assert unhex_argv(r['argv']) == NASTY_ARGS
        assert unhex(r['env']) == NASTY_ENV
        assert unhex(r['pre']) == 'from pre  launch $HOME'


@pytest.mark.parametrize('count', [1, 4, 9])
def test_ranks_args_env_pre_post(run_job: RunJob, rank_report: Path, spaced_dir: Path,
                                 count: int) -> None:
    result = run_job(spec_for(rank_report, spaced_dir, count))
    assert result.exit_code == 0, result.stderr
    check_ranks(result.ranks(), count)
    # post-launch ran once, after every rank had written its line
    assert result.lines()[-1] == 'post-launch-ran'
    assert result.lines().count('post-launch-ran') == 1
    assert (spaced_dir / 'wrapper log').read_text() == 'pre\npost\n'
    stderr = sorted(result.stderr.decode().splitlines())
    assert stderr == sorted('stderr-rank=%d' % i for i in range(count))


def test_exit_code_of_the_failing_rank(run_job: RunJob, rank_report: Path,
                                       spaced_dir: Path) -> None:
    spec = spec_for(rank_report, spaced_dir, 4, PSIJ_TEST_FAIL_RANK='2', PSIJ_TEST_FAIL_CODE='42')
    result = run_job(spec)
    assert result.exit_code == 42
    # the other ranks ran to their end and post-launch still ran
    assert len(result.ranks()) == 4
    # a rank failing is the job's failure, not the launcher's
    assert not Launcher.get_instance('multiple').is_launcher_failure(result.stderr.decode())
    assert (spaced_dir / 'wrapper log').read_text() == 'pre\npost\n'


def test_exit_code_is_the_first_to_end_not_the_lowest_rank(run_job: RunJob,
                                                            tmp_path: Path) -> None:
    # rank 1 fails with 5 at once; rank 0 waits until the subshell that reported rank 1's end
    # (rank 1's parent) is gone, then fails with 7: the job must end with 5. No sleeps decide
    # the order, only process ends.
    prog = write_script(tmp_path / 'ordered fail', '''#!/bin/sh
if [ "$PSIJ_RANK" = 1 ]; then echo $PPID > "$1.tmp"; mv "$1.tmp" "$1"; exit 5; fi
while [ ! -f "$1" ]; do sleep 0.01; done
while kill -0 "$(cat "$1")" 2>/dev/null; do sleep 0.01; done
exit 7
''')
    spec = JobSpec(str(prog), [str(tmp_path / 'rank 1 reporter')], launcher='multiple',
                   resources=ResourceSpecV1(process_count=2))
    assert run_job(spec).exit_code == 5


def test_all_ranks_fail_alike(run_job: RunJob, tmp_path: Path) -> None:
    spec = JobSpec('/bin/sh', ['-c', 'exit 3'], launcher='multiple',
                   resources=ResourceSpecV1(process_count=3))
    assert run_job(spec).exit_code == 3


def test_stdin_goes_to_rank_0_only(run_job: RunJob, tmp_path: Path) -> None:
    (tmp_path / 'in put').write_bytes(b'line one\nline two\n')
    spec = JobSpec('/bin/sh', ['-c', 'echo "$PSIJ_RANK:$(cat | wc -l)"'], launcher='multiple',
                   resources=ResourceSpecV1(process_count=3), stdin_path=tmp_path / 'in put')
    result = run_job(spec)
    assert result.exit_code == 0
    assert sorted(result.lines()) == ['0:2', '1:0', '2:0']


def test_missing_executable(run_job: RunJob, tmp_path: Path) -> None:
    spec = JobSpec(str(tmp_path / 'no such program'), launcher='multiple',
                   resources=ResourceSpecV1(process_count=2))
    try:
        result = run_job(spec)
    except InvalidJobException:
        return  # an executor may refuse a missing executable before starting anything
    assert result.exit_code == 127


def test_inherit_environment_false(run_job: RunJob, rank_report: Path) -> None:
    # the launcher itself must work with a bare environment (no PATH, no HOME)
    spec = JobSpec(str(rank_report), ['x'], inherit_environment=False,
                   environment={'PSIJ_TEST_ENV': 'only this'}, launcher='multiple',
                   resources=ResourceSpecV1(process_count=2))
    result = run_job(spec)
    assert result.exit_code == 0, result.stderr
    assert sorted(r['rank'] for r in result.ranks()) == ['0', '1']
    assert {unhex(r['env']) for r in result.ranks()} == {'only this'}
