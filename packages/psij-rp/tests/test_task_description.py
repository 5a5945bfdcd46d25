"""The mapping of JobSpec fields to task descriptions, and the refusals (no pilot needed)."""

from __future__ import annotations

import base64
import json
import pathlib
from datetime import timedelta

import pytest
from psij import InvalidJobException, JobAttributes, JobSpec, ResourceSpecV1
from psij.job_spec import StageIn
from psij_rp.task_description import TASK_MAIN, task_description


def _payload(td: dict) -> dict:  # type: ignore[type-arg]
    assert td['arguments'][:3] == ['-I', '-S', TASK_MAIN]
    return json.loads(base64.urlsafe_b64decode(td['arguments'][3]))  # type: ignore[no-any-return]


def test_fields_mapped() -> None:
    spec = JobSpec('/bin/echo', ['a b', '$(x)', ''], directory=pathlib.Path('/tmp/d'),
                   environment={'A': '1 "2"'}, stdin_path=pathlib.Path('in'),
                   stdout_path=pathlib.Path('out'), stderr_path=pathlib.Path('err'),
                   inherit_environment=False,
                   resources=ResourceSpecV1(process_count=4, cpu_cores_per_process=2,
                                            gpu_cores_per_process=1, memory=8 * 2 ** 20),
                   attributes=JobAttributes(duration=timedelta(minutes=2),
                                            custom_attributes={'rp.tags': {'colocate': 'x'},
                                                               'slurm.qos': 'ignored'}),
                   pre_launch=pathlib.Path('/pre.sh'), post_launch=pathlib.Path('/post.sh'))
    td = task_description(spec, None, 'job-1', python='/py')
    assert td['executable'] == '/py' and td['name'] == 'job-1'
    assert (td['ranks'], td['cores_per_rank'], td['gpus_per_rank']) == (4, 2, 1)
    # the executor enforces the duration (RP's timeout busy-loops its agent)
    assert td['mem_per_rank'] == 2 and 'timeout' not in td
    # the directory is entered by the task program: RP mangles sandbox paths with spaces
    assert 'sandbox' not in td and td['tags'] == {'colocate': 'x'}
    assert td['pre_launch'] == ['. /pre.sh'] and td['post_launch'] == ['. /post.sh']
    p = _payload(td)
    assert p == {'executable': '/bin/echo', 'arguments': ['a b', '$(x)', ''],
                 'environment': [['A', '1 "2"']], 'inherit': False, 'directory': '/tmp/d',
                 'stdin': 'in', 'stdout': 'out', 'stderr': 'err',
                 'pre_launch': None, 'post_launch': None}
    # a path RP's launch script could misread: sourced by the task program, around the job
    odd = task_description(JobSpec('/bin/echo', pre_launch=pathlib.Path('/p re.sh')), None, 'j')
    assert 'pre_launch' not in odd and _payload(odd)['pre_launch'] == '/p re.sh'
    with pytest.raises(InvalidJobException, match='pre_launch'):
        task_description(JobSpec('/bin/true', pre_launch=pathlib.Path('/a b'),
                                 resources=ResourceSpecV1(process_count=2)), None, 'j')


@pytest.mark.parametrize('spec, launcher, field', [
    (JobSpec('/bin/true', launcher='srun'), 'srun', 'launcher'),
    (JobSpec('/bin/true', attributes=JobAttributes(queue_name='debug')), None, 'queue_name'),
    (JobSpec('/bin/true', attributes=JobAttributes(account='a')), None, 'account'),
    (JobSpec('/bin/true', attributes=JobAttributes(custom_attributes={'rp.executable': 'x'})),
     None, 'rp.executable'),
    (JobSpec('/bin/true', stage_in={StageIn('file:///etc/hosts', 'h')}), None, 'stage_in'),
    (JobSpec('/bin/true', resources=ResourceSpecV1(exclusive_node_use=True)), None,
     'exclusive_node_use'),
    (JobSpec('/bin/true', environment={'A B': 'x'}), None, 'environment'),
])
def test_refused_naming_the_field(spec: JobSpec, launcher: str, field: str) -> None:
    with pytest.raises(InvalidJobException) as ei:
        task_description(spec, launcher, 'j')
    assert field in str(ei.value)


def test_plain_jobs_run_without_the_task_program(tmp_path: pathlib.Path) -> None:
    spec = JobSpec('/bin/echo', ['-n', 'a.b', 'x=1'], environment={'K': 'v/1'},
                   directory=tmp_path, stdout_path=pathlib.Path('out'))
    td = task_description(spec, None, 'j', python='/py')
    assert td['executable'] == '/bin/echo' and td['arguments'] == ['-n', 'a.b', 'x=1']
    assert td['environment'] == {'K': 'v/1'} and td['sandbox'] == str(tmp_path)
    assert td['stdout'] == 'out' and 'stderr' not in td
    # one character RP's scripts could misread, or a field RP has no place for: the program
    for other in (JobSpec('/bin/echo', ['a b']), JobSpec('/bin/echo', environment={'K': '$x'}),
                  JobSpec('/bin/echo', stdin_path=pathlib.Path('/dev/null')),
                  JobSpec('/bin/echo', inherit_environment=False),
                  JobSpec('/bin/echo', directory=tmp_path / 'missing'),
                  JobSpec('/bin/echo', stdout_path=pathlib.Path('relative'))):
        assert task_description(other, None, 'j', python='/py')['executable'] == '/py'
