"""Descriptors: how executors and launchers are registered without importing them."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Union

from packaging.version import Version


class Descriptor:
    """
    Names an executor or launcher class without importing it.

    The class named by `cls` is imported only when that executor or launcher is instantiated.
    Plugins return descriptors from the ``psij_executors`` / ``psij_launchers`` hooks (see
    :mod:`psij.plugins`); psij-python's ``__PSI_J_EXECUTORS__`` lists in a module of the
    ``psij-descriptors`` namespace package are read too.
    """

    def __init__(self, name: str, version: Union[Version, str], cls: str,
                 aliases: Optional[List[str]] = None, nice_name: Optional[str] = None,
                 unsupported: Optional[Mapping[str, str]] = None) -> None:
        """
        :param name: the name users pass to ``get_instance`` (case-insensitive).
        :param version: the version; several versions of one name may be registered.
        :param cls: the fully qualified class name, e.g. ``'my_pkg.executor.MyExecutor'``.
        :param aliases: other names the class is available under.
        :param nice_name: a human-friendly name for displays; defaults to `name`.
        :param unsupported: capabilities of the PSI/J contract this executor cannot provide,
            mapped to the reason (e.g. ``{'multi_node': 'runs on one machine'}``); the
            conformance kit skips the matching checks with that reason.
        """
        if not isinstance(name, str) or not name:
            raise ValueError('Descriptor name must be a non-empty string, not %r' % (name,))
        if not isinstance(cls, str) or '.' not in cls:
            raise ValueError('Descriptor %r: cls must be a fully qualified class name '
                             '("package.module.Class"), not %r' % (name, cls))
        self.name = name
        self.version = version if isinstance(version, Version) else Version(version)
        self.cls = cls
        self.aliases = list(aliases) if aliases else None
        self.nice_name = nice_name if nice_name is not None else name
        self.unsupported: Dict[str, str] = dict(unsupported) if unsupported else {}
        self.path: Optional[str] = None

    def __repr__(self) -> str:
        """Name, version and class."""
        return 'Descriptor(name=%r, version=%s, cls=%r)' % (self.name, self.version, self.cls)
