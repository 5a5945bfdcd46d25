"""Builds real throwaway plugin distributions and a virtual environment to install them in."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import sysconfig
import textwrap
from typing import Dict


def write_dist(root: pathlib.Path, name: str, files: Dict[str, str],
               entry_points: Dict[str, str] | None = None, version: str = '1.0') -> pathlib.Path:
    """Writes a hatchling project named `name` holding `files` (paths relative to the project)."""
    d = root / name
    d.mkdir(parents=True)
    eps = ''
    if entry_points:
        eps = '[project.entry-points.psij]\n' + ''.join(
            '%s = "%s"\n' % kv for kv in entry_points.items())
    top = sorted({f.split('/')[0] for f in files})
    (d / 'pyproject.toml').write_text(textwrap.dedent('''\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "%s"
        version = "%s"

        %s
        [tool.hatch.build.targets.wheel]
        include = [%s]
        ''') % (name, version, eps, ', '.join('"%s"' % t for t in top)))
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return d


def build_wheel(project: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Builds the project's wheel with the test environment's hatchling."""
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(out), str(project)], check=True)
    return next(out.glob(project.name.replace('-', '_') + '-*.whl'))


def make_venv(path: pathlib.Path) -> pathlib.Path:
    """A fresh venv that sees this environment's packages (psij-core, pluggy, packaging)."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)], check=True)
    py = path / 'bin' / 'python'
    code = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    site = subprocess.run([str(py), '-c', code], check=True, capture_output=True,
                          text=True).stdout.strip()
    parent = sysconfig.get_paths()['purelib']
    # an `import` line in a .pth file runs at start-up: addsitedir also processes the parent's
    # own .pth files (an editable psij-core install is one)
    pathlib.Path(site, '_psij_test_parent.pth').write_text(
        'import site; site.addsitedir(%r)\n' % parent)
    return py


def install(py: pathlib.Path, *wheels: pathlib.Path) -> None:
    """Installs wheels into the venv of `py` with this environment's pip."""
    subprocess.run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '-q',
                    '--no-deps', *map(str, wheels)], check=True)


def run(py: pathlib.Path, code: str, env: Dict[str, str] | None = None,
        *args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs Python code in the venv."""
    e = dict(os.environ)
    e.pop('PSIJ_DISABLE_PLUGINS', None)
    # a cache of our own, next to the venv, not the user's
    e['XDG_CACHE_HOME'] = str(py.parent.parent / 'cache')
    e.update(env or {})
    return subprocess.run([str(py), '-c', textwrap.dedent(code), *args], capture_output=True,
                          text=True, env=e, timeout=120, cwd=cwd)
