"""The far end of psij-remote's tests: the sshd of ``ci/ssh/setup-sshd.sh`` (127.0.0.1:2222)
and its user psijremote, with this tree's psij in ``~psijremote/venv``
(``ci/ssh/install-remote-psij.sh``; the nox session runs it first).

Without them the tests skip with a message saying why; with ``PSIJ_REQUIRE_SSH=1`` (CI) they
fail instead. The client runs as root, the jobs as psijremote: files the jobs write go to a
directory psijremote owns (`remote_dir`), which root can read.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import socket
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

_SRC = pathlib.Path(__file__).resolve().parent.parent / 'src'
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

SSH_DIR = pathlib.Path('/etc/psij-sshd')
PORT = int(os.environ.get('PSIJ_SSHD_PORT', '2222'))
USER = 'psijremote'
URL = 'ssh://%s@127.0.0.1:%d/~/venv' % (USER, PORT)


def _problem() -> str | None:
    if os.getuid() != 0:
        return 'the tests run as root (jobs run as %s, whose files root reads)' % USER
    if not (SSH_DIR / 'ssh_config').exists():
        return 'no %s/ssh_config' % SSH_DIR
    try:
        home = pwd.getpwnam(USER).pw_dir
    except KeyError:
        return 'no user %s' % USER
    if not os.path.exists(os.path.join(home, 'venv', 'bin', 'python')):
        return 'no %s/venv (ci/ssh/install-remote-psij.sh)' % home
    try:
        socket.create_connection(('127.0.0.1', PORT), timeout=5).close()
    except OSError as ex:
        return 'nothing listens on 127.0.0.1:%d (%s)' % (PORT, ex)
    return None


@pytest.fixture(scope='session', autouse=True)
def sshd() -> None:
    """Skips (or, with ``PSIJ_REQUIRE_SSH=1``, fails) without the test sshd."""
    problem = _problem()
    if problem is None:
        os.environ['PSIJ_SSH_CONFIG'] = str(SSH_DIR / 'ssh_config')
        return
    msg = '%s; set it up with ci/ssh/setup-sshd.sh and ci/ssh/install-remote-psij.sh' % problem
    if os.environ.get('PSIJ_REQUIRE_SSH') == '1':
        pytest.fail('PSIJ_REQUIRE_SSH=1 but ' + msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def remote_dir() -> Iterator[pathlib.Path]:
    """A fresh directory owned by psijremote (the jobs write there; root reads)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix='psij-remote-test-', dir='/tmp'))
    pw = pwd.getpwnam(USER)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    d.chmod(0o755)
    yield d
    subprocess.run(['rm', '-rf', str(d)], check=False)
