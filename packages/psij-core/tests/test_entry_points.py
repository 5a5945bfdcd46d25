"""Reading entry points without importlib.metadata gives exactly what importlib.metadata gives,
and defers to it wherever it alone can see every distribution."""

from __future__ import annotations

import pathlib
import sys
import zipfile
from typing import Any, Dict, List, Optional

import pytest
from psij.plugins import entry_points as E


def _dist(root: pathlib.Path, dirname: str, eps: Optional[str], name: Optional[str],
          meta: str = 'METADATA') -> None:
    d = root / dirname
    d.mkdir(parents=True)
    if name is not None:
        (d / meta).write_text('Metadata-Version: 2.1\nName: %s\nVersion: 1\n\nName: no\n' % name)
    if eps is not None:
        (d / 'entry_points.txt').write_text(eps)


@pytest.fixture
def path_dirs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> List[pathlib.Path]:
    a, b = tmp_path / 'a', tmp_path / 'b'
    _dist(a, 'Foo_Bar-1.0.dist-info', '# c\n[psij]\n  x =  pkg.x  \n\n[other]\ny = z\n',
          'Foo.Bar')
    # the same distribution (normalized name) later on sys.path: shadowed
    _dist(b, 'foo.bar-2.0.dist-info', '[psij]\nshadowed = pkg.old\n', 'foo-bar')
    _dist(b, 'legacy-3.egg-info', '[psij]\nl1 = legacy.plugin:hooks.obj\nl2=legacy.two\n',
          'legacy', meta='PKG-INFO')
    _dist(b, 'nometa-1.dist-info', '[psij]\nn = nometa.p\n', None)
    _dist(b, 'noeps-1.dist-info', None, 'noeps')
    _dist(b, 'other-1.dist-info', '[console_scripts]\nprog = other:main\n', 'other')
    monkeypatch.setattr(sys, 'path', [str(a), str(tmp_path / 'missing'), str(b)])
    return [a, b]


def _plain(eps: List[E.EntryPoint]) -> List[Any]:
    return [(e.name, e.value, e.dist, e.metadata_file and pathlib.Path(e.metadata_file).parent.name)
            for e in eps]


def test_direct_reading_matches_importlib_metadata(path_dirs: List[pathlib.Path]) -> None:
    direct = E._read_directly('psij')
    assert direct is not None
    assert _plain(direct) == [
        ('x', 'pkg.x', 'Foo.Bar', 'Foo_Bar-1.0.dist-info'),
        ('l1', 'legacy.plugin:hooks.obj', 'legacy', 'legacy-3.egg-info'),
        ('l2', 'legacy.two', 'legacy', 'legacy-3.egg-info'),
        ('n', 'nometa.p', '?', 'nometa-1.dist-info'),
    ] or _plain(direct) == [  # a directory's listing order is the file system's
        ('x', 'pkg.x', 'Foo.Bar', 'Foo_Bar-1.0.dist-info'),
        ('n', 'nometa.p', '?', 'nometa-1.dist-info'),
        ('l1', 'legacy.plugin:hooks.obj', 'legacy', 'legacy-3.egg-info'),
        ('l2', 'legacy.two', 'legacy', 'legacy-3.egg-info'),
    ]
    assert direct == E._with_importlib_metadata('psij')
    assert E._read_directly('console_scripts') == E._with_importlib_metadata('console_scripts')
    assert E.entry_points('psij') == direct


def test_a_zip_on_sys_path_is_read_with_importlib_metadata(
        path_dirs: List[pathlib.Path], tmp_path: pathlib.Path) -> None:
    z = tmp_path / 'bundle.zip'
    with zipfile.ZipFile(z, 'w') as f:
        f.writestr('zipped-1.dist-info/METADATA', 'Metadata-Version: 2.1\nName: zipped\n\n')
        f.writestr('zipped-1.dist-info/entry_points.txt', '[psij]\nzz = zipped.plugin\n')
    sys.path.insert(0, str(z))
    assert E._read_directly('psij') is None
    found = E.entry_points('psij')
    assert [(e.name, e.dist) for e in found][0] == ('zz', 'zipped')
    assert 'x' in [e.name for e in found]


class _Finder:
    """An import hook that provides distributions of its own."""

    @staticmethod
    def find_spec(*args: Any) -> None:
        return None

    @staticmethod
    def find_distributions(*args: Any, **kwargs: Any) -> List[Any]:
        return []


def test_an_import_hook_with_distributions_defers_to_importlib_metadata(
        path_dirs: List[pathlib.Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, 'meta_path', sys.meta_path + [_Finder])
    assert E._read_directly('psij') is None
    assert [e.name for e in E.entry_points('psij')][0] == 'x'


def test_full_metadata_setting_forces_importlib_metadata(
        path_dirs: List[pathlib.Path], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Dict[str, int] = {'direct': 0}
    real = E._read_directly

    def counting(group: str) -> Optional[List[E.EntryPoint]]:
        calls['direct'] += 1
        return real(group)

    monkeypatch.setattr(E, '_read_directly', counting)
    monkeypatch.setenv(E.FULL_METADATA_ENV, '1')
    assert [e.name for e in E.entry_points('psij')][0] == 'x'
    assert calls['direct'] == 0
    monkeypatch.delenv(E.FULL_METADATA_ENV)
    E.entry_points('psij')
    assert calls['direct'] == 1
