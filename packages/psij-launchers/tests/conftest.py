"""
Shared test machinery: the rank-reporting program, and running a job the way an executor does.

Jobs are run in two ways (the `run_job` fixture is parametrized over both):

- ``contract``: a few lines of ``sh`` that do what the executor contract says the executor's
  launch wrapper does (source ``pre_launch`` once, run ``get_launch_command(job)`` as argv, source
  ``post_launch`` once, exit with the launch command's code), with ``PSIJ_NODEFILE`` written
  and exported. It keeps the launchers testable on their own.
- ``local``: end to end through ``psij.JobExecutor.get_instance('local')``; skipped, saying so,
  while psij-core has no local executor.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import pytest
from psij import Job, JobExecutor, JobSpec, Launcher, ResourceSpecV1

HERE = Path(__file__).parent
RANK_REPORT_C = HERE / 'rank_report.c'

# A pre-launch script must reach all ranks through the launcher and an argument must arrive
# byte-exact: these strings have everything a shell or a launcher script could damage.
NASTY_ARGS = ['plain', 'two  spaces', '', ' lead and trail ', "it's", '"dq"', '$HOME', '${X}',
              '`id`', '$(id)', 'back\\slash', 'tab\there', 'new\nline', '*', '?', '-n', '--',
              ';', '|', '&', '<>', '#hash', '~', 'ümlaut €', '\x02\x7f']
NASTY_ENV = 'value with  spaces $HOME `id` $(id) "q" \'s\' \\ \n *'

_CONTRACT_WRAPPER = (
    'pre=$1 post=$2; shift 2\n'
    'if [ -n "$pre" ]; then . "$pre"; fi\n'
    '"$@"\n'
    'ec=$?\n'
    'if [ -n "$post" ]; then . "$post"; fi\n'
    'exit $ec\n')


@dataclass
class Result:
    """What a finished job left behind."""

    exit_code: Optional[int]
    stdout: bytes
    stderr: bytes

    def lines(self) -> List[str]:
        """The job's stdout, decoded, one entry per line."""
        return self.stdout.decode('utf-8', 'replace').splitlines()

    def ranks(self) -> List[Dict[str, str]]:
        """The ``rank=...`` lines of the rank-reporting program, parsed into dicts."""
        out = []
        for line in self.lines():
            if line.startswith('rank='):
                out.append(dict(field.split('=', 1) for field in line.split(' ')))
        return out


RunJob = Callable[[JobSpec], Result]


def unhex(text: str) -> str:
    """Decodes a field written by the rank-reporting program."""
    return bytes.fromhex(text).decode('utf-8')


def unhex_argv(text: str) -> List[str]:
    """Decodes the ``argv=`` field: the arguments joined by ``\\x01``."""
    return unhex(text).split('\x01')


def _nodefile(spec: JobSpec, directory: Path) -> Path:
    res = spec.resources
    count = res.computed_process_count if isinstance(res, ResourceSpecV1) else 1
    path = directory / 'psij nodefile'
    path.write_text((socket.gethostname() + '\n') * count)
    return path


def run_contract(spec: JobSpec, tmp: Path, prefix: Sequence[str] = ()) -> Result:
    """
    Runs `spec` the way the executor contract describes, without an executor.

    :param prefix: an argv that runs the wrapper, e.g. ``salloc ...`` to run it in a Slurm
        allocation, as the wrapper of a Slurm job would.
    """
    job = Job(spec)
    launcher = Launcher.get_instance(spec.launcher or 'single')
    argv = launcher.get_launch_command(job)
    env = dict(os.environ) if spec.inherit_environment else {}
    env.update(spec.environment or {})
    env['PSIJ_NODEFILE'] = str(_nodefile(spec, tmp))
    stdout = spec.stdout_path or tmp / 'contract.out'
    stderr = spec.stderr_path or tmp / 'contract.err'
    stdin = spec.stdin_path or '/dev/null'
    with open(stdin, 'rb') as i, open(stdout, 'wb') as o, open(stderr, 'wb') as e:
        proc = subprocess.run(
            list(prefix) + ['/bin/sh', '-c', _CONTRACT_WRAPPER, 'psij-contract',
                            str(spec.pre_launch or ''), str(spec.post_launch or '')] + argv,
            stdin=i, stdout=o, stderr=e, env=env, cwd=spec.directory, check=False,
            timeout=900)  # a guard against a hung job, not a measurement
    return Result(proc.returncode, Path(stdout).read_bytes(), Path(stderr).read_bytes())


def run_local(spec: JobSpec, tmp: Path) -> Result:
    """Runs `spec` through the local executor."""
    if spec.stdout_path is None:
        spec.stdout_path = tmp / 'local.out'
    if spec.stderr_path is None:
        spec.stderr_path = tmp / 'local.err'
    executor = JobExecutor.get_instance('local')
    job = Job(spec)
    executor.submit(job)
    status = job.wait(timeout=timedelta(minutes=5))
    assert status is not None and status.final, 'the job did not end within 5 minutes'
    return Result(status.exit_code, spec.stdout_path.read_bytes(),
                  spec.stderr_path.read_bytes())


@pytest.fixture(params=['contract', 'local'])
def run_job(request: pytest.FixtureRequest, tmp_path: Path) -> RunJob:
    """Runs a job to its end and returns its exit code and output (see the module docstring)."""
    if request.param == 'local':
        return lambda spec: run_local(spec, tmp_path)
    return lambda spec: run_contract(spec, tmp_path)


@pytest.fixture
def spaced_dir(tmp_path: Path) -> Path:
    """A directory whose path has spaces and a quote in it."""
    d = tmp_path / "dir with spaces 'and' quotes"
    d.mkdir()
    return d


def compile_problem(compiler: str, out: Path, *flags: str) -> Optional[str]:
    """
    Compiles the rank-reporting program (the MPI probe with ``-DWITH_MPI``); returns why it
    could not, or `None`. A partly installed MPI is common: ``mpicc.openmpi`` present without
    ``mpi.h`` (Debian's ``openmpi-bin`` without ``libopenmpi-dev``).
    """
    if shutil.which(compiler) is None:
        return '%s is not installed' % compiler
    try:
        p = subprocess.run([compiler, '-o', str(out), *flags, str(RANK_REPORT_C)],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return '%s cannot compile %s: %s' % (compiler, RANK_REPORT_C.name, ex)
    if p.returncode == 0:
        return None
    tail = ' '.join((p.stderr or p.stdout).strip().splitlines()[-3:])
    hint = ''
    if 'mpi.h' in tail:
        hint = ('; its MPI is only partly installed (no mpi.h): install its development '
                'files, e.g. apt-get install libopenmpi-dev or libmpich-dev')
    return '%s cannot compile %s (exit %d): %s%s' % (compiler, RANK_REPORT_C.name, p.returncode,
                                                    tail[-500:], hint)


def compile_c(compiler: str, out: Path, *flags: str) -> Path:
    """Compiles the rank-reporting program; skips the test, saying why, if the compiler is
    missing or cannot compile it (``PSIJ_REQUIRE_MPI=1`` makes that a failure)."""
    problem = compile_problem(compiler, out, *flags)
    if problem is not None:
        pytest.skip(problem)
    return out


@pytest.fixture(scope='session')
def rank_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rank-reporting program without MPI, in a directory with a space in its name."""
    d = tmp_path_factory.mktemp('bin') / 'rank report'
    d.mkdir()
    return compile_c(os.environ.get('CC', 'cc'), d / 'rank report')


def write_script(path: Path, text: str) -> Path:
    """Writes an executable script."""
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def python() -> str:
    """The Python running the tests (for fake launcher executables)."""
    return sys.executable


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """
    Removes variables a surrounding launcher (e.g. CI under srun) or the CI job (site mpirun
    options) could have set, so that the tests see only what they set.
    """
    for name in ('PSIJ_MPIRUN_OPTIONS', 'PSIJ_RANK', 'PSIJ_SIZE', 'SLURM_PROCID',
                 'SLURM_NTASKS', 'PMI_RANK', 'PMI_SIZE', 'PSIJ_TEST_ENV', 'PSIJ_TEST_PRE',
                 'PSIJ_TEST_FAIL_RANK', 'PSIJ_TEST_FAIL_CODE'):
        monkeypatch.delenv(name, raising=False)
    yield


def slurm_nodes() -> int:
    """The number of nodes of the Slurm cluster here; 0 if there is none."""
    if shutil.which('sinfo') is None or shutil.which('salloc') is None:
        return 0
    try:
        out = subprocess.run(['sinfo', '-h', '-N', '-o', '%N'], capture_output=True,
                             text=True, timeout=60, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return 0
    return len(set(out.split()))


def salloc_for(res: ResourceSpecV1) -> List[str]:
    """The allocation a Slurm executor would make for `res`."""
    argv = ['salloc', '--ntasks=%d' % res.computed_process_count]
    if res.node_count is not None or res.processes_per_node is not None:
        argv += ['--nodes=%d' % res.computed_node_count,
                 '--ntasks-per-node=%d' % res.computed_processes_per_node]
    if res.cpu_cores_per_process is not None:
        argv.append('--cpus-per-task=%d' % res.cpu_cores_per_process)
    return argv + ['--']


# In CI the Slurm and MPI tests must run: a skip caused by a missing Slurm cluster, MPI,
# compiler or shellcheck becomes a failure when the matching variable is set.
_REQUIRED = {
    'PSIJ_REQUIRE_SLURM': ('slurm',),
    'PSIJ_REQUIRE_MPI': ('mpi', 'gcc', 'cc is not installed', 'cannot compile', 'shellcheck'),
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped:
        return
    reason = str(rep.longrepr[-1] if isinstance(rep.longrepr, tuple) else rep.longrepr)
    for var, words in _REQUIRED.items():
        if os.environ.get(var) == '1' and any(w in reason.lower() for w in words):
            rep.outcome = 'failed'
            rep.longrepr = '%s=1, but the test was skipped: %s' % (var, reason)
