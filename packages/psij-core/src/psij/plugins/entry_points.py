"""
The entry points of installed distributions.

Discovery reads them only on a miss of the discovery cache
(:mod:`psij.plugins.discovery_cache`). Where every distribution Python can see is a metadata
directory (``*.dist-info`` or ``*.egg-info``) in a directory on ``sys.path`` -- what pip,
uv, conda, Debian's packages and editable installs make -- they are read directly: importing
``importlib.metadata`` (with ``email``, ``zipfile``, ``csv``, ``pathlib`` and more) costs
several times what reading the few files does. Anything else (a zip file on ``sys.path``,
such as a pex or zipapp; an ``*.egg`` directory; an import hook that provides distributions
of its own) is read with ``importlib.metadata``, which sees every distribution. Both ways give
the same entry points in the same order: one distribution seen twice (under one normalized
name) counts once, the first on ``sys.path``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Dict, List, NamedTuple, Optional

FULL_METADATA_ENV = 'PSIJ_FULL_METADATA'
"""Set to 1 to always read entry points with ``importlib.metadata``."""


class EntryPoint(NamedTuple):
    """One entry point of a group."""

    name: str
    value: str
    dist: str
    """The name of the distribution that declares it."""
    metadata_file: Optional[str] = None
    """The ``entry_points.txt`` declaring it, when it is a file of its own (not in a zip)."""

    def load(self) -> Any:
        """Imports the module (and attribute, for ``module:attr``) the entry point names."""
        modname, _, attr = self.value.partition(':')
        obj: Any = importlib.import_module(modname.strip())
        for part in filter(None, attr.strip().split('.')):
            obj = getattr(obj, part)
        return obj


def entry_points(group: str) -> List[EntryPoint]:
    """The entry points of `group` of every distribution on ``sys.path``, in path order (one
    distribution seen twice counts once, the first)."""
    if os.environ.get(FULL_METADATA_ENV, '') not in ('', '0'):
        return _with_importlib_metadata(group)
    found = _read_directly(group)
    return _with_importlib_metadata(group) if found is None else found


# -- read directly ------------------------------------------------------------------------------

_META_SUFFIXES = ('.dist-info', '.egg-info')


def _normalize(name: str) -> str:
    """A distribution name as ``importlib.metadata`` compares them."""
    return re.sub(r'[-_.]+', '-', name).lower().replace('-', '_')


def _plain_finders_only() -> bool:
    """Whether ``importlib.metadata`` would look only at ``sys.path``'s directories."""
    from importlib.machinery import PathFinder
    return all(f is PathFinder or not hasattr(f, 'find_distributions') for f in sys.meta_path)


def _read_directly(group: str) -> Optional[List[EntryPoint]]:
    """The entry points of `group`, or `None` if this way cannot see every distribution."""
    if not _plain_finders_only():
        return None
    out: List[EntryPoint] = []
    seen = set()
    for entry in sys.path:
        root = entry or '.'
        if not isinstance(root, str):
            return None
        try:
            names = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip file (or another file a path hook may read)
        except OSError:
            continue  # missing or unreadable: importlib.metadata finds nothing there either
        if root.lower().endswith('.egg'):
            return None
        # importlib.metadata groups a directory's distributions by normalized name, in the
        # order their first metadata directory was listed
        by_name: Dict[str, List[str]] = {}
        for n in names:
            low = n.lower()
            if low.endswith(_META_SUFFIXES):
                by_name.setdefault(_normalize(low.rpartition('.')[0].partition('-')[0]),
                                   []).append(n)
        for normalized, metas in by_name.items():
            for meta in metas:
                if normalized in seen:
                    continue
                seen.add(normalized)
                out.extend(_dist_entry_points(os.path.join(root, meta), group))
    return out


def _dist_entry_points(meta_dir: str, group: str) -> List[EntryPoint]:
    path = os.path.join(meta_dir, 'entry_points.txt')
    text = _read(path)
    if text is None:
        return []
    eps = _parse(text, group)
    if not eps:
        return []
    dist = _dist_name(meta_dir)
    return [EntryPoint(name, value, dist, path) for name, value in eps]


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _parse(text: str, group: str) -> List[tuple[str, str]]:
    """The ``name = value`` pairs of section `group` of an ``entry_points.txt``."""
    section = None
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = line.strip('[]')
            continue
        if section == group:
            name, sep, value = line.partition('=')
            if sep:
                out.append((name.strip(), value.strip()))
    return out


def _dist_name(meta_dir: str) -> str:
    """The ``Name`` of the distribution's core metadata."""
    for fname in ('METADATA', 'PKG-INFO'):
        text = _read(os.path.join(meta_dir, fname))
        if text is None:
            continue
        for line in text.splitlines():
            if not line.strip():
                break  # the end of the headers
            key, sep, value = line.partition(':')
            if sep and key.strip().lower() == 'name':
                return value.strip() or '?'
        return '?'
    return '?'


# -- importlib.metadata -------------------------------------------------------------------------

def _metadata_file(dist: Any) -> Optional[str]:
    path = getattr(dist, '_path', None)  # PathDistribution's metadata directory
    if not isinstance(path, (str, os.PathLike)):
        return None
    f = os.path.join(os.fspath(path), 'entry_points.txt')
    return f if os.path.isfile(f) else None


def _with_importlib_metadata(group: str) -> List[EntryPoint]:
    from importlib import metadata

    out: List[EntryPoint] = []
    for e in metadata.entry_points(group=group):
        dist = getattr(e, 'dist', None)
        name = dist.metadata['Name'] if dist is not None else '?'
        out.append(EntryPoint(e.name, e.value, name or '?', _metadata_file(dist)))
    return out
