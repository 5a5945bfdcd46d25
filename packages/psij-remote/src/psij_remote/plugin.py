"""psij-remote's registration: the ``ssh`` transport (``url='ssh://...'``)."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_remote.version import VERSION


@hookimpl
def psij_transports() -> List[Descriptor]:
    """``ssh://`` URLs: any executor of another host, over OpenSSH."""
    return [Descriptor(name='ssh', version=VERSION,
                       cls='psij_remote.executor.RemoteJobExecutor')]
