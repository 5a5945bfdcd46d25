"""Descriptors: how executors and launchers are registered without importing them."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
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
        from packaging.version import Version

        self.name = name
        self._version: Optional[Version] = (version if isinstance(version, Version)
                                            else Version(version))
        self._version_text = str(self._version)
        self.cls = cls
        self.aliases = list(aliases) if aliases else None
        self.nice_name = nice_name if nice_name is not None else name
        self.unsupported: Dict[str, str] = dict(unsupported) if unsupported else {}
        self.path: Optional[str] = None

    @classmethod
    def _cached(cls, name: str, version: str, cls_name: str, aliases: Optional[List[str]],
                nice_name: str, unsupported: Dict[str, str]) -> Descriptor:
        """A descriptor as the discovery cache recorded it: checked when it was made, so its
        version is parsed only when asked for (``packaging`` is not imported otherwise)."""
        d = cls.__new__(cls)
        d.name = name
        d._version = None
        d._version_text = version
        d.cls = cls_name
        d.aliases = aliases
        d.nice_name = nice_name
        d.unsupported = unsupported
        d.path = None
        return d

    @property
    def version(self) -> Version:
        """The version."""
        v = self._version
        if v is None:
            from packaging.version import Version
            v = self._version = Version(self._version_text)
        return v

    @version.setter
    def version(self, value: Union[Version, str]) -> None:
        from packaging.version import Version
        self._version = value if isinstance(value, Version) else Version(value)
        self._version_text = str(self._version)

    def __repr__(self) -> str:
        """Name, version and class."""
        return 'Descriptor(name=%r, version=%s, cls=%r)' % (self.name, self.version, self.cls)
