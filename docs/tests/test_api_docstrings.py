"""The API reference covers the public API, and every public item in it has a docstring."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
from typing import Any, Dict, List, Tuple

import psij
import pytest

API = pathlib.Path(__file__).resolve().parents[1] / 'api'
_DIRECTIVE = re.compile(r'^\.\. auto(class|exception|function|data|module):: (\S+)', re.M)
_CURRENT = re.compile(r'^\.\. currentmodule:: (\S+)', re.M)
_INHERITED = re.compile(r'^   :inherited-members: (\S+)')
# dotted name of a class -> the base whose members (and its bases') autodoc leaves out
_INHERITED_UP_TO: Dict[str, str] = {}


def _documented() -> List[Tuple[str, str]]:
    """(kind, dotted name) of every auto* directive of the API pages."""
    out = []
    for page in sorted(API.glob('*.rst')):
        text = page.read_text()
        for line in text.splitlines():
            m = _CURRENT.match(line)
            if m:
                current = m.group(1)
            m = _DIRECTIVE.match(line)
            if m:
                kind, name = m.groups()
                if '.' not in name or (kind != 'module' and not name.startswith('psij')):
                    name = '%s.%s' % (current, name)
                out.append((kind, name))
            m = _INHERITED.match(line)
            if m and out:
                _INHERITED_UP_TO[out[-1][1]] = m.group(1)
        current = ''
    return out


def _resolve(name: str) -> Any:
    parts = name.split('.')
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module('.'.join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def _members(cls: type, up_to: str = '') -> List[Tuple[str, Any]]:
    """The public methods and properties a class defines itself (what autodoc shows), and
    with ``:inherited-members: up_to`` (base names, separated by commas) those of its bases
    before the first base named there."""
    classes = [cls]
    if up_to:
        stops = set(up_to.split(','))
        names = [c.__name__ for c in cls.__mro__]
        assert stops & set(names), '%s has none of the bases %s' % (cls, up_to)
        classes = list(cls.__mro__[:min(names.index(n) for n in stops if n in names)])
    out = []
    for name, value in [item for c in classes for item in vars(c).items()]:
        if name.startswith('_'):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            out.append((name, value))
    return out


DOCUMENTED = _documented()


def test_the_reference_holds_the_public_api() -> None:
    """Every name `import psij` exports is in the reference (a new one must be added)."""
    names = {n for _, n in DOCUMENTED}
    missing = [n for n in psij.__all__ if n != '__version__' and 'psij.' + n not in names]
    assert not missing, 'not in docs/api/*.rst: %s' % ', '.join(missing)
    assert len(DOCUMENTED) > 40  # the parser found the directives


@pytest.mark.parametrize('kind,name', DOCUMENTED, ids=[n for _, n in DOCUMENTED])
def test_docstring(kind: str, name: str) -> None:
    """The item, and each public method and property of a class, has a docstring."""
    if kind == 'data':
        return  # data items carry the docstring in the source after them, read by autodoc
    obj = _resolve(name)
    assert (obj.__doc__ or '').strip(), '%s has no docstring' % name
    if inspect.isclass(obj) and kind != 'module':
        bare = [m for m, v in _members(obj, _INHERITED_UP_TO.get(name, ''))
                if not (v.__doc__ or '').strip()]
        assert not bare, '%s: no docstring on %s' % (name, ', '.join(bare))


def test_a_missing_docstring_is_seen() -> None:
    """The member scan finds an undocumented public method and property, not private ones."""
    class Sample:
        """Documented."""

        def bare(self) -> None:
            pass

        @property
        def bare_property(self) -> int:
            return 1

        def _private(self) -> None:
            pass

    bare = [m for m, v in _members(Sample) if not (v.__doc__ or '').strip()]
    assert bare == ['bare', 'bare_property']

    class Child(Sample):
        """Documented, with the members of its base (``:inherited-members: object``)."""

    assert _members(Child) == []
    bare = [m for m, v in _members(Child, 'object') if not (v.__doc__ or '').strip()]
    assert bare == ['bare', 'bare_property']
