"""``psij run|submit|status|cancel|list|validate`` as a user runs them, in a subprocess."""

import json
import os
import signal
import subprocess
import sys

import pytest

PY = sys.executable


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e['PSIJ_LOCAL_STATE_DIR'] = str(tmp_path / 'state')
    return e


def psij(env, *args, **kw):
    return subprocess.run([PY, '-m', 'psij'] + list(args), capture_output=True, text=True,
                          env=env, timeout=120, **kw)


def test_run_prints_states_and_passes_output(env):
    p = psij(env, 'run', '--', 'echo', 'hello', 'a  b')
    assert p.returncode == 0, p.stderr
    assert p.stdout == 'hello a  b\n'
    states = [line.split()[0] for line in p.stderr.splitlines()]
    assert states == ['QUEUED', 'STAGE_IN', 'ACTIVE', 'STAGE_OUT', 'CLEANUP', 'COMPLETED']


def test_run_exit_codes(env):
    assert psij(env, 'run', '--', 'sh', '-c', 'exit 7').returncode == 7
    assert psij(env, 'run', '--', 'sh', '-c', 'kill -9 $$').returncode == 128 + 9


def test_run_json(env):
    p = psij(env, 'run', '--json', '--', 'sh', '-c', 'exit 3')
    assert p.returncode == 3
    lines = [json.loads(line) for line in p.stderr.splitlines()]
    assert lines[-1]['state'] == 'FAILED' and lines[-1]['exit_code'] == 3
    assert [d['state'] for d in lines] == ['QUEUED', 'STAGE_IN', 'ACTIVE', 'STAGE_OUT',
                                           'CLEANUP', 'FAILED']
    assert lines[2]['native_id']


def test_run_bad_executable(env, tmp_path):
    p = psij(env, 'run', '--', str(tmp_path / 'nope'))
    assert p.returncode == 125
    assert str(tmp_path / 'nope') in p.stderr


def test_run_options(env, tmp_path):
    p = psij(env, 'run', '--cwd', str(tmp_path), '--env', 'X=${HOME}/x', '--stdout', 'out.txt',
             '--', 'sh', '-c', 'echo "$X $(pwd)"')
    assert p.returncode == 0, p.stderr
    assert (tmp_path / 'out.txt').read_text() == '%s/x %s\n' % (env['HOME'], tmp_path)


def test_run_spec_file(env, tmp_path):
    spec = tmp_path / 'job.json'
    spec.write_text(json.dumps({'executable': 'sh', 'arguments': ['-c', 'exit 9']}))
    assert psij(env, 'run', '--spec', str(spec)).returncode == 9
    # Options override the file.
    assert psij(env, 'run', '--spec', str(spec), '--', 'true').returncode == 0


def test_submit_status_list_cancel(env):
    p = psij(env, 'submit', '--', 'sh', '-c', 'exit 4')
    assert p.returncode == 0, p.stderr
    nid = p.stdout.strip()
    p = psij(env, 'status', '--wait', '--json', nid)
    d = json.loads(p.stdout)
    assert d['state'] == 'FAILED' and d['exit_code'] == 4  # the true code, not a fake 0

    p = psij(env, 'submit', '--json', '--', 'sleep', '100')
    nid = json.loads(p.stdout)['native_id']
    assert nid in json.loads(psij(env, 'list', '--json').stdout)
    assert psij(env, 'status', nid).stdout.startswith('ACTIVE')
    p = psij(env, 'cancel', nid)
    assert p.returncode == 0
    assert p.stdout.startswith('CANCELED')
    assert nid not in psij(env, 'list').stdout.split()
    p = psij(env, 'status', '--wait', '--json', nid)
    assert json.loads(p.stdout)['state'] == 'CANCELED'


def test_submit_leaves_no_runner_behind(env, tmp_path):
    # the job's parent is the executor's keeper process, not a detached `psij run`
    p = psij(env, 'submit', '--', 'sleep', '100')
    assert p.returncode == 0, p.stderr
    nid = p.stdout.strip()
    pid = int(nid.split('-')[0])
    with open('/proc/%d/stat' % pid) as f:
        ppid = int(f.read().rsplit(')', 1)[1].split()[1])
    with open('/proc/%d/cmdline' % ppid, 'rb') as f:
        parent = f.read()
    assert b'_keeper' in parent and b'run' not in parent.split(b'\0'), parent
    assert json.loads(psij(env, 'cancel', '--json', nid).stdout)['state'] == 'CANCELED'
    # spec errors are still reported by `psij submit` itself
    p = psij(env, 'submit', '--', str(tmp_path / 'nope'))
    assert p.returncode == 125 and str(tmp_path / 'nope') in p.stderr


def test_status_and_cancel_of_several_jobs(env):
    """Several native ids: a line each, starting with the id (JSON: an object per line); an
    unknown id is reported on stderr with exit code 125 and does not hide the others."""
    ids = [psij(env, 'submit', '--', 'sh', '-c', 'exit %d' % c).stdout.strip() for c in (0, 3)]
    p = psij(env, 'status', '--wait', *ids)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ['%s COMPLETED exit_code=0' % ids[0],
                                     '%s FAILED exit_code=3: Exit code 3' % ids[1]]
    sleepers = [psij(env, 'submit', '--', 'sleep', '100').stdout.strip() for _ in range(2)]
    p = psij(env, 'cancel', '--json', *sleepers, '1-1')
    assert p.returncode == 125 and 'No local job' in p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(d['native_id'], d['state']) for d in lines] == [(n, 'CANCELED') for n in sleepers]
    assert not set(sleepers) & set(psij(env, 'list').stdout.split())


def test_status_unknown(env):
    p = psij(env, 'status', '1-1')
    assert p.returncode == 125
    assert 'No local job' in p.stderr


def test_validate(env, tmp_path):
    good = tmp_path / 'good.json'
    good.write_text(json.dumps({'executable': '/bin/true', 'resources': {'process_count': 2}}))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'executable': '/bin/true', 'bogus': 1}))
    assert psij(env, 'validate', str(good)).returncode == 0
    p = psij(env, 'validate', '--json', str(bad))
    assert p.returncode == 1
    d = json.loads(p.stdout)
    assert d['valid'] is False and 'bogus' in d['error']


def _default_sigint():
    # the tests may run where SIGINT is ignored (a background job of a shell), which the
    # child would inherit; Ctrl-C at a terminal reaches a process that does not ignore it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_job(env):
    p = subprocess.Popen([PY, '-m', 'psij', 'run', '--', 'sleep', '100'], env=env,
                         stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    nid = None
    for line in p.stderr:
        if line.startswith('ACTIVE'):
            nid = line.split('native_id=')[1].strip()
            break
    assert nid
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    rc = p.wait(timeout=60)
    assert 'CANCELED' in rest
    assert rc != 0
    pid = int(nid.split('-')[0])
    assert not os.path.exists('/proc/%d' % pid) or \
        open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0] == 'Z'
