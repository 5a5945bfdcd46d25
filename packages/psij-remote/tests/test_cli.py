"""The command line with ``--remote``: run, submit, status, cancel, list, script, plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import List

from remote_helpers import URL, remote_psij


def psij(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, '-m', 'psij', *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_run_exits_with_the_remote_jobs_code() -> None:
    r = psij('run', '--remote', URL, '--json', '--', '/bin/sh', '-c', 'id -un; exit 3')
    assert r.returncode == 3, r.stderr
    assert r.stdout.strip() == 'psijremote', r.stdout
    states = [json.loads(line)['state'] for line in r.stderr.splitlines()
              if line.startswith('{')]
    assert states[-1] == 'FAILED' and 'ACTIVE' in states, r.stderr


def test_submit_status_list_cancel() -> None:
    nid = psij('submit', '--remote', URL, '--', '/bin/sleep', '60').stdout.strip()
    assert nid
    listed: List[str] = psij('list', '--remote', URL).stdout.split()
    assert nid in listed
    r = psij('cancel', '--remote', URL, nid)
    assert 'CANCELED' in r.stdout, r.stdout + r.stderr
    r = psij('status', '--remote', URL, '--json', nid)
    assert json.loads(r.stdout.splitlines()[-1])['state'] == 'CANCELED', r.stdout
    # the same job seen on the host itself
    here = remote_psij('status', '--json', nid, check=False)
    assert json.loads(here.stdout.splitlines()[-1])['state'] == 'CANCELED', here.stdout


def test_script_and_plugins_of_the_far_end() -> None:
    r = psij('script', '--remote', URL, '-x', 'slurm', '--name', 'x;y', '--', '/bin/true')
    assert r.returncode == 0 and '#SBATCH' in r.stdout, r.stdout + r.stderr
    r = psij('plugins', '--remote', URL)
    assert r.returncode == 0 and 'slurm' in r.stdout and 'srun' in r.stdout, r.stdout
    r = psij('plugins', '--remote', 'ssh://psijremote@127.0.0.1:2222/~/no-venv')
    assert r.returncode == 1 and 'does not exist' in r.stdout, r.stdout
