"""Remote URLs: ``ssh://[user@]host[:port][/venv]``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

_HOST_RE = re.compile(r'[A-Za-z0-9_.%:-]+|\[[0-9A-Fa-f:.%A-Za-z]+\]')
_USER_RE = re.compile(r'[A-Za-z0-9_.][A-Za-z0-9_.$-]*')


@dataclass(frozen=True)
class RemoteTarget:
    """Where a remote executor runs: ssh's destination and the far end's Python."""

    host: str
    user: Optional[str] = None
    port: Optional[int] = None
    venv: Optional[str] = None
    """A virtual environment holding psij there (``~/`` is the remote home); `None`: the
    ``python3`` on the remote PATH."""

    @property
    def label(self) -> str:
        """``user@host:port`` as far as given, for messages."""
        s = self.host if self.user is None else '%s@%s' % (self.user, self.host)
        return s if self.port is None else '%s:%d' % (s, self.port)

    def __str__(self) -> str:
        """The URL."""
        s = 'ssh://' + self.label
        return s if self.venv is None else s + '/' + self.venv.lstrip('/') \
            if self.venv.startswith('~') else s + self.venv


def parse(url: str) -> RemoteTarget:
    """
    Reads an ``ssh://`` URL. The path, if any, names a virtual environment on the far end:
    ``ssh://host/~/venvs/psij`` (in the remote home) or ``ssh://host/opt/psij`` (absolute).

    :raises ValueError: for anything else, or a host, user or path that could be read as an
        option of ssh or that holds control characters.
    """
    if not isinstance(url, str):
        raise ValueError('a remote URL is a string, not %r' % (url,))
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError('remote URL %r holds control characters' % url)
    parts = urlsplit(url)
    if parts.scheme.lower() != 'ssh':
        raise ValueError('remote URL %r: the scheme must be ssh://' % url)
    if parts.query or parts.fragment:
        raise ValueError('remote URL %r: no query or fragment is allowed' % url)
    netloc = parts.netloc
    user = None
    if '@' in netloc:
        user, _, netloc = netloc.rpartition('@')
        user = unquote(user)
        if not _USER_RE.fullmatch(user):
            raise ValueError('remote URL %r: %r is not a user name' % (url, user))
    host = netloc
    port: Optional[int] = None
    m = re.fullmatch(r'(.*?)(?::(\d*))?', netloc)
    if m and not netloc.endswith(']') and netloc.count(':') <= 1:
        host = m.group(1)
        if m.group(2):
            port = int(m.group(2))
            if not 0 < port < 65536:
                raise ValueError('remote URL %r: port %d is out of range' % (url, port))
    elif netloc.startswith('[') and ']:' in netloc:
        host, _, ps = netloc.rpartition(':')
        port = int(ps) if ps.isdigit() else None
    if not host or host.startswith('-') or not _HOST_RE.fullmatch(host):
        raise ValueError('remote URL %r: %r is not a host name' % (url, host))
    venv: Optional[str] = unquote(parts.path) if parts.path not in ('', '/') else None
    if venv is not None:
        if venv.startswith('/~'):
            venv = venv[1:]
        venv = venv.rstrip('/') or '/'
        if '\0' in venv or not (venv.startswith('/') or venv == '~' or
                                venv.startswith('~/')):
            raise ValueError('remote URL %r: the path must name a virtual environment, '
                             'absolute (/opt/psij) or in the home directory (/~/venvs/psij)'
                             % url)
    return RemoteTarget(host=host, user=user, port=port, venv=venv)
