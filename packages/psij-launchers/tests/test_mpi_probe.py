"""The MPI probe on a machine whose MPI is only partly installed: a fake ``mpicc.openmpi`` that
fails the way the real one does without ``mpi.h`` makes the MPI tests skip, saying why and
what to install, instead of erroring; ``PSIJ_REQUIRE_MPI=1`` (CI) makes the skip a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compile_c, compile_problem, write_script

HERE = Path(__file__).resolve().parent
BROKEN_MPICC = '''#!/bin/sh
for a do last=$a; done
echo "$last:1:10: fatal error: mpi.h: No such file or directory" >&2
echo "compilation terminated." >&2
exit 1
'''


@pytest.fixture
def broken_mpicc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / 'bin'
    d.mkdir()
    write_script(d / 'mpicc.openmpi', BROKEN_MPICC)
    monkeypatch.setenv('PATH', '%s:%s' % (d, os.environ['PATH']))
    return d


def test_probe_reports_missing_header(broken_mpicc: Path, tmp_path: Path) -> None:
    problem = compile_problem('mpicc.openmpi', tmp_path / 'probe', '-DWITH_MPI')
    assert problem is not None
    assert problem.startswith('mpicc.openmpi cannot compile rank_report.c (exit 1)'), problem
    assert 'mpi.h: No such file or directory' in problem
    assert 'libopenmpi-dev' in problem


def test_probe_skips_instead_of_erroring(broken_mpicc: Path, tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as ei:
        compile_c('mpicc.openmpi', tmp_path / 'probe', '-DWITH_MPI')
    assert 'mpi.h' in str(ei.value)


def test_probe_passes_with_a_working_compiler(tmp_path: Path) -> None:
    cc = os.environ.get('CC', 'cc')
    problem = compile_problem(cc, tmp_path / 'probe')
    if problem is not None and 'is not installed' in problem:
        pytest.skip(problem)  # PSIJ_REQUIRE_MPI=1 turns this into a failure
    assert problem is None
    assert (tmp_path / 'probe').exists()


_SKIPPING_TEST = '''
from pathlib import Path
from conftest import compile_c

def test_needs_mpi(tmp_path: Path) -> None:
    compile_c('mpicc.openmpi', tmp_path / 'probe', '-DWITH_MPI')
'''


@pytest.mark.parametrize('require, outcome', [('0', 'skipped'), ('1', 'failed')])
def test_require_mpi_turns_the_skip_into_a_failure(broken_mpicc: Path, tmp_path: Path,
                                                   require: str, outcome: str) -> None:
    # a test file beside this conftest.py, run by a child pytest that sees the fake mpicc
    probe = HERE / ('test_probe_child_%d.py' % os.getpid())
    probe.write_text(_SKIPPING_TEST)
    try:
        env = dict(os.environ, PSIJ_REQUIRE_MPI=require)
        p = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider',
                            str(probe), '--basetemp', str(tmp_path / 'child')],
                           cwd=HERE, env=env, capture_output=True, text=True)
    finally:
        probe.unlink()
    out = p.stdout + p.stderr
    assert ('1 %s' % outcome) in out, out
    assert 'mpi.h' in out, out
