"""JobSpec -> Flux jobspec, checked against jobspecs a real Flux 0.88 built (samples)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from conftest import SAMPLES
from psij import InvalidJobException, JobAttributes, JobSpec, ResourceSpecV1
from psij_flux.jobspec import (
    LEAD_ONLY_SH,
    LEAD_SH,
    TASK_SH,
    Submission,
    build_submission,
    job_environment,
)

FLUX = '/opt/flux/bin/flux'


def build(spec: JobSpec, launcher: str = 'single', command: Optional[list[str]] = None,
          environ: Optional[Dict[str, str]] = None) -> Submission:
    return build_submission(spec, launcher, command, FLUX, job_name='psij-job', cwd='/base',
                            environ=environ if environ is not None else {'HOME': '/root',
                                                                         'PATH': '/bin'})


def system(sub: Submission) -> Dict[str, Any]:
    return sub.jobspec['attributes']['system']


def task(sub: Submission) -> Dict[str, Any]:
    t = sub.jobspec['tasks']
    assert len(t) == 1
    return t[0]


def test_same_shape_as_flux_submit() -> None:
    """`flux submit --dry-run -N2 -n2 -t 10m --job-name=x --setattr=user.k=v '--env=-*'
    --env=FOO=bar hostname` and the equivalent JobSpec give the same resources and
    attributes."""
    flux = json.loads((SAMPLES / 'flux_submit_dry_run.out').read_text())
    spec = JobSpec('hostname', name='x', inherit_environment=False, environment={'FOO': 'bar'},
                   resources=ResourceSpecV1(node_count=2, process_count=2),
                   attributes=JobAttributes(duration=timedelta(minutes=10),
                                            custom_attributes={'flux.setattr.user.k': 'v'}))
    sub = build(spec, 'multiple')
    js = sub.jobspec
    assert js['version'] == flux['version'] == 1
    assert js['resources'] == flux['resources']
    assert task(sub)['count'] == flux['tasks'][0]['count']
    assert task(sub)['slot'] == flux['tasks'][0]['slot']
    fs = flux['attributes']['system']
    assert system(sub)['duration'] == fs['duration']
    assert system(sub)['environment'] == fs['environment']
    assert system(sub)['job'] == fs['job']
    assert js['attributes']['user'] == flux['attributes']['user']
    # two ranks get PSIJ_NODEFILE through the task wrapper; hostname is its last word
    assert sub.mode == 'wrapped' and task(sub)['command'][-1] == 'hostname'


def test_io_shape_as_flux_submit() -> None:
    """--output/--error of `flux submit` (flux_job_info_jobspec.out) use the same options."""
    flux = json.loads((SAMPLES / 'flux_job_info_jobspec.out').read_text())
    spec = JobSpec('/bin/true', stdout_path='/o', stderr_path='/e')
    out = system(build(spec))['shell']['options']['output']
    assert set(out) == set(flux['attributes']['system']['shell']['options']['output'])
    assert out['stdout'] == {'type': 'file', 'path': '/o'}
    assert out['stderr'] == {'type': 'file', 'path': '/e'}


def test_plain_job_runs_its_argv_directly() -> None:
    args = ['$(echo injected)', "it's", 'a b', '', '-n', '`x`', 'line\nbreak']
    sub = build(JobSpec('/bin/echo', args))
    assert sub.mode == 'direct'
    assert task(sub)['command'] == ['/bin/echo'] + args
    assert task(sub)['count'] == {'total': 1}
    assert sub.jobspec['resources'] == [{'type': 'slot', 'count': 1, 'label': 'task',
                                         'with': [{'type': 'core', 'count': 1}]}]
    s = system(sub)
    assert s['cwd'] == '/base' and s['job']['name'] == '/bin/echo'
    assert s['duration'] == 600.0
    assert s['shell']['options']['output']['stdout']['path'] == '/dev/null'
    assert 'input' not in s['shell']['options']


def test_environment() -> None:
    env = {'A': 'x${HOME}y', 'B': '${A}/${NOPE}', 'C': '$HOME `x` $(y) \n \u00e9'}
    sub = build(JobSpec('/bin/true', environment=env))
    e = system(sub)['environment']
    assert e == {'HOME': '/root', 'PATH': '/bin', 'A': 'x/rooty', 'B': 'x/rooty/',
                 'C': '$HOME `x` $(y) \n \u00e9'}
    sub = build(JobSpec('/bin/true', inherit_environment=False, environment=env))
    assert system(sub)['environment'] == {'A': 'xy', 'B': 'xy/', 'C': env['C']}
    assert job_environment(False, None, {'X': '1'}) == {}


def test_directory_stdio_relative_to_it() -> None:
    spec = JobSpec('/bin/cat', directory='/work dir', stdin_path='in', stdout_path='o/out',
                   stderr_path=Path('/abs/err'))
    sub = build(spec)
    s = system(sub)
    assert s['cwd'] == '/work dir'
    opts = s['shell']['options']
    assert opts['input']['stdin'] == {'type': 'file', 'path': '/work dir/in'}
    assert opts['output']['stdout']['path'] == '/work dir/o/out'
    assert opts['output']['stderr']['path'] == '/abs/err'
    # the wrapper checks the directory: Flux alone would run the job in /tmp
    cmd = task(sub)['command']
    assert sub.mode == 'wrapped'
    assert cmd[:4] == ['/bin/sh', '-c', TASK_SH, 'psij-flux']
    assert cmd[4:9] == ['/work dir', FLUX, '', '', ''] and cmd[9:] == ['/bin/cat']


def test_resources() -> None:
    spec = JobSpec('/bin/true', resources=ResourceSpecV1(
        node_count=2, processes_per_node=3, cpu_cores_per_process=2, gpu_cores_per_process=1,
        exclusive_node_use=True))
    sub = build(spec, 'mpirun')
    assert sub.jobspec['resources'] == [{
        'type': 'node', 'count': 2, 'exclusive': True,
        'with': [{'type': 'slot', 'count': 3, 'label': 'task',
                  'with': [{'type': 'core', 'count': 2}, {'type': 'gpu', 'count': 1}]}]}]
    assert task(sub)['count'] == {'per_slot': 1}
    only_p = build(JobSpec('/bin/true', resources=ResourceSpecV1(process_count=4)), 'srun')
    assert only_p.jobspec['resources'][0]['type'] == 'slot'
    assert only_p.jobspec['resources'][0]['count'] == 4
    excl = build(JobSpec('/bin/true', resources=ResourceSpecV1(exclusive_node_use=True)))
    assert excl.jobspec['resources'][0] == {
        'type': 'node', 'count': 1, 'exclusive': True,
        'with': [{'type': 'slot', 'count': 1, 'label': 'task',
                  'with': [{'type': 'core', 'count': 1}]}]}


def test_single_starts_one_task_in_the_whole_allocation() -> None:
    one = build(JobSpec('/bin/true', resources=ResourceSpecV1(process_count=2)))
    assert task(one)['count'] == {'total': 1} and one.mode == 'direct'
    # several nodes: a task on each (Flux fails a job with a node without one), of which only
    # the lead node's runs the command
    sub = build(JobSpec('/bin/true', resources=ResourceSpecV1(node_count=2,
                                                              processes_per_node=2)))
    assert task(sub)['count'] == {'per_slot': 1}
    assert sub.jobspec['resources'][0]['count'] == 2
    opts = sub.jobspec['attributes']['system']['shell']['options']
    assert opts['per-resource'] == {'type': 'node'} and opts['exit-timeout'] == 'none'
    assert task(sub)['command'] == ['/bin/sh', '-c', LEAD_ONLY_SH, 'psij-flux', '/bin/true']


def test_other_launcher_runs_its_command_once_with_a_nodefile() -> None:
    sub = build(JobSpec('/bin/true', resources=ResourceSpecV1(process_count=2)), 'jsrun',
                command=['jsrun', '-n', '2', '/bin/true'])
    cmd = task(sub)['command']
    assert task(sub)['count'] == {'total': 1}
    assert cmd[6] == 'nodefile' and cmd[9:] == ['jsrun', '-n', '2', '/bin/true']
    with pytest.raises(InvalidJobException):
        build(JobSpec('/bin/true'), 'jsrun', command=[])


def test_pre_post_single_rank_in_the_task() -> None:
    sub = build(JobSpec('/bin/true', directory='/d', pre_launch='pre.sh',
                        post_launch='/p/post.sh'))
    cmd = task(sub)['command']
    assert sub.mode == 'wrapped'
    assert cmd[4:9] == ['/d', FLUX, '', '/d/pre.sh', '/p/post.sh']


def test_pre_post_with_flux_ranks_use_a_nested_instance() -> None:
    sub = build(JobSpec('/bin/echo', ['a b'], pre_launch='/pre.sh',
                        resources=ResourceSpecV1(node_count=2, processes_per_node=1,
                                                 cpu_cores_per_process=2)), 'multiple')
    assert sub.mode == 'nested'
    cmd = task(sub)['command']
    assert cmd[:2] == [FLUX, 'broker']
    assert cmd[3:6] == ['-c', LEAD_SH, 'psij-flux']
    assert cmd[6:10] == ['', FLUX, '/pre.sh', '']
    run = cmd[10:]
    assert run[:2] == [FLUX, 'run']
    assert run[2:run.index('--')] == ['-n', '2', '-N', '2', '-c', '2']
    assert run[-2:] == ['/bin/echo', 'a b']
    opts = system(sub)['shell']['options']
    assert opts['per-resource'] == {'type': 'node'} and opts['mpi'] == 'none'


def test_queue_account_name_duration() -> None:
    spec = JobSpec('/bin/true', name='my job', attributes=JobAttributes(
        duration=timedelta(seconds=90), queue_name='batch', account='bank1'))
    s = system(build(spec))
    assert (s['queue'], s['bank'], s['job']['name'], s['duration']) == \
        ('batch', 'bank1', 'my job', 90.0)
    with pytest.raises(InvalidJobException):
        build(JobSpec('/bin/true', attributes=JobAttributes(reservation_id='r1')))
    # names, refused naming the field rather than sent for Flux to refuse
    for field, bad in (('queue_name', 'a\nb'), ('account', '-x'), ('queue_name', 'q' * 300),
                       ('account', 'a"b')):
        with pytest.raises(InvalidJobException, match=field):
            build(JobSpec('/bin/true', attributes=JobAttributes(**{field: bad})))


def test_flux_refusals_name_the_field() -> None:
    from psij_flux.event_stream import submit_error
    ex = submit_error(OSError(22, "'nosuch' is not a valid queue"), 'local://x')
    assert isinstance(ex, InvalidJobException) and 'JobAttributes.queue_name' in str(ex)


def test_custom_attributes() -> None:
    attrs = {'flux.setattr.user.tag': 'x', 'flux.setattr.system.foo': '3',
             'flux.bar': '{"a": [1]}', 'flux.setopt.cpu-affinity': 'off',
             'flux.setopt.output.stdout.label': True, 'flux.urgency': '0',
             'flux.dependency': 'afterok:\u01922aaaaaaa', 'slurm.qos': 'ignored',
             'flux.skipped': False}
    sub = build(JobSpec('/bin/true', attributes=JobAttributes(custom_attributes=attrs)))
    a = sub.jobspec['attributes']
    assert a['user'] == {'tag': 'x'}
    assert a['system']['foo'] == 3 and a['system']['bar'] == {'a': [1]}
    assert 'skipped' not in a['system']
    opts = a['system']['shell']['options']
    assert opts['cpu-affinity'] == 'off'
    assert opts['output']['stdout']['label'] == 1
    assert opts['output']['stdout']['path'] == '/dev/null'
    assert sub.urgency == 0
    assert a['system']['dependencies'] == [{'scheme': 'afterok', 'value': '\u01922aaaaaaa'}]
    for bad in ({'flux.urgency': '99'}, {'flux.dependency': 'afterok'},
                {'flux.setattr.user.a b': 'x'}, {'flux.setopt.x;y': 1}):
        with pytest.raises(InvalidJobException):
            build(JobSpec('/bin/true', attributes=JobAttributes(custom_attributes=bad)))


def test_template_in_path_refused() -> None:
    with pytest.raises(InvalidJobException):
        build(JobSpec('/bin/true', stdout_path='/tmp/{{id}}.out'))


def test_task_wrapper_quotes_nothing(tmp_path: Path) -> None:
    """The wrapper runs hostile arguments and directories as data (run here with sh)."""
    d = tmp_path / "it's $(touch pwned) `x`"
    d.mkdir()
    out = tmp_path / 'out'
    sub = build(JobSpec('/bin/sh', ['-c', 'pwd; printf "%s|" "$@" > "$0"', str(out),
                                    '$(touch pwned2)', '; rm -rf /', "'"], directory=d))
    cmd = task(sub)['command']
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(d)
    assert out.read_text() == "$(touch pwned2)|; rm -rf /|'|"
    assert not list(tmp_path.glob('pwned*')) and not list(d.glob('pwned*'))


def test_task_wrapper_missing_directory(tmp_path: Path) -> None:
    sub = build(JobSpec('/bin/true', directory=tmp_path / 'missing'))
    p = subprocess.run(task(sub)['command'], capture_output=True, text=True,
                       env={'PATH': '/bin:/usr/bin'})
    assert p.returncode == 1
    assert 'cannot enter the job directory' in p.stderr


def test_task_wrapper_pre_post(tmp_path: Path) -> None:
    log = tmp_path / 'log'
    pre, post = tmp_path / 'pre.sh', tmp_path / 'post.sh'
    pre.write_text('echo pre >> "%s"; export FROM_PRE="p r e"\n' % log)
    post.write_text('echo "post $FROM_PRE" >> "%s"; exit 5\n' % log)
    sub = build(JobSpec('/bin/sh', ['-c', 'echo "job $FROM_PRE" >> "$0"; exit 0', str(log)],
                        pre_launch=pre, post_launch=post))
    p = subprocess.run(task(sub)['command'], capture_output=True, text=True)
    assert log.read_text() == 'pre\njob p r e\npost p r e\n'
    assert p.returncode == 5, 'a failing post-launch script fails a job that succeeded'
