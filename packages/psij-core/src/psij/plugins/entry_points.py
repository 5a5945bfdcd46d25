"""
A lean reader of installed entry points, for fast start-up.

``importlib.metadata`` costs more to import (it pulls in ``email``, ``zipfile``, ``csv``...)
than everything else psij needs to start, so discovery reads the ``entry_points.txt`` files
of the distributions installed in the directories of ``sys.path`` itself. It sees exactly the
distributions pip installs (``*.dist-info``, including editable installs) and setuptools'
``*.egg-info``. Distributions inside zip files are not seen; set ``PSIJ_FULL_METADATA=1`` to
use ``importlib.metadata`` instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Iterator, List, NamedTuple

FULL_METADATA_ENV = 'PSIJ_FULL_METADATA'


class EntryPoint(NamedTuple):
    """One entry point of a group."""

    name: str
    value: str
    dist: str
    """The name of the distribution that declares it."""
    stamp: int = 0
    """Modification time (ns) of the metadata that declares it; 0 if unknown."""

    def load(self) -> Any:
        """Imports the module (and attribute, for ``module:attr``) the entry point names."""
        modname, _, attr = self.value.partition(':')
        obj: Any = importlib.import_module(modname.strip())
        for part in filter(None, attr.strip().split('.')):
            obj = getattr(obj, part)
        return obj


def _section(text: str, group: str) -> Iterator[tuple[str, str]]:
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line[0] == '[':
            inside = line == '[%s]' % group
            continue
        if inside and '=' in line:
            k, _, v = line.partition('=')
            yield k.strip(), v.strip()


def _dist_name(meta_dir: str, fallback: str) -> str:
    for fname in ('METADATA', 'PKG-INFO'):
        try:
            with open(os.path.join(meta_dir, fname), encoding='utf-8') as f:
                for _ in range(20):
                    line = f.readline()
                    if line.startswith('Name:'):
                        return line[5:].strip()
                    if not line:
                        break
        except OSError:
            continue
    return fallback


def entry_points(group: str) -> List[EntryPoint]:
    """The entry points of `group` of every distribution on ``sys.path``, in path order."""
    if os.environ.get(FULL_METADATA_ENV):
        from importlib import metadata
        return [EntryPoint(e.name, e.value, e.dist.name if e.dist else '?', 0)
                for e in metadata.entry_points(group=group)]
    out: List[EntryPoint] = []
    seen_dirs = set()
    for path in sys.path:
        d = os.path.realpath(path or '.')
        if d in seen_dirs:
            continue
        seen_dirs.add(d)
        try:
            it = os.scandir(d)
        except OSError:
            continue  # a zip file or a missing directory
        with it:
            metas = sorted(e.name for e in it
                           if e.name.endswith(('.dist-info', '.egg-info')))
        for m in metas:
            meta_dir = os.path.join(d, m)
            try:
                with open(os.path.join(meta_dir, 'entry_points.txt'), encoding='utf-8') as f:
                    text = f.read()
                    stamp = os.fstat(f.fileno()).st_mtime_ns
            except OSError:
                continue
            if '[%s]' % group not in text:
                continue
            dist = _dist_name(meta_dir, m.split('-')[0])
            out.extend(EntryPoint(k, v, dist, stamp) for k, v in _section(text, group))
    return out
