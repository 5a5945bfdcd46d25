"""
A cache of discovery results, so that a program that only asks for executor names imports
neither ``importlib.metadata``, nor pluggy, nor the plugin modules when nothing was installed,
removed or edited.

The key is what can be checked cheaply: the interpreter, ``sys.path`` and, for each entry of
it, the modification time of an installation directory (``site-packages``: installing or
removing a distribution changes it) or, for any other directory (the current one, the script's,
a ``PYTHONPATH`` entry: where programs write their own files, whose times say nothing about
plugins), the names and times of what discovery reads there (``*.dist-info``, ``*.egg-info``,
``*.egg-link``, ``*.pth``, ``psij-descriptors``), the legacy ``psij-descriptors`` files, and
``PSIJ_DISABLE_PLUGINS``. The cache also records the
files discovery depended on -- each ``entry_points.txt`` read, and the Python files of every
plugin's package (its module, ``version.py`` and siblings, and its top-level package) -- and
is not used if any of them changed. Only a discovery without any problem is cached, so a
broken plugin is retried (and reported) every time; a plugin whose hooks depend on more (the
environment, the network) sets ``PSIJ_DISCOVERY_CACHEABLE = False`` in its module and is
never cached. Set ``PSIJ_DISCOVERY_CACHE=0`` to turn the cache off.

Files live in ``$XDG_CACHE_HOME/psij`` (default ``~/.cache/psij``), a private directory
(mode 0700). Anything another user could have written is ignored: a directory or file that is
a symbolic link, belongs to someone else or is writable by others is never read, so a shared
``XDG_CACHE_HOME`` cannot map ``slurm`` to another class.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys

from psij.descriptor import Descriptor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    Record = Tuple[str, Descriptor, str]
    """(kind, descriptor, source) as passed to the registry."""

CACHE_ENV = 'PSIJ_DISCOVERY_CACHE'
_FORMAT = 3

def enabled() -> bool:
    """Whether the cache may be used."""
    return os.environ.get(CACHE_ENV, '1') not in ('0', 'no', 'false', '')


def _dir() -> str:
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'psij')


def _stamp(path: str) -> Optional[int]:
    try:
        return os.stat(path or '.').st_mtime_ns
    except OSError:
        return None


_INSTALL_DIRS = ('site-packages', 'dist-packages')
_READ_THERE = ('.dist-info', '.egg-info', '.egg-link', '.pth')
_SCAN_LIMIT = 5000
"""Entries of a directory read for the key at most (a bigger one is keyed by its time)."""


def _entry_stamp(path: str) -> Any:
    """What of one ``sys.path`` entry the key holds (see the module documentation)."""
    d = path or '.'
    if os.path.basename(os.path.normpath(d)) in _INSTALL_DIRS or not os.path.isdir(d):
        return _stamp(path)
    found = []
    try:
        with os.scandir(d) as it:
            for n, e in enumerate(it):
                if n >= _SCAN_LIMIT:
                    return _stamp(path)
                if e.name.endswith(_READ_THERE) or e.name == 'psij-descriptors':
                    found.append([e.name, e.stat(follow_symlinks=False).st_mtime_ns])
    except OSError:
        return None
    return sorted(found)


def make_key(legacy_files: Sequence[str], disabled: Sequence[str]) -> Optional[List[Any]]:
    """The cache key (see the module documentation), or `None` if it cannot be made."""
    legacy = []
    for f in legacy_files:
        stamp = _stamp(f)
        if stamp is None:
            return None
        legacy.append([f, stamp])
    return [_FORMAT, sys.executable, sys.version, list(sys.path),
            [_entry_stamp(p) for p in sys.path], legacy, sorted(disabled)]


def package_files(module_file: str) -> List[str]:
    """The Python files a plugin module's registrations may depend on: those of its own
    directory (e.g. ``version.py``) and of its top-level package's directory."""
    if not os.path.isabs(module_file) and not os.path.isfile(module_file):
        return [module_file]  # no file (e.g. '?'): recorded as is, so the cache misses
    here = os.path.dirname(os.path.abspath(module_file))
    dirs = [here]
    top = here
    while os.path.isfile(os.path.join(os.path.dirname(top), '__init__.py')):
        top = os.path.dirname(top)
    if top != here:
        dirs.append(top)
    out: List[str] = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                out.extend(e.path for e in it if e.name.endswith('.py'))
        except OSError:
            continue
    return sorted(out)


def _private_dir(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & 0o022)


def _read_private_file(path: str) -> Optional[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(os.dup(fd), 'rb') as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _path(key: List[Any]) -> str:
    # marshal is built in (json and zlib would be imported for this alone); the name needs only
    # to differ between keys most of the time: the file holds its key, checked on reading
    number = int.from_bytes(marshal.dumps(key), 'little') % _NAME_MODULUS
    return os.path.join(_dir(), 'discovery-%016x.marshal' % number)


_NAME_MODULUS = (1 << 61) - 1


def _files_unchanged(files: List[List[Any]]) -> bool:
    for path, mtime in files:
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def load(key: Optional[List[Any]]) -> Optional[Tuple[List[Record], List[Tuple[str, str]]]]:
    """The cached registrations and disabled plugins for `key`, or `None` on a miss."""
    if key is None or not enabled() or not _private_dir(_dir()):
        return None
    raw = _read_private_file(_path(key))
    if raw is None:
        return None
    try:
        data = marshal.loads(raw)
        if data.get('key') != key or not _files_unchanged(data['files']):
            return None
        out = []
        for kind, d, source in data['records']:
            desc = Descriptor._cached(str(d['name']), str(d['version']), str(d['cls']),
                                      d['aliases'], str(d['nice_name']), dict(d['unsupported']))
            desc.path = d['path']
            out.append((kind, desc, source))
        return out, [(str(a), str(b)) for a, b in data['disabled']]
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(key: Optional[List[Any]], records: List[Record], module_files: List[str],
         disabled: Sequence[Tuple[str, str]] = ()) -> None:
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
    data: Dict[str, Any] = {'key': key, 'files': files, 'disabled': list(disabled), 'records': [
        [kind, {'name': d.name, 'version': str(d.version), 'cls': d.cls, 'aliases': d.aliases,
                'nice_name': d.nice_name, 'unsupported': d.unsupported, 'path': d.path},
         source] for kind, d, source in records]}
    target = _path(key)
    try:
        from psij._files import ensure_private_dir
        ensure_private_dir(os.path.dirname(target))
        tmp = '%s.%d.tmp' % (target, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(marshal.dumps(data))
        os.replace(tmp, target)
    except OSError:
        pass
