"""
The entry points of installed distributions, read with the standard library.

``importlib.metadata`` sees every distribution Python can import, whatever installed it: pip's
``*.dist-info``, setuptools' ``*.egg-info``, and distributions inside zip files (pex, zipapps,
eggs). Importing it costs more than the rest of psij's start-up, so discovery asks it only on
a miss of the discovery cache (:mod:`psij.plugins.discovery_cache`), whose key is checked
without it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, List, NamedTuple, Optional

FULL_METADATA_ENV = 'PSIJ_FULL_METADATA'
"""Accepted for compatibility: discovery always reads metadata with ``importlib.metadata``."""


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


def _metadata_file(dist: Any) -> Optional[str]:
    path = getattr(dist, '_path', None)  # PathDistribution's metadata directory
    if not isinstance(path, (str, os.PathLike)):
        return None
    f = os.path.join(os.fspath(path), 'entry_points.txt')
    return f if os.path.isfile(f) else None


def entry_points(group: str) -> List[EntryPoint]:
    """The entry points of `group` of every distribution on ``sys.path``, in path order (one
    distribution seen twice counts once, the first)."""
    from importlib import metadata

    out: List[EntryPoint] = []
    for e in metadata.entry_points(group=group):
        dist = getattr(e, 'dist', None)
        name = dist.metadata['Name'] if dist is not None else '?'
        out.append(EntryPoint(e.name, e.value, name or '?', _metadata_file(dist)))
    return out
