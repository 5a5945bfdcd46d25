"""The far end given malformed and hostile messages (run here, on a pipe, as ssh would start
it): each gets an error reply and the server keeps serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from psij_remote import protocol as p

SRC = str(Path(__file__).resolve().parent.parent / 'src')


@pytest.fixture(autouse=True)
def sshd() -> None:
    """These tests need no sshd (overrides the package-wide fixture)."""


def _serve(tmp_path: Path, lines: List[bytes]) -> List[Dict[str, Any]]:
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, '-m', 'psij_remote.server'], input=b''.join(lines),
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_bad_messages_get_error_replies_and_serving_goes_on(tmp_path: Path) -> None:
    lines = [
        b'not json\n',
        b'[1, 2]\n',
        b'{"op": "ping"}\n',                                   # no id
        b'{"op": "no_such_op", "id": 2}\n',
        b'{"op": "open", "id": 3, "eid": "x", "executor": "local"}\n',  # wrong type
        b'{"op": "submit", "id": 4, "eid": 1, "job": "j", "key": "k", "spec": {}}\n',
        b'{"op": "session", "id": 5, "client": "../../etc/x"}\n',
        b'{"op": "stage_get", "id": 6, "path": "/etc/passwd", "offset": 0}\n',
        b'{"op": "open", "id": 7, "eid": 1, "executor": "local", "config": '
        b'{"class": "os.system", "args": {}}}\n',
        b'{"op": "ping", "id": 8, "x": "' + b'y' * (p.MAX_LINE + 10) + b'"}\n',
        b'{"op": "session", "id": 9, "client": "abcdefgh12345678"}\n',
        b'{"op": "open", "id": 10, "eid": 1, "executor": "local"}\n',
        b'{"op": "submit", "id": 11, "eid": 1, "job": "j", "key": "k", '
        b'"spec": {"executable": "/bin/true", "bogus": 1}}\n',
        b'{"op": "ping", "id": 12}\n',
    ]
    out = _serve(tmp_path, lines)
    assert out[0]['op'] == 'hello' and out[0]['protocol'] == p.PROTOCOL_VERSION
    replies = {m['id']: m for m in out[1:] if m['op'] == 'reply'}
    errors = {i: replies[i]['error']['message'] for i in replies if 'error' in replies[i]}
    assert -1 in errors  # the unparsable ones and the oversized one
    assert 'unknown operation' in errors[2]
    assert "'eid' has the wrong type" in errors[3]
    assert 'no executor 1 is open' in errors[4]
    assert 'client token' in errors[5]
    assert 'not inside a stage area' in errors[6]
    assert 'not a psij.JobExecutorConfig' in errors[7]
    assert 'bogus' in errors[11]
    assert replies[9]['ok'] == {} and replies[10]['ok']['name'] == 'local'
    assert replies[12]['ok'] == {}
    assert len([m for m in out if m['op'] == 'reply' and m['id'] == -1]) == 4


def test_a_retried_submit_gives_the_first_job(tmp_path: Path) -> None:
    head = [b'{"op": "session", "id": 1, "client": "abcdefgh12345678"}\n',
            b'{"op": "open", "id": 2, "eid": 1, "executor": "local"}\n']
    submit = (b'{"op": "submit", "id": %d, "eid": 1, "job": "j", "key": "key1", '
              b'"spec": {"executable": "/bin/sh", '
              b'"arguments": ["-c", "echo x >> \\"$HOME/runs\\""]}}\n')
    first = _serve(tmp_path, head + [submit % 3])
    again = _serve(tmp_path, head + [submit % 3])  # a new connection, the same key
    nid = [m for m in first if m.get('id') == 3][0]['ok']
    nid2 = [m for m in again if m.get('id') == 3][0]['ok']
    assert nid2.get('retried') is True
    # the native id comes with the reply or with the job's first status that knows it
    ids = {m.get('native_id') for m in first + again if m.get('native_id')} | \
        {nid.get('native_id'), nid2.get('native_id')} - {None}
    assert len(ids) == 1, (first, again)
    deadline = 60
    import time
    end = time.monotonic() + deadline
    while not (tmp_path / 'runs').exists() and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(0.5)
    assert (tmp_path / 'runs').read_text() == 'x\n'
