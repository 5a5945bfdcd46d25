"""
A cache of discovery results, so that a program that only asks for executor names imports
neither pluggy nor the plugin modules when nothing was installed, removed or edited.

The cache is keyed on everything discovery reads: the interpreter, ``sys.path``, each psij
entry point with the modification time of the metadata declaring it, the legacy
``psij-descriptors`` files with theirs, and ``PSIJ_DISABLE_PLUGINS``. It also records the
source file of every plugin module and is not used if any of them changed. Only a discovery
without any problem is cached, so a broken plugin is retried (and reported) every time. Set
``PSIJ_DISCOVERY_CACHE=0`` to turn it off. Files live in ``$XDG_CACHE_HOME/psij`` (default
``~/.cache/psij``), mode 0700.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

from psij.descriptor import Descriptor

CACHE_ENV = 'PSIJ_DISCOVERY_CACHE'
_FORMAT = 1

Record = Tuple[str, Descriptor, str]
"""(kind, descriptor, source) as passed to the registry."""


def enabled() -> bool:
    """Whether the cache may be used."""
    return os.environ.get(CACHE_ENV, '1') not in ('0', 'no', 'false', '')


def _dir() -> str:
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'psij')


def make_key(entry_points: Sequence[Any], legacy_files: Sequence[str], disabled: Sequence[str],
             ) -> Optional[List[Any]]:
    """The cache key, or `None` if discovery cannot be cached (unknown metadata stamps)."""
    eps = []
    for ep in entry_points:
        if not ep.stamp:
            return None
        eps.append([ep.name, ep.value, ep.dist, ep.stamp])
    legacy = []
    for f in legacy_files:
        try:
            legacy.append([f, os.stat(f).st_mtime_ns])
        except OSError:
            return None
    return [_FORMAT, sys.executable, sys.version, list(sys.path), eps, legacy,
            sorted(disabled)]


def _path(key: List[Any]) -> str:
    text = json.dumps(key)
    return os.path.join(_dir(), 'discovery-%08x.json' % zlib.crc32(text.encode()))


def _files_unchanged(files: List[List[Any]]) -> bool:
    for path, mtime in files:
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def load(key: Optional[List[Any]]) -> Optional[List[Record]]:
    """The cached registrations for `key`, or `None` on a miss."""
    if key is None or not enabled():
        return None
    try:
        with open(_path(key), encoding='utf-8') as f:
            data = json.load(f)
        if data.get('key') != key or not _files_unchanged(data['files']):
            return None
        out = []
        for kind, d, source in data['records']:
            desc = Descriptor(name=d['name'], version=d['version'], cls=d['cls'],
                              aliases=d['aliases'], nice_name=d['nice_name'],
                              unsupported=d['unsupported'])
            desc.path = d['path']
            out.append((kind, desc, source))
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(key: Optional[List[Any]], records: List[Record], module_files: List[str]) -> None:
    """Writes the registrations of a successful discovery; failures to write are ignored."""
    if key is None or not enabled():
        return
    if any(type(desc) is not Descriptor for _, desc, _ in records):
        return  # a Descriptor subclass may carry more than the cache can keep
    files = []
    for path in module_files:
        try:
            files.append([path, os.stat(path).st_mtime_ns])
        except OSError:
            return
    data: Dict[str, Any] = {'key': key, 'files': files, 'records': [
        [kind, {'name': d.name, 'version': str(d.version), 'cls': d.cls, 'aliases': d.aliases,
                'nice_name': d.nice_name, 'unsupported': d.unsupported, 'path': d.path},
         source] for kind, d, source in records]}
    target = _path(key)
    try:
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        tmp = '%s.%d.tmp' % (target, os.getpid())
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(data, f)
        os.replace(tmp, target)
    except OSError:
        pass
