"""Registration: every launcher is found by name, lazily, through the ``psij`` entry point."""

from __future__ import annotations

import subprocess
import sys

import psij_launchers
import pytest
from psij import Launcher
from psij_launchers.aprun import AprunLauncher
from psij_launchers.ibrun import IbrunLauncher
from psij_launchers.jsrun import JsrunLauncher
from psij_launchers.mpirun import MpirunLauncher
from psij_launchers.multiple import MultipleLauncher
from psij_launchers.srun import SrunLauncher

EXPECTED = {'multiple': MultipleLauncher, 'mpirun': MpirunLauncher, 'srun': SrunLauncher,
            'jsrun': JsrunLauncher, 'jrun': JsrunLauncher, 'aprun': AprunLauncher,
            'ibrun': IbrunLauncher}


def test_names_registered() -> None:
    assert set(EXPECTED) <= Launcher.get_launcher_names()


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_get_instance(name: str) -> None:
    launcher = Launcher.get_instance(name)
    assert type(launcher) is EXPECTED[name]
    # jrun is an alias: the launcher keeps its real name
    assert launcher.name == ('jsrun' if name == 'jrun' else name)
    assert str(launcher.version) == psij_launchers.VERSION


def test_discovery_imports_no_launcher_module() -> None:
    # discovery may import the plugin module (or nothing, when psij-core's discovery cache
    # answers), never a launcher's class module; instantiating one imports only that one
    code = ('import sys, psij\n'
            'names = psij.Launcher.get_launcher_names()\n'
            'assert "mpirun" in names, names\n'
            'allowed = {"psij_launchers", "psij_launchers.plugin", "psij_launchers.version"}\n'
            'loaded = {m for m in sys.modules if m.startswith("psij_launchers")}\n'
            'assert loaded <= allowed, loaded\n'
            'psij.Launcher.get_instance("srun")\n'
            'assert "psij_launchers.srun" in sys.modules\n'
            'assert "psij_launchers.mpirun" not in sys.modules\n')
    subprocess.run([sys.executable, '-c', code], check=True)
