"""Faults between the two ends, on the real sshd: the ssh process killed mid-run, sshd
restarted, the connection dropped during submit and submit_many, the far end missing psij or
speaking another protocol version, a wrong host key. Each ends with every job's true final
state (nothing lost, nothing run twice) or one clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest
from conftest import PORT, SSH_DIR, USER
from psij import Job, JobState
from psij_remote.connection import Connection, connections
from psij_remote.errors import RemoteError
from remote_helpers import executor, history, sh, until, wait_final

ORDER = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
         JobState.CLEANUP]


def _conn() -> Connection:
    live = [c for c in connections() if c.ssh_pid is not None]
    assert len(live) == 1, live
    return live[0]


def _marked(script: str, d: Path, i: int) -> Job:
    # each run of the job leaves a file of its own: a job run twice leaves two
    return Job(sh('mktemp "$1/ran.$2.XXXXXX" > /dev/null; ' + script, str(d), str(i)))


def _runs(d: Path) -> List[int]:
    return sorted(int(p.name.split('.')[1]) for p in d.glob('ran.*'))


def test_ssh_killed_while_jobs_run_and_end(remote_dir: Path) -> None:
    ex = executor()
    jobs = [_marked('sleep %s; exit %d' % (t, i), remote_dir, i)
            for i, t in enumerate(['0.1', '1', '2', '4', '30'])]
    seen = [history(j) for j in jobs]
    for j in jobs:
        ex.submit(j)
    until(lambda: all(j.status.state is JobState.ACTIVE for j in jobs[1:]), 60, 'ACTIVE')
    conn = _conn()
    before = conn.reconnects
    for _ in range(2):  # twice: the first kill while jobs end, the second after a reconnect
        pid = conn.ssh_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        until(lambda pid=pid: conn.ssh_pid not in (None, pid), 60,  # type: ignore[misc]
              'a new ssh process')
        time.sleep(1.5)
    jobs[-1].cancel()
    for i, j in enumerate(jobs[:-1]):
        st = wait_final(j, 120)
        assert st.state is (JobState.COMPLETED if i == 0 else JobState.FAILED), st
        assert st.exit_code == i, st
        assert seen[i] == ORDER + [st.state], seen[i]
    assert wait_final(jobs[-1], 120).state is JobState.CANCELED
    assert conn.reconnects >= before + 2
    assert _runs(remote_dir) == [0, 1, 2, 3, 4]


def _sshd_pid() -> int:
    return int(Path('/run/psij-sshd.pid').read_text())


def test_sshd_restarted(remote_dir: Path) -> None:
    ex = executor()
    jobs = [_marked('sleep %d; exit %d' % (t, t), remote_dir, t) for t in (1, 3)]
    for j in jobs:
        ex.submit(j)
    until(lambda: all(j.status.state is JobState.ACTIVE for j in jobs), 60, 'ACTIVE')
    conn = _conn()
    before = conn.reconnects
    # stop the server and every session it serves (a restart that drops connections)
    os.kill(_sshd_pid(), signal.SIGTERM)
    subprocess.run(['pkill', '-KILL', '-u', USER, '-x', 'sshd'], check=False)
    until(lambda: conn.ssh_pid is None, 30, 'the link to drop')
    time.sleep(2)  # reconnection attempts fail meanwhile
    subprocess.run(['/usr/sbin/sshd', '-f', str(SSH_DIR / 'sshd_config'), '-E',
                    '/var/log/psij-sshd.log'], check=True)
    for j, code in zip(jobs, (1, 3), strict=True):
        st = wait_final(j, 120)
        assert st.state is JobState.FAILED and st.exit_code == code, st
    assert conn.reconnects > before
    assert _runs(remote_dir) == [1, 3]


def _killer(conn: Connection, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        pid = conn.ssh_pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize('bulk', [False, True], ids=['submit', 'submit_many'])
def test_connection_dropped_during_submits(remote_dir: Path, bulk: bool) -> None:
    ex = executor()
    conn = _conn()
    stop = threading.Event()
    killer = threading.Thread(target=_killer, args=(conn, stop, 0.15))
    jobs: List[Job] = []
    raised: List[Job] = []
    killer.start()
    try:
        for _ in range(12 if bulk else 150):
            batch = [_marked('exit 0', remote_dir, len(jobs) + k) for k in range(20 if bulk
                                                                                 else 1)]
            jobs += batch
            try:
                if bulk:
                    ex.submit_many(batch)
                else:
                    ex.submit(batch[0])
            except RemoteError:
                raised += batch  # not sent: must not run
    finally:
        stop.set()
        killer.join()
    assert conn.reconnects > 0
    accepted = [j for j in jobs if j not in raised]
    for j in accepted:
        assert wait_final(j, 180).state is JobState.COMPLETED, j.status
    for j in raised:
        assert j.status.state is JobState.NEW
    index = {id(j): i for i, j in enumerate(jobs)}
    # every accepted job ran exactly once, and no refused one ran
    assert _runs(remote_dir) == sorted(index[id(j)] for j in accepted)


def _failing_start(url: str, config: Optional[str] = None) -> str:
    old = os.environ.get('PSIJ_SSH_CONFIG')
    if config is not None:
        os.environ['PSIJ_SSH_CONFIG'] = config
    try:
        with pytest.raises(RemoteError) as ei:
            executor(url=url)
        return str(ei.value)
    finally:
        if old is not None:
            os.environ['PSIJ_SSH_CONFIG'] = old


def test_clear_errors_at_get_instance(tmp_path: Path) -> None:
    host = 'psijremote@127.0.0.1:%d' % PORT
    msg = _failing_start('ssh://%s/~/no-such-venv' % host)
    assert host in msg and 'no-such-venv' in msg and 'does not exist' in msg, msg
    # Debian's python3 there has no psij-remote
    msg = _failing_start('ssh://%s' % host)
    assert 'psij-remote is not installed there' in msg, msg
    wrong = tmp_path / 'ssh_config'
    wrong.write_text((SSH_DIR / 'ssh_config').read_text().replace(
        str(SSH_DIR / 'known_hosts'), str(SSH_DIR / 'wrong_known_hosts')))
    msg = _failing_start('ssh://%s/~/venv' % host, str(wrong))
    assert 'refused the host key' in msg, msg
    nokey = tmp_path / 'nokey_config'
    nokey.write_text('Host 127.0.0.1\n    IdentityFile %s\n    IdentitiesOnly yes\n'
                     '    UserKnownHostsFile %s\n'
                     % (tmp_path / 'missing', SSH_DIR / 'known_hosts'))
    msg = _failing_start('ssh://%s/~/venv' % host, str(nokey))
    assert 'login failed' in msg and 'BatchMode' in msg, msg


def test_another_protocol_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) \
        -> None:
    # a far end of another release: an "ssh" that starts a server greeting with protocol 99
    fake = tmp_path / 'ssh'
    fake.write_text('#!/bin/sh\nread v\necho \'{"op":"hello","protocol":99,'
                    '"psij_remote":"9.0","psij_core":"9.0","python":"3","host":"h",'
                    '"user":"u","pid":1}\'\nsleep 5\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PSIJ_SSH', str(fake))
    msg = _failing_start('ssh://nobody@version-test.invalid')
    assert 'protocol version 99 (psij-remote 9.0) there, 1 here' in msg, msg
    assert 'nobody@version-test.invalid' in msg
