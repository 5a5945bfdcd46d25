"""
The registry of executors and launchers.

Discovery runs once, on first use: entry points of the ``psij`` group are loaded into a
`pluggy.PluginManager`, each plugin's hooks are called on their own (so one broken plugin
cannot hide the others), and psij-python's ``psij-descriptors`` modules are read. Classes are
imported only when first instantiated. Errors are kept with the plugin or entry they belong
to and reported by ``psij plugins`` and by ``get_instance`` for the affected name.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

from psij._log import get_logger
from psij.descriptor import Descriptor
from psij.plugins import discovery_cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Tuple

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from psij.plugins.entry_points import EntryPoint

logger = get_logger(__name__)

ENTRY_POINT_GROUP = 'psij'
DISABLE_ENV = 'PSIJ_DISABLE_PLUGINS'
TRACE_ENV = 'PSIJ_TRACE_PLUGINS'
LEGACY_PACKAGE = 'psij-descriptors'
KINDS = ('executor', 'launcher', 'transport')
_BUILTIN_MODULE = 'psij.plugins.builtin'
_LEGACY_SOURCE = 'psij-descriptors module'


class Entry:
    """One registered (name, version) of an executor or launcher."""

    __slots__ = ('kind', 'desc', 'source', 'cls', 'error', 'conflict')

    def __init__(self, kind: str, desc: Descriptor, source: str) -> None:
        self.kind = kind
        self.desc = desc
        self.source = source
        """Who registered it: a distribution name, a legacy module path, or an API call."""
        self.cls: Optional[type] = None
        self.error: Optional[BaseException] = None
        self.conflict: Optional[str] = None
        """Set when two sources registered the same name and version."""

    @property
    def version(self) -> Version:
        """The descriptor's version."""
        return self.desc.version


class PluginProblem:
    """A plugin that could not be loaded or whose hook failed."""

    __slots__ = ('plugin', 'source', 'error')

    def __init__(self, plugin: str, source: str, error: BaseException) -> None:
        self.plugin = plugin
        self.source = source
        self.error = error


class _State:
    def __init__(self) -> None:
        self.entries: Dict[str, Dict[str, List[Entry]]] = {k: {} for k in KINDS}
        self.problems: List[PluginProblem] = []
        self.disabled: List[Tuple[str, str]] = []
        self.discovered = False
        self.recorded: Optional[List[discovery_cache.Record]] = None
        """Registrations made by discovery, recorded for the cache."""
        self.module_files: List[str] = []
        self.cacheable = True
        """False if a plugin says its registrations depend on more than its files."""


_state = _State()
_lock = threading.RLock()


def _trace(msg: str, *args: object) -> None:
    if os.environ.get(TRACE_ENV):
        import logging

        if not logging.getLogger().handlers:
            logging.basicConfig()
        logger.warning('[psij plugins] ' + msg, *args)


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, '')
    return {n.strip().lower() for n in raw.split(',') if n.strip()}


# -- registration -------------------------------------------------------------------------------

def register(kind: str, desc: Descriptor, source: str, strict: bool = False) -> None:
    """
    Registers a descriptor under its name and aliases.

    A second registration of the same name and version from the same source is ignored; from
    another source it is a conflict: with `strict` a `ValueError` naming both is raised at
    once, otherwise the conflict is recorded and reported when that name is used.
    """
    if not isinstance(desc, Descriptor):
        raise TypeError('Expected a psij.descriptor.Descriptor from %s, got %r' % (source, desc))
    entry = Entry(kind=kind, desc=desc, source=source)
    with _lock:
        if _state.recorded is not None:
            _state.recorded.append((kind, desc, source))
        store = _state.entries[kind]
        for name in [desc.name] + (desc.aliases or []):
            key = name.lower()
            existing = store.setdefault(key, [])
            clash = next((e for e in existing if e.version == desc.version), None)
            if clash is not None:
                if clash.source == source and clash.desc.cls == desc.cls:
                    continue
                msg = ('%s %r version %s is registered twice: by %s (class %s) and by %s '
                       '(class %s); uninstall or disable (%s) one of them'
                       % (kind.capitalize(), name, desc.version, clash.source, clash.desc.cls,
                          source, desc.cls, DISABLE_ENV))
                if strict:
                    raise ValueError(msg)
                clash.conflict = msg
                logger.warning(msg)
                continue
            existing.append(entry)
            if len(existing) > 1:  # comparing versions parses them (see Descriptor._cached)
                existing.sort(key=lambda e: e.version)
    _trace('registered %s %s %s (%s) from %s', kind, desc.name, desc._version_text, desc.cls,
           source)


def _call_hook(plugin_name: str, source: str, impl: Any, kind: str) -> None:
    _trace('calling %s.%s', plugin_name, impl.function.__name__)
    try:
        result = impl.function()
        descs: Iterable[Descriptor] = result if result is not None else ()
        for desc in descs:
            register(kind, desc, source)
    except Exception as ex:
        logger.warning('psij plugin %s (%s) failed in %s: %s', plugin_name, source,
                       impl.function.__name__, ex)
        _state.problems.append(PluginProblem(plugin_name, source, ex))


def _enabled_entry_points(disabled: set[str]) -> List[EntryPoint]:
    from psij.plugins.entry_points import entry_points  # only on a miss of the cache

    out = []
    for ep in entry_points(ENTRY_POINT_GROUP):
        if ep.name.lower() in disabled or ep.dist.lower() in disabled:
            _state.disabled.append((ep.name, ep.dist))
            _trace('plugin %s from %s disabled by %s', ep.name, ep.dist, DISABLE_ENV)
            continue
        out.append(ep)
    return out


def _discover_entry_points(eps: List[EntryPoint], disabled: set[str]) -> None:
    import pluggy

    from psij.plugins import hookspecs

    pm = pluggy.PluginManager('psij')
    pm.add_hookspecs(hookspecs)
    sources: Dict[str, str] = {}
    found_builtin = False
    for ep in eps:
        dist = ep.dist
        if pm.has_plugin(ep.name):
            # the same distribution seen twice on sys.path
            continue
        try:
            _trace('loading plugin %s = %s from %s', ep.name, ep.value, dist)
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            _state.module_files.append(getattr(plugin, '__file__', None) or '?')
            if getattr(plugin, 'PSIJ_DISCOVERY_CACHEABLE', True) is False:
                _state.cacheable = False
        except Exception as ex:
            logger.warning('psij plugin %s (%s) could not be loaded: %s', ep.name, dist, ex)
            _state.problems.append(PluginProblem(ep.name, dist, ex))
            continue
        sources[ep.name] = dist
        if ep.value.strip() == _BUILTIN_MODULE:
            found_builtin = True
    if not found_builtin and 'core' not in disabled:
        # running from a source tree without installed metadata
        import importlib

        builtin = importlib.import_module(_BUILTIN_MODULE)
        pm.register(builtin, name='core')
        _state.module_files.append(builtin.__file__ or '?')
        sources['core'] = 'psij-core'
    for kind, hook in (('executor', pm.hook.psij_executors),
                       ('launcher', pm.hook.psij_launchers),
                       ('transport', pm.hook.psij_transports)):
        for impl in hook.get_hookimpls():
            _call_hook(impl.plugin_name, sources.get(impl.plugin_name, impl.plugin_name),
                       impl, kind)


def _legacy_files(disabled: set[str]) -> List[str]:
    seen = set()
    out = []
    for path in sys.path:
        d = os.path.join(os.path.realpath(path or '.'), LEGACY_PACKAGE)
        if d in seen or not os.path.isdir(d):
            continue
        seen.add(d)
        for fname in sorted(os.listdir(d)):
            if not fname.endswith('.py') or fname.startswith('_'):
                continue
            full = os.path.join(d, fname)
            if fname[:-3].lower() in disabled:
                _state.disabled.append((fname[:-3], full))
                continue
            out.append(full)
    return out


def _discover_legacy(files: List[str]) -> None:
    for full in files:
        modname = os.path.basename(full)[:-3]
        try:
            mod = _load_file(modname, full)
        except Exception as ex:
            logger.warning('psij-descriptors module %s could not be loaded: %s', full, ex)
            _state.problems.append(PluginProblem(modname, full, ex))
            continue
        for kind in KINDS:
            for desc in getattr(mod, '__PSI_J_%sS__' % kind.upper(), None) or ():
                if not isinstance(desc, Descriptor):
                    err = TypeError('%s lists %r; only Descriptor instances are supported'
                                    % (full, desc))
                    _state.problems.append(PluginProblem(modname, full, err))
                    continue
                desc.path = full
                register(kind, desc, '%s %s' % (_LEGACY_SOURCE, full))


def _load_file(modname: str, path: str) -> ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location('psij_descriptors_%s' % modname, path)
    if spec is None or spec.loader is None:
        raise ImportError('cannot load %s' % path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def discover() -> None:
    """Runs discovery once; later calls return at once."""
    if _state.discovered:
        return
    with _lock:
        if _state.discovered:
            return
        disabled = _disabled_names()
        legacy = _legacy_files(disabled)
        key = discovery_cache.make_key(legacy, sorted(disabled))
        cached = discovery_cache.load(key)
        if cached is not None:
            _trace('using the discovery cache')
            records, disabled_eps = cached
            _state.disabled.extend(disabled_eps)
            for kind, desc, source in records:
                register(kind, desc, source)
        else:
            _state.recorded = []
            disabled_before = len(_state.disabled)
            eps = _enabled_entry_points(disabled)
            disabled_eps = _state.disabled[disabled_before:]
            _discover_entry_points(eps, disabled)
            _discover_legacy(legacy)
            if not _state.problems and _state.cacheable:
                files = [f for m in _state.module_files for f in discovery_cache.package_files(m)]
                files += [ep.metadata_file for ep in eps if ep.metadata_file]
                discovery_cache.save(key, _state.recorded, files + legacy,
                                     [d for d in disabled_eps])
            _state.recorded = None
        _state.discovered = True


def reset() -> None:
    """Forgets everything registered so that the next use discovers again (for tests)."""
    global _state
    with _lock:
        _state = _State()


# -- lookup -------------------------------------------------------------------------------------

def names(kind: str) -> set[str]:
    """The registered names and aliases of one kind."""
    discover()
    return set(_state.entries[kind])


def entries(kind: str) -> Dict[str, List[Entry]]:
    """All entries of one kind, by name (aliases included)."""
    discover()
    return _state.entries[kind]


def problems() -> List[PluginProblem]:
    """Plugins that failed to load or whose hooks failed."""
    discover()
    return list(_state.problems)


def disabled() -> List[Tuple[str, str]]:
    """(plugin, source) pairs skipped because of ``PSIJ_DISABLE_PLUGINS``."""
    discover()
    return list(_state.disabled)


def _parse_constraint(constraint: str) -> SpecifierSet:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    text = constraint.strip()
    if text.startswith('(') and text.endswith(')'):
        text = text[1:-1]
    try:
        return SpecifierSet(text.replace(' ', ''))
    except InvalidSpecifier as ex:
        raise ValueError('Invalid version constraint %r: %s (use e.g. ">=1.0, <2")'
                         % (constraint, ex)) from None


def _unknown_name_message(kind: str, name: str) -> str:
    avail = sorted(_state.entries[kind])
    msg = 'No %s named %r. Available: %s.' % (kind, name, ', '.join(avail) or 'none')
    if _state.problems:
        msg += ' Plugins that failed to load: %s.' % '; '.join(
            '%s (%s): %s' % (p.plugin, p.source, p.error) for p in _state.problems)
    if _state.disabled:
        msg += ' Disabled by %s: %s.' % (DISABLE_ENV,
                                         ', '.join(p for p, _ in _state.disabled))
    return msg


def select(kind: str, name: str, version_constraint: Optional[str] = None) -> Entry:
    """
    Picks the highest version of `name` that satisfies `version_constraint`.

    :raises ValueError: for an unknown name, no matching version or a name/version conflict.
    """
    discover()
    found = _state.entries[kind].get(name.lower())
    if not found:
        raise ValueError(_unknown_name_message(kind, name))
    candidates = found
    if version_constraint:
        spec = _parse_constraint(version_constraint)
        candidates = [e for e in found if spec.contains(e.version, prereleases=True)]
        if not candidates:
            raise ValueError('No version of %s %r satisfies %r; registered versions: %s'
                             % (kind, name, version_constraint,
                                ', '.join(str(e.version) for e in found)))
    chosen = candidates[-1]
    if chosen.conflict:
        raise ValueError(chosen.conflict)
    return chosen


def load_class(entry: Entry, base: type) -> type:
    """
    Imports the class an entry names (once) and checks that it subclasses `base`. The class
    of a ``psij-descriptors`` module must come from the same installation (``sys.path``
    entry) as that module, as psij-python requires, so that two installed copies never mix.

    :raises ValueError: ``Unable to load executor NAME`` (psij-python's words) with the reason
        and the entry's source, the import error as the cause; also for a class whose
        ``check_class()`` refuses it (e.g. a batch executor missing a hook).
    """
    if entry.cls is not None:
        return entry.cls
    if entry.error is None:
        modname, _, clsname = entry.desc.cls.rpartition('.')
        _trace('importing %s for %s %s', entry.desc.cls, entry.kind, entry.desc.name)
        try:
            import importlib

            mod = importlib.import_module(modname)
            _check_same_installation(entry, mod)
            cls = getattr(mod, clsname)
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError('%s is not a subclass of %s.%s'
                                % (entry.desc.cls, base.__module__, base.__name__))
            # an incomplete class (a missing hook) is a broken plugin, refused once with the
            # same message everywhere (psij plugins, get_instance, the kit)
            check = getattr(cls, 'check_class', None)
            if check is not None:
                check()
            entry.cls = cls
            return cls
        except Exception as ex:
            entry.error = ex
    raise ValueError('Unable to load %s %s: %s: %s (version %s, registered by %s)'
                     % (entry.kind, entry.desc.name, type(entry.error).__name__, entry.error,
                        entry.version, entry.source)) from entry.error


def _check_same_installation(entry: Entry, mod: ModuleType) -> None:
    """
    Refuses a legacy entry whose class module resolves outside the ``sys.path`` entry holding
    its ``psij-descriptors`` module.

    :raises ImportError: naming both places.
    """
    path = entry.desc.path
    if not path or not entry.source.startswith(_LEGACY_SOURCE):
        return
    root = os.path.realpath(os.path.dirname(os.path.dirname(path)))
    found = getattr(mod, '__file__', None)
    if found is None:
        return  # a namespace package: nothing to compare
    real = os.path.realpath(found)
    if not real.startswith(root + os.sep):
        raise ImportError(
            '%s resolves to %s, outside %s, the installation of the psij-descriptors module '
            '%s that names it: two installed copies must not mix (uninstall one, or disable '
            'the descriptor with %s)' % (mod.__name__, real, root, path, DISABLE_ENV))
