"""
The ``ssh`` command line that starts the far end, and what its failures mean.

The remote command is fixed: nothing the user typed is ever part of it. It reads one line
from the channel, the virtual environment named in the URL (empty for none), and starts that
environment's Python (or ``python3`` from the remote PATH) on :mod:`psij_remote.server`;
everything else travels inside the protocol.
"""

from __future__ import annotations

import os
import shlex
from typing import List, Optional

from psij_remote.url import RemoteTarget

SSH_ENV = 'PSIJ_SSH'
"""The ssh program to run (default ``ssh``), e.g. a wrapper adding options."""
SSH_CONFIG_ENV = 'PSIJ_SSH_CONFIG'
"""A configuration file for ssh (``ssh -F``) instead of ``~/.ssh/config``."""
SSH_OPTIONS_ENV = 'PSIJ_SSH_OPTIONS'
"""More options for ssh, split like a shell would (e.g. ``-o ConnectTimeout=5``)."""

NO_VENV_PYTHON = 98
"""The far end's exit code when the named virtual environment has no Python."""

REMOTE_COMMAND = (
    "sh -c '"
    'IFS= read -r v || exit 97; '
    'case $v in "~") v=$HOME;; "~/"*) v=$HOME/${v#"~/"};; esac; '
    'if [ -z "$v" ]; then exec python3 -m psij_remote.server; fi; '
    '[ -x "$v/bin/python" ] || { echo "psij-remote: no $v/bin/python" >&2; exit 98; }; '
    'exec "$v/bin/python" -m psij_remote.server'
    "'")
"""The fixed command the far end runs (parsed by the remote login shell)."""


def ssh_argv(target: RemoteTarget) -> List[str]:
    """The command that connects to `target` and starts the far end there."""
    argv = [os.environ.get(SSH_ENV) or 'ssh', '-T', '-o', 'BatchMode=yes',
            '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4']
    config = os.environ.get(SSH_CONFIG_ENV)
    if config:
        argv += ['-F', config]
    argv += shlex.split(os.environ.get(SSH_OPTIONS_ENV, ''))
    if target.port is not None:
        argv += ['-p', str(target.port)]
    if target.user is not None:
        argv += ['-l', target.user]
    host = target.host[1:-1] if target.host.startswith('[') else target.host
    return argv + ['--', host, REMOTE_COMMAND]


def explain(target: RemoteTarget, code: Optional[int], stderr: str) -> str:
    """What a failed start of the far end means, in a sentence a user can act on."""
    tail = ' '.join(stderr.strip().splitlines()[-4:])[-600:] or 'no message'
    if 'Host key verification failed' in stderr or 'HOST IDENTIFICATION HAS CHANGED' in stderr:
        return ('ssh refused the host key of %s (%s); check it and update known_hosts'
                % (target.host, tail))
    if 'Permission denied' in stderr or 'Too many authentication failures' in stderr:
        return ('the login failed (%s); psij runs ssh non-interactively (BatchMode): load a '
                'key into ssh-agent, or open a ControlMaster connection first where the site '
                'asks for a password or a one-time code' % tail)
    if 'No module named psij_remote' in stderr or 'No module named' in stderr:
        where = 'in %s' % target.venv if target.venv else 'for python3 on the remote PATH'
        return ('psij-remote is not installed there (%s): install it there with "pip install '
                'psij-remote" and the executors you use, or name a virtual environment that '
                'has it in the URL (ssh://host/~/venv)' % where)
    if code == NO_VENV_PYTHON:
        return ('the virtual environment %s does not exist there (no bin/python in it)'
                % target.venv)
    if code == 127:
        return 'no python3 on the remote PATH (%s): name a virtual environment in the URL' % tail
    if code == 255:
        return 'ssh could not connect (%s)' % tail
    return 'the far end did not start (exit code %s: %s)' % (code, tail)
