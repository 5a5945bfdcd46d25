"""Development sessions for the psij monorepo: lint, typecheck, tests, build, conformance, bench.

``nox`` with no arguments runs what CI runs: lint, typecheck, build, then ``parallel``, which
runs every package's tests and the conformance kits (``conformance_local``,
``conformance_slurm``, ``conformance_pbs``, ...) in groups side by side, the sessions of one
scheduler one after the other. Each session makes its own fresh virtual environment and
installs the packages it needs from the working tree; ``nox -s NAME`` runs one.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from typing import Callable

import nox

ROOT = pathlib.Path(__file__).parent
PACKAGES = sorted(p.parent.name for p in ROOT.glob('packages/*/pyproject.toml'))
CORE = 'psij-core'
# What each package needs besides itself and psij-core to run its tests.
TEST_EXTRAS: dict[str, list[str]] = {
    # hypothesis: property tests of specs; pystache: psij-python's renderer, which
    # test_mustache.py compares psij's with
    CORE: ['pytest', 'hatchling', 'hypothesis', 'pystache'],
    # what Flux's own Python bindings (found in its installation) need in a venv
    'psij-flux': ['pytest', 'cffi>=1.15', 'ply', 'pyyaml'],
    # real pilots on local.localhost (1.x needs no MongoDB)
    'psij-rp': ['pytest', 'radical.pilot'],
}
# Other packages of this repository a package's tests use (e.g. Slurm jobs with srun).
TEST_WITH: dict[str, list[str]] = {
    'psij-slurm': ['psij-launchers'],
    'psij-pbs': ['psij-launchers'],
    'psij-flux': ['psij-launchers'],
    'psij-lsf': ['psij-launchers'],
    'psij-cobalt': ['psij-launchers'],
    'psij-sge': ['psij-launchers'],
    'psij-remote': ['psij-launchers', 'psij-slurm'],
}
PBS_BIN = pathlib.Path(os.environ.get('PSIJ_PBS_COMMAND_DIR', '/opt/pbs/bin'))
TORQUE_SIM = ROOT / 'packages' / 'psij-pbs' / 'tests' / 'torque_sim'
LSF_SIM = ROOT / 'packages' / 'psij-lsf' / 'tests' / 'lsf_sim' / 'bin'
COBALT_SIM = ROOT / 'packages' / 'psij-cobalt' / 'tests' / 'cobalt_sim' / 'bin'
SGE_ROOT = os.environ.get('SGE_ROOT', '/var/lib/gridengine')
SGE_BIN = pathlib.Path(os.environ.get('PSIJ_SGE_COMMAND_DIR', SGE_ROOT + '/bin/lx-amd64'))


def _sge_env() -> dict[str, str]:
    """Grid Engine's own binaries (not the /usr/bin wrappers, 6x slower), which need
    SGE_ROOT."""
    return {'SGE_ROOT': SGE_ROOT, 'PSIJ_SGE_COMMAND_DIR': str(SGE_BIN)}


def _sge_up() -> bool:
    import subprocess

    qconf = SGE_BIN / 'qconf'
    if not qconf.exists():
        return False
    return subprocess.run([str(qconf), '-sql'], capture_output=True,
                          env=dict(os.environ, **_sge_env())).returncode == 0
FLUX_PREFIX = pathlib.Path(os.environ.get('PSIJ_FLUX_PREFIX', '/opt/flux'))
FLUX_URI_FILE = pathlib.Path('/run/flux-psij/uri')  # written by ci/flux/start-flux.sh


def _flux_env() -> dict[str, str]:
    """FLUX_URI of the instance of ci/flux (unless set), and Flux's commands on PATH (the
    kit's rank script asks Flux for the node's name)."""
    env = {'PATH': '%s:%s' % (FLUX_PREFIX / 'bin', os.environ.get('PATH', ''))}
    if not os.environ.get('FLUX_URI') and FLUX_URI_FILE.exists():
        env['FLUX_URI'] = FLUX_URI_FILE.read_text().strip()
    return env
REPORTS = ROOT / 'reports'

nox.options.sessions = ['lint', 'typecheck', 'build', 'parallel']
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True


def _pkg(name: str) -> str:
    return str(ROOT / 'packages' / name)


def _install_with_core(session: nox.Session, *names: str) -> None:
    paths = [_pkg(CORE)] + [_pkg(n) for n in names if n != CORE]
    session.install(*paths)
    if 'psij-rp' in names:
        _drop_psij_python(session, _pkg(CORE))


def _drop_psij_python(session: nox.Session, core: str) -> None:
    """radical.pilot (psij-rp's dependency) pulls in psij-python, whose `psij` package
    overwrites psij-core's: remove it and put psij-core back (RP uses the `psij` API)."""
    session.run('python', '-m', 'pip', 'uninstall', '-q', '-y', 'psij-python')
    session.install('--force-reinstall', '--no-deps', core)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every package, the examples, benchmarks and this file."""
    session.install('ruff')
    session.run('ruff', 'check', '.')


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package's src (all installed, so cross-package types resolve)."""
    session.install('mypy', 'pytest')
    _install_with_core(session, *PACKAGES)
    for name in PACKAGES:
        session.run('mypy', '--strict', 'packages/%s/src' % name)
    for example in ('psij-executor-example', 'psij-batch-example'):
        session.install('examples/%s' % example)
        session.run('mypy', '--strict', 'examples/%s/src' % example)


@nox.session
@nox.parametrize('package', PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Each package's tests, in a fresh environment holding only what it needs."""
    session.install(*TEST_EXTRAS.get(package, ['pytest']))
    _install_with_core(session, package, *TEST_WITH.get(package, []))
    REPORTS.mkdir(exist_ok=True)
    # a base directory of its own: pytest prunes the numbered directories under the shared
    # default one, which sessions running side by side would do to each other
    basetemp = tempfile.mkdtemp(prefix='psij-tests-%s-' % package)
    if package == 'psij-remote':
        _install_far_end(session)
    env = {'psij-flux': _flux_env, 'psij-sge': _sge_env}.get(package, dict)()
    session.run('pytest', '-q', '-p', 'no:cacheprovider', '--basetemp', basetemp, '--junitxml',
                str(REPORTS / ('junit-%s.xml' % package)), 'packages/%s/tests' % package,
                *session.posargs, env=env)


@nox.session
def build(session: nox.Session) -> None:
    """sdist and wheel of every package, installed from those files into a fresh venv, then
    imported, with their entry points listed."""
    session.install('build')
    dist = pathlib.Path(tempfile.mkdtemp(prefix='psij-dist-'))
    for name in PACKAGES:
        session.run('python', '-m', 'build', '--outdir', str(dist), _pkg(name), silent=True)
    files = sorted(dist.iterdir())
    session.log('built: %s' % ', '.join(f.name for f in files))
    venv = dist / 'venv'
    session.run('python', '-m', 'venv', str(venv))
    py = str(venv / 'bin' / 'python')
    wheels = [str(f) for f in files if f.suffix == '.whl']
    sdists = [str(f) for f in files if f.name.endswith('.tar.gz')]
    session.run(py, '-m', 'pip', 'install', '-q', *wheels, external=True)
    # the sdists must build and install too
    session.run(py, '-m', 'pip', 'install', '-q', '--force-reinstall', '--no-deps', *sdists,
                external=True)
    # psij-rp's radical.pilot pulled in psij-python, whose psij package overwrote psij-core's
    session.run(py, '-m', 'pip', 'uninstall', '-q', '-y', 'psij-python', external=True)
    session.run(py, '-m', 'pip', 'install', '-q', '--force-reinstall', '--no-deps',
                *[w for w in wheels if os.path.basename(w).startswith('psij_core-')],
                external=True)
    session.run(py, '-c', 'import psij, importlib.metadata as m; '
                'print("psij", psij.__version__); '
                '[print("entry point:", e.name, "=", e.value, "from", e.dist.name) '
                'for e in m.entry_points(group="psij")]', external=True)
    session.run(str(venv / 'bin' / 'psij'), 'plugins', external=True)
    shutil.rmtree(dist)


def _local_launchers(session: nox.Session) -> list[str]:
    launchers = ['single']
    if 'psij-launchers' in PACKAGES:
        launchers.append('multiple')
        if shutil.which('mpirun'):
            launchers.append('mpirun')
        elif os.environ.get('PSIJ_REQUIRE_MPI') == '1':
            session.error('mpirun is not installed but PSIJ_REQUIRE_MPI=1')
        else:
            session.warn('mpirun is not installed: skipping the kit with the mpirun launcher')
    return launchers


def _kit_session(session: nox.Session, *extra: str) -> None:
    session.install('pytest', 'build')
    # psij-rp (radical.pilot) only where asked: its install is the slowest of all
    _install_with_core(session, *[p for p in PACKAGES if p not in (CORE, 'psij-rp')], *extra)
    REPORTS.mkdir(exist_ok=True)


def _mpirun_env(launcher: str) -> dict[str, str]:
    if launcher == 'mpirun' and os.getuid() == 0:
        return {'PSIJ_MPIRUN_OPTIONS': '--allow-run-as-root'}
    return {}


@nox.session
def conformance_local(session: nox.Session) -> None:
    """The conformance kit against `local` with every launcher available here, and against
    the two example third-party executors installed from their own wheels."""
    _kit_session(session)
    for launcher in _local_launchers(session):
        session.run('psij', 'conformance', 'local', '--launcher', launcher, '--report-dir',
                    str(REPORTS / ('conformance-local-%s' % launcher)),
                    env=_mpirun_env(launcher))
    # the third-party path: executor distributions built and installed from their own wheels,
    # a plain JobExecutor and one on the batch framework (with its toy scheduler)
    dist = pathlib.Path(tempfile.mkdtemp(prefix='psij-example-'))
    for example in ('psij-executor-example', 'psij-batch-example'):
        session.run('python', '-m', 'build', '--wheel', '--outdir', str(dist),
                    'examples/%s' % example, silent=True)
    session.install(*[str(w) for w in dist.glob('*.whl')])
    session.run('psij', 'plugins')
    session.run('psij', 'conformance', 'example', '--report-dir',
                str(REPORTS / 'conformance-example'))
    session.run('psij', 'conformance', 'toybatch', '--report-dir',
                str(REPORTS / 'conformance-toybatch'),
                env={'TOYQ_DIR': tempfile.mkdtemp(prefix='toyq-')})
    shutil.rmtree(dist)


@nox.session
def conformance_slurm(session: nox.Session) -> None:
    """The kit against `slurm` when a Slurm cluster answers (required when
    PSIJ_REQUIRE_SLURM=1), with queue, account and a custom attribute checked in Slurm's own
    view."""
    if not _slurm_up():
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            session.error('no Slurm controller answers but PSIJ_REQUIRE_SLURM=1')
        session.skip('no Slurm controller answers: skipping the kit against slurm')
    _kit_session(session)
    for launcher in ('single', 'srun'):
        session.run('psij', 'conformance', 'slurm', '--launcher', launcher,
                    '--queue', 'debug', '--account', 'psijacct',
                    '--attr', 'slurm.comment=psijconf',
                    '--scheduler-view', 'psij_slurm.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-slurm-%s' % launcher)))


@nox.session
def conformance_pbs(session: nox.Session) -> None:
    """The kit against `pbs` on the real OpenPBS server (its vnodes share one host, hence
    place=vscatter; its mom cannot measure memory, which the site declares), and against
    `pbs_classic` on the Torque simulator layered on it; required when PSIJ_REQUIRE_PBS=1."""
    if not _pbs_up():
        if os.environ.get('PSIJ_REQUIRE_PBS') == '1':
            session.error('no PBS server answers but PSIJ_REQUIRE_PBS=1')
        session.skip('no PBS server answers: skipping the kit against pbs')
    _kit_session(session)
    env = {'PSIJ_PBS_COMMAND_DIR': str(PBS_BIN), 'PSIJ_PBS_PLACE': 'vscatter'}
    memory = 'memory_limits=this server\'s mom cannot measure the memory jobs use'
    for launcher in _local_launchers(session):
        site = ['--unsupported', memory]
        if launcher == 'mpirun':
            # two chunks run on two vnodes of the one host: Open MPI maps ranks by host name
            site += ['--unsupported', 'multi_node=the vnodes of this server share one host']
        session.run('psij', 'conformance', 'pbs', '--launcher', launcher, '--queue', 'workq',
                    '--account', 'psijacct', '--attr', 'pbs.P=psijproj',
                    '--attr', 'pbs.software=psijconf', *site,
                    '--scheduler-view', 'psij_pbs.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-pbs-%s' % launcher)),
                    env={**env, **_mpirun_env(launcher)})
    session.run('psij', 'conformance', 'pbs_classic', '--unsupported', memory,
                '--report-dir', str(REPORTS / 'conformance-pbs_classic-torque-sim'),
                env={'PSIJ_PBS_CLASSIC_COMMAND_DIR': str(TORQUE_SIM),
                     'TORQUE_SIM_PBS_BIN': str(PBS_BIN)})


@nox.session
def conformance_lsf(session: nox.Session) -> None:
    """The kit against `lsf` on the LSF simulator, whose jobs run on the real Slurm cluster
    (LSF itself cannot be installed here), with `single` and `jsrun` (ranks over 2 nodes), and
    queue, project and a custom attribute checked in LSF's view (`bjobs`)."""
    if not _slurm_up():
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            session.error('no Slurm controller answers but PSIJ_REQUIRE_SLURM=1 (the LSF '
                          'simulator runs its jobs on Slurm)')
        session.skip('no Slurm controller answers: skipping the kit against lsf')
    _kit_session(session)
    env = {'PATH': '%s:%s' % (LSF_SIM, os.environ.get('PATH', ''))}
    for launcher in ('single', 'jsrun'):
        session.run('psij', 'conformance', 'lsf', '--launcher', launcher, '--queue', 'debug',
                    '--account', 'psijproj', '--attr', 'lsf.Jd=psijconf',
                    '--scheduler-view', 'psij_lsf.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-lsf-%s' % launcher)), env=env)


@nox.session
def conformance_cobalt(session: nox.Session) -> None:
    """The kit against `cobalt` on the Cobalt simulator, whose jobs run on the real Slurm
    cluster (Cobalt itself cannot be installed here), with `single` and `mpirun`, and queue,
    project and `--attrs` checked in Cobalt's view (`qstat -lf`)."""
    if not _slurm_up():
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            session.error('no Slurm controller answers but PSIJ_REQUIRE_SLURM=1 (the Cobalt '
                          'simulator runs its jobs on Slurm)')
        session.skip('no Slurm controller answers: skipping the kit against cobalt')
    _kit_session(session)
    env = {'PATH': '%s:%s' % (COBALT_SIM, os.environ.get('PATH', ''))}
    # Cobalt's walltime is in minutes (a 2 s one ends after 1 to 1.5 min), and the jobs share
    # Slurm's 3 nodes with the other groups' sessions: longer bounds for the waits
    for launcher in ('single', 'mpirun'):
        session.run('psij', 'conformance', 'cobalt', '--launcher', launcher, '--queue', 'debug',
                    '--account', 'psijproj', '--attr', 'cobalt.attrs=psijtag=conf',
                    '--timeout', '300', '--smoke-timeout', '180',
                    '--scheduler-view', 'psij_cobalt.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-cobalt-%s' % launcher)),
                    env={**env, **_mpirun_env(launcher)})


@nox.session
def conformance_sge(session: nox.Session) -> None:
    """The kit against `sge` on the real Grid Engine cell of ci/sge (one host: multi-node is
    the site's limit), with every launcher (mpirun through the `mpi` parallel environment);
    required when PSIJ_REQUIRE_SGE=1."""
    if not _sge_up():
        if os.environ.get('PSIJ_REQUIRE_SGE') == '1':
            session.error('no Grid Engine cell answers but PSIJ_REQUIRE_SGE=1')
        session.skip('no Grid Engine cell answers: skipping the kit against sge')
    _kit_session(session)
    for launcher in _local_launchers(session):
        session.run('psij', 'conformance', 'sge', '--launcher', launcher, '--queue', 'all.q',
                    '--account', 'psijacct', '--attr', 'sge.P=psijproj', '--attr', 'sge.js=5',
                    '--unsupported', 'multi_node=this cell has one execution host',
                    '--scheduler-view', 'psij_sge.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-sge-%s' % launcher)),
                    env={**_sge_env(), **_mpirun_env(launcher)})


@nox.session
def conformance_flux(session: nox.Session) -> None:
    """The kit against `flux` on the 2-node Flux instance of ci/flux, with every launcher
    (Flux starts the ranks itself) and the scheduler's view of bank and custom attributes;
    required when PSIJ_REQUIRE_FLUX=1."""
    env = _flux_env()
    if 'FLUX_URI' not in env and not os.environ.get('FLUX_URI'):
        if os.environ.get('PSIJ_REQUIRE_FLUX') == '1':
            session.error('no Flux instance (FLUX_URI unset, no %s) but PSIJ_REQUIRE_FLUX=1'
                          % FLUX_URI_FILE)
        session.skip('no Flux instance: skipping the kit against flux')
    _kit_session(session)
    session.install('cffi>=1.15', 'ply', 'pyyaml')
    for launcher in _local_launchers(session):
        session.run('psij', 'conformance', 'flux', '--launcher', launcher,
                    '--account', 'bank1', '--attr', 'flux.setattr.user.tag=psijconf',
                    '--scheduler-view', 'psij_flux.conformance:scheduler_view',
                    '--report-dir', str(REPORTS / ('conformance-flux-%s' % launcher)),
                    env=env)


@nox.session
def conformance_rp(session: nox.Session) -> None:
    """The kit against `rp`: a real RADICAL-Pilot pilot on local.localhost (radical.pilot
    installed into this venv; the pilot takes 15-40 s to start, hence the smoke timeout)."""
    _kit_session(session, 'psij-rp')
    session.run('psij', 'conformance', 'rp', '--smoke-timeout', '300',
                '--unsupported', 'multi_node=the pilot of local.localhost has one node',
                '--report-dir', str(REPORTS / 'conformance-rp'))


# scheduler -> (package, is it up, its environment, PSIJ_REQUIRE_<X> name)
_DOC_SCHEDULERS: dict[str, tuple[str, Callable[[], bool], Callable[[], dict[str, str]], str]] = {
    'slurm': ('psij-slurm', lambda: _slurm_up(), lambda: {}, 'SLURM'),
    'pbs': ('psij-pbs', lambda: _pbs_up(), lambda: {'PSIJ_PBS_COMMAND_DIR': str(PBS_BIN)},
            'PBS'),
    'flux': ('psij-flux', lambda: 'FLUX_URI' in _flux_env() or bool(os.environ.get('FLUX_URI')),
             _flux_env, 'FLUX'),
    'sge': ('psij-sge', _sge_up, _sge_env, 'SGE'),
}


@nox.session
@nox.parametrize('scheduler', sorted(_DOC_SCHEDULERS))
def docs_examples(session: nox.Session, scheduler: str) -> None:
    """The code blocks of the site's pages and READMEs marked ``<!-- run on: SCHEDULER -->``,
    run against the real scheduler (in its group: the docs session runs the other blocks on
    local); required when PSIJ_REQUIRE_<SCHEDULER>=1."""
    package, up, env, var = _DOC_SCHEDULERS[scheduler]
    if not up():
        if os.environ.get('PSIJ_REQUIRE_%s' % var) == '1':
            session.error('no %s answers but PSIJ_REQUIRE_%s=1' % (scheduler, var))
        session.skip('no %s answers: skipping the blocks that run on it' % scheduler)
    session.install('pytest')
    if scheduler == 'flux':
        session.install('cffi>=1.15', 'ply', 'pyyaml')
    _install_with_core(session, 'psij-launchers', package)
    session.run('pytest', '-q', '-p', 'no:cacheprovider', '--junitxml',
                str(REPORTS / ('junit-docs-%s.xml' % scheduler)), 'docs/tests/test_examples.py',
                '-k', 'test_scheduler_blocks', *session.posargs,
                env={**env(), **_mpirun_env('mpirun'), 'PSIJ_DOCS_SCHEDULER': scheduler})


SSHD_DIR = pathlib.Path('/etc/psij-sshd')  # written by ci/ssh/setup-sshd.sh
REMOTE_URL = 'ssh://psijremote@127.0.0.1:2222/~/venv'


def _sshd_up() -> bool:
    return os.getuid() == 0 and (SSHD_DIR / 'ssh_config').exists() and \
        pathlib.Path('/run/psij-sshd.pid').exists()


def _install_far_end(session: nox.Session) -> None:
    """This tree's psij for the far end of the remote tests (psijremote's venv)."""
    if _sshd_up():
        session.run('bash', str(ROOT / 'ci' / 'ssh' / 'install-remote-psij.sh'), external=True)
    elif os.environ.get('PSIJ_REQUIRE_SSH') == '1':
        session.error('no sshd of ci/ssh/setup-sshd.sh (or not root) but PSIJ_REQUIRE_SSH=1')


def _kit_over_ssh(session: nox.Session, name: str, extra: list[str]) -> None:
    """The kit against the far end's `name`, run as psijremote, from its venv, through a real
    login to the sshd of ci/ssh (so that the kit's files are that user's on both ends)."""
    if not _sshd_up():
        if os.environ.get('PSIJ_REQUIRE_SSH') == '1':
            session.error('no sshd of ci/ssh/setup-sshd.sh (or not root) but '
                          'PSIJ_REQUIRE_SSH=1')
        session.skip('no sshd of ci/ssh: skipping the kit over ssh')
    _install_far_end(session)
    REPORTS.mkdir(exist_ok=True)
    out = pathlib.Path(tempfile.mkdtemp(prefix='psij-remote-kit-'))
    shutil.chown(out, 'psijremote', 'psijremote')
    session.chdir('/tmp')  # a directory psijremote may enter
    try:
        session.run('runuser', '-u', 'psijremote', '--', '/home/psijremote/venv/bin/psij',
                    'conformance', name, '--remote', REMOTE_URL, *extra, '--report-dir',
                    str(out), external=True)
    finally:
        session.chdir(str(ROOT))
        dest = REPORTS / ('conformance-remote-%s' % name)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(out, dest)
        shutil.rmtree(out, ignore_errors=True)


@nox.session(venv_backend='none')
def conformance_remote(session: nox.Session) -> None:
    """The kit over ssh (psij-remote) against the far end's `local`; required when
    PSIJ_REQUIRE_SSH=1."""
    _kit_over_ssh(session, 'local', [])


@nox.session(venv_backend='none')
def conformance_remote_slurm(session: nox.Session) -> None:
    """The kit over ssh against the far end's `slurm` (in the Slurm group: the cluster's nodes
    are not shared with another group's jobs, nor stopped by its fault tests meanwhile)."""
    if not _slurm_up():
        if os.environ.get('PSIJ_REQUIRE_SLURM') == '1':
            session.error('no Slurm controller answers but PSIJ_REQUIRE_SLURM=1')
        session.skip('no Slurm controller answers: skipping the kit over ssh against slurm')
    _kit_over_ssh(session, 'slurm', ['--queue', 'debug', '--account', 'psijacct',
                                     '--attr', 'slurm.comment=psijconf', '--scheduler-view',
                                     'psij_slurm.conformance:scheduler_view'])


# Sessions that share a scheduler's daemons run one after the other, in one group (the LSF
# simulator and psij-launchers' srun tests run their jobs on Slurm, whose fault test stops
# slurmctld); the groups run side by side, at most PSIJ_CI_PARALLEL (default 3) at a time.
GROUPS: list[list[str]] = [
    ["tests(package='psij-core')", 'conformance_local', 'docs'],
    # psij-launchers' srun tests run on Slurm, whose fault test stops slurmctld for a minute
    ["tests(package='psij-launchers')", "tests(package='psij-slurm')", 'conformance_slurm',
     "docs_examples(scheduler='slurm')",
     "tests(package='psij-lsf')", 'conformance_lsf', "tests(package='psij-cobalt')",
     'conformance_cobalt',
     # psij-remote's far end runs Slurm jobs too (and its tests restart the test sshd)
     "tests(package='psij-remote')", 'conformance_remote', 'conformance_remote_slurm'],
    ["tests(package='psij-pbs')", 'conformance_pbs', "docs_examples(scheduler='pbs')"],
    ["tests(package='psij-flux')", 'conformance_flux', "docs_examples(scheduler='flux')"],
    ["tests(package='psij-sge')", 'conformance_sge', "docs_examples(scheduler='sge')"],
    # real RADICAL-Pilot pilots on local.localhost
    ["tests(package='psij-rp')", 'conformance_rp'],
]


def _existing(group: list[str]) -> list[str]:
    out = []
    for name in group:
        pkg = name.partition("package='")[2].rstrip("')")
        kit = name.removeprefix('conformance_')
        if pkg and pkg not in PACKAGES:
            continue
        kit = kit.removesuffix('_slurm') if kit.startswith('remote') else kit
        if name.startswith('conformance_') and kit != 'local' and \
                'psij-%s' % kit not in PACKAGES:
            continue
        out.append(name)
    return out


@nox.session(venv_backend='none')
def parallel(session: nox.Session) -> None:
    """Every package's tests and the conformance kits, in the groups of `GROUPS` run side by
    side (see there); each group's output goes to reports/logs/, and a failed group's end is
    shown here."""
    import subprocess
    import sys
    import time

    logs = REPORTS / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    groups = [g for g in (_existing(g) for g in GROUPS) if g]
    limit = max(1, int(os.environ.get('PSIJ_CI_PARALLEL', '3')))
    waiting = list(enumerate(groups))
    running: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    failed = []
    while waiting or running:
        while waiting and len(running) < limit:
            i, group = waiting.pop(0)
            log = open(logs / ('group-%d.log' % i), 'wb')
            session.log('group %d starts: %s' % (i, ', '.join(group)))
            cmd = [sys.executable, '-m', 'nox', '--no-color', '-s', *group]
            running[i] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT),
                          time.monotonic())
            log.close()
        time.sleep(1)
        for i, (p, t0) in list(running.items()):
            if p.poll() is None:
                continue
            del running[i]
            session.log('group %d %s in %.0f s: %s' % (
                i, 'passed' if p.returncode == 0 else 'FAILED (exit %d)' % p.returncode,
                time.monotonic() - t0, ', '.join(groups[i])))
            if p.returncode != 0:
                failed.append(i)
    for i in failed:
        text = (logs / ('group-%d.log' % i)).read_text(errors='replace')
        print('\n===== end of reports/logs/group-%d.log =====\n%s' % (i, text[-6000:]))
    if failed:
        session.error('groups %s failed' % ', '.join(map(str, failed)))


DOCS_REPORTS = REPORTS / 'docs'


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (docs/): built with Sphinx, warnings as errors and every
    cross-reference resolved, into reports/docs/html; then every code block of the site and of
    the READMEs run on the local executor, the API reference's docstrings, the site's internal
    links, and its pages rendered in headless Chromium (screenshots in reports/docs/screenshots;
    .ci/run installs chromium)."""
    # Sphinx, and myst-parser because the pages and every README are Markdown; only here,
    # never a dependency of the packages
    session.install('sphinx>=7', 'myst-parser>=3', 'pytest')
    _install_with_core(session, *PACKAGES)
    shutil.rmtree(DOCS_REPORTS, ignore_errors=True)
    html = DOCS_REPORTS / 'html'
    doctrees = tempfile.mkdtemp(prefix='psij-doctrees-')  # kept out of the HTML artifact
    session.run('sphinx-build', '-W', '--keep-going', '-n', '-q', '-b', 'html', '-d', doctrees,
                'docs', str(html))
    shutil.rmtree(doctrees)
    session.run('pytest', '-q', '-p', 'no:cacheprovider', '--junitxml',
                str(REPORTS / 'junit-docs.xml'), 'docs/tests', *session.posargs,
                env={'PSIJ_DOCS_HTML': str(html),
                     'PSIJ_DOCS_SCREENSHOTS': str(DOCS_REPORTS / 'screenshots')})


def _pbs_up() -> bool:
    import subprocess

    qstat = PBS_BIN / 'qstat'
    if not qstat.exists():
        return False
    return subprocess.run([str(qstat), '-B'], capture_output=True).returncode == 0


def _slurm_up() -> bool:
    import subprocess

    if not shutil.which('scontrol'):
        return False
    r = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True)
    return 'is UP' in r.stdout


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: start-up and Job construction (vs psij-python), the local executor, and the
    cost of following 1,000 to 50,000 jobs (local; Slurm where a controller answers)."""
    _install_with_core(session, *PACKAGES)
    ref = pathlib.Path(os.environ.get('PSIJ_PYTHON_VENV', '/tmp/psijpy-venv'))
    if not (ref / 'bin' / 'python').exists():
        session.run('python', '-m', 'venv', str(ref))
        session.run(str(ref / 'bin' / 'pip'), 'install', '-q', 'psij-python==0.9.11',
                    external=True)
    session.run('python', 'bench/bench_startup.py', '--reference', str(ref / 'bin' / 'python'))
    session.run('python', 'bench/bench_local.py', '--psij-python-venv', str(ref),
                '--ours', str(pathlib.Path(session.bin) / 'python'), *session.posargs)
    session.run('python', 'bench/bench_async.py', '--jobs', '10000')
    session.run('python', 'bench/bench_scale.py', '--executor', 'local')
    if _slurm_up():
        session.run('python', 'bench/bench_slurm.py', '--jobs', '500')
        session.run('python', 'bench/bench_bulk.py', '--executor', 'slurm', '--jobs', '1000')
        session.run('python', 'bench/bench_scale.py', '--executor', 'slurm')
    else:
        session.warn('no Slurm controller answers: skipping the Slurm benchmark')
    if _slurm_up():
        session.run('python', 'bench/bench_lsf.py', '--jobs', '200')
    if 'FLUX_URI' in _flux_env() or os.environ.get('FLUX_URI'):
        session.install('cffi>=1.15', 'ply', 'pyyaml')
        session.run('python', 'bench/bench_flux.py', '--jobs', '500', '--psij-python',
                    str(ref / 'bin' / 'python'), env=_flux_env())
        session.run('python', 'bench/bench_bulk.py', '--executor', 'flux', '--jobs', '1000',
                    env=_flux_env())
    if _pbs_up():
        session.run('python', 'bench/bench_pbs.py', '--jobs', '300', '--psij-python-venv',
                    str(ref))
        session.run('python', 'bench/bench_bulk.py', '--executor', 'pbs', '--jobs', '1000')
    if _sshd_up():
        _install_far_end(session)
        session.run('python', 'bench/bench_remote.py', '--url', REMOTE_URL)
    if _sge_up():
        session.run('python', 'bench/bench_sge.py', '--jobs', '300', env=_sge_env())
    else:
        session.warn('no PBS server answers: skipping the PBS benchmark')
