"""
`KitBase`: the fixtures every check class shares, and the hooks a test subclass may override.

A plugin's own test file can be as short as::

    from psij.conformance import ConformanceSuite

    class TestMyExecutor(ConformanceSuite):
        executor = 'mine'

Class attributes set any setting of :mod:`psij.conformance.options` (``launcher``, ``url``,
``queue``, ``account``, ``attr``, ``unsupported``, ``timeout``...); the ``--psij-*`` options and
the ``PSIJ_CONFORMANCE_*`` variables take precedence (see that module for the order).

Before the first check that runs jobs, the kit runs the smoke job (:mod:`psij.conformance.smoke`)
and asks the site what it does not enforce (:mod:`psij.conformance.site_detection`).
"""

from __future__ import annotations

import importlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import pytest

from psij import JobExecutor
from psij.conformance import capabilities
from psij.conformance.harness import Kit, Recorder, RunState, SchedulerView
from psij.conformance.options import KitOptions, SettingError
from psij.conformance.site_detection import detect_missing, required_by_environment
from psij.conformance.smoke import SMOKE_CHECK, SmokeResult, run_smoke

F = TypeVar('F', bound=Callable[..., Any])

REQUIRES_ATTR = '_psij_requires'


def requires(*caps: str) -> Callable[[F], F]:
    """Marks a check as needing capabilities; it skips, with the declared reason, without."""
    for c in caps:
        if c not in capabilities.ALL:
            raise ValueError('unknown capability %r' % c)

    def mark(fn: F) -> F:
        setattr(fn, REQUIRES_ATTR, tuple(caps))
        return fn
    return mark


@dataclass
class RunInfo:
    """What the report needs to know about the executor under test."""

    executor: str
    executor_version: str
    launcher: str
    site: str
    unsupported: Dict[str, str]
    unknown_capabilities: List[str] = field(default_factory=list)
    scheduler_view: bool = False
    detected_missing: Dict[str, str] = field(default_factory=dict)
    """Capabilities the site was found not to provide (not declared), with why."""
    detection_errors: List[str] = field(default_factory=list)
    require_detected: bool = False
    smoke: Optional[SmokeResult] = None
    options: Optional[KitOptions] = None


RUN_INFO_KEY = pytest.StashKey[RunInfo]()
EXECUTOR_ERROR_KEY = pytest.StashKey[str]()
"""Why the executor under test could not be created, if it could not."""
_SMOKE_KEY = pytest.StashKey[Dict[Tuple[str, str, str], SmokeResult]]()


@dataclass
class KitSession:
    """The executor under test and what the checks of one class share (the smoke job's
    result, what was detected, what earlier checks learned)."""

    options: KitOptions
    executor: JobExecutor
    recorder: Recorder
    run_dir: Path
    unsupported: Dict[str, str]
    scheduler_view: Optional[SchedulerView]
    make_executor: Callable[[], JobExecutor]
    config: pytest.Config
    detected: Dict[str, str] = field(default_factory=dict)
    require_detected: bool = False
    run_state: RunState = field(default_factory=RunState)

    def kit(self, directory: Path, check: str = '') -> Kit:
        """A `Kit` for one check, in `directory`."""
        return Kit(self.options, self.executor, self.recorder, directory, self.unsupported,
                   self.scheduler_view, self.make_executor, self.run_state, check)

    def smoke(self) -> SmokeResult:
        """The smoke job's result, run once per run for one executor and launcher."""
        o = self.options
        key = (str(o.executor), str(o.launcher), str(o.url))
        done = self.config.stash.setdefault(_SMOKE_KEY, {})
        if key not in done:
            d = Path(tempfile.mkdtemp(prefix='smoke-', dir=self.run_dir))
            k = self.kit(d, SMOKE_CHECK)
            try:
                done[key] = run_smoke(k)
            finally:
                k.close()
            info = self.config.stash.get(RUN_INFO_KEY, None)
            if info is not None:
                info.smoke = done[key]
        return done[key]

    def missing(self, cap: str) -> Optional[str]:
        """Why a check needing `cap` must skip, or `None` if it runs."""
        reason = self.unsupported.get(cap)
        if reason is not None:
            return 'unsupported capability %s: %s' % (cap, reason)
        found = self.detected.get(cap)
        if found is not None and not self.require_detected:
            return ('capability %s detected as missing on this site: %s (declare it with '
                    '--psij-unsupported %s=REASON, or PSIJ_CONFORMANCE_UNSUPPORTED; '
                    '--psij-require-detected runs the check anyway)' % (cap, found, cap))
        return None


def _unsupported_of_launcher(name: Optional[str]) -> Dict[str, str]:
    from psij.plugins import registry

    try:
        entry = registry.select('launcher', name or 'single')
    except ValueError:
        return {}
    return dict(entry.desc.unsupported)


def _load_function(spec: str) -> SchedulerView:
    mod, sep, fn = spec.partition(':')
    if not sep:
        raise pytest.UsageError('--psij-scheduler-view must be MODULE:FUNCTION, not %r' % spec)
    f: SchedulerView = getattr(importlib.import_module(mod), fn)
    return f


class KitBase:
    """The fixtures of the kit's check classes and the hooks subclasses may override."""

    executor: Optional[str] = None
    """The executor to check (overridden by ``--psij-executor``)."""

    unsupported: Dict[str, str] = {}
    """Capabilities missing on this site, in addition to the executor's declaration."""

    def make_executor(self, options: KitOptions) -> JobExecutor:
        """Returns a new instance of the executor under test (override to configure it)."""
        assert options.executor is not None
        return JobExecutor.get_instance(options.executor, url=options.url)

    def scheduler_view(self, native_id: str) -> Dict[str, Any]:
        """
        Returns what the scheduler shows about a job, for the resource and attribute checks.

        Override it (or pass ``--psij-scheduler-view MODULE:FUNCTION``, naming a plain
        function of the same signature without ``self``: ``def view(native_id: str) ->
        Dict[str, Any]``) to enable those checks. Recognised keys: ``queue``, ``account``,
        ``reservation``, ``walltime`` (seconds), ``node_count``, ``process_count``, and custom
        attribute names as given to ``--psij-attr`` (e.g. ``slurm.qos``); values are compared
        as strings. ``walltime`` and ``node_count`` are compared when present; a setting the
        site gives (``--psij-queue``, ``--psij-account``, ``--psij-reservation``,
        ``--psij-attr``) that the view does not show makes the check skip, saying which.
        """
        raise NotImplementedError

    def missing_capabilities(self, executor: JobExecutor) -> Dict[str, str]:
        """
        Returns the capabilities this site does not provide, found out by asking it (e.g. a
        scheduler's configuration), as ``{name: reason}``.

        By default the kit calls ``missing_capabilities`` of the executor package's
        ``conformance`` module, if it has one (see :mod:`psij.conformance.site_detection`);
        override this to detect something else.
        """
        raise NotImplementedError

    @pytest.fixture(scope='class')
    @classmethod
    def psij_session(cls, request: pytest.FixtureRequest) -> Iterator[KitSession]:
        """The executor under test, shared by the checks of one class."""
        config = request.config
        hooks = cls()
        try:
            opts = KitOptions.resolve(lambda dest: config.getoption(dest, None), cls)
        except SettingError as ex:  # from the test class: stop the run, not every check
            pytest.exit('psij conformance: %s' % ex, returncode=pytest.ExitCode.USAGE_ERROR)
        for mod in opts.import_:
            importlib.import_module(mod)
        if not opts.executor:
            msg = ('psij conformance: no executor given; use --psij-executor NAME, the '
                   'PSIJ_CONFORMANCE_EXECUTOR variable, or an "executor" class attribute')
            if config.pluginmanager.has_plugin('psij-conformance-report'):
                raise pytest.UsageError(msg)  # an explicit run of the kit
            pytest.skip(msg)  # the kit's test module collected by an unrelated run

        def make() -> JobExecutor:
            return hooks.make_executor(opts)

        try:
            executor = make()
        except (ValueError, TypeError) as ex:
            # an executor that cannot be created (an incomplete class, a plugin that does not
            # load) fails every check the same way: say it once and stop
            msg = 'cannot create the executor %r: %s' % (opts.executor, ex)
            config.stash[EXECUTOR_ERROR_KEY] = msg
            pytest.exit('psij conformance: ' + msg, returncode=pytest.ExitCode.TESTS_FAILED)
        recorder = Recorder()
        executor.set_job_status_callback(recorder.executor_callback)
        desc = executor.descriptor
        unsupported: Dict[str, str] = {}
        unsupported.update(desc.unsupported if desc is not None else {})
        unsupported.update(_unsupported_of_launcher(opts.launcher))
        unsupported.update(opts.unsupported)
        view: Optional[SchedulerView] = None
        if opts.scheduler_view:
            view = _load_function(opts.scheduler_view)
        elif cls.scheduler_view is not KitBase.scheduler_view:
            view = hooks.scheduler_view
        detection = detect_missing(
            executor, hooks.missing_capabilities
            if cls.missing_capabilities is not KitBase.missing_capabilities else None)
        detected = {k: v for k, v in detection.missing.items() if k not in unsupported}
        require = required_by_environment(executor.name, opts.require_detected)
        config.stash[RUN_INFO_KEY] = RunInfo(
            executor=executor.name, executor_version=str(executor.version),
            launcher=opts.launcher or 'single', site=opts.site_id, unsupported=unsupported,
            unknown_capabilities=sorted(set(unsupported) - capabilities.ALL),
            scheduler_view=view is not None, detected_missing=detected,
            detection_errors=detection.errors, require_detected=require, options=opts,
            smoke=config.stash.get(_SMOKE_KEY, {}).get(
                (str(opts.executor), str(opts.launcher), str(opts.url))))
        root = opts.work_root()
        root.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix='%s-' % executor.name, dir=root))
        failed_before = request.session.testsfailed
        yield KitSession(opts, executor, recorder, run_dir, unsupported, view, make, config,
                       detected, require)
        if request.session.testsfailed == failed_before and not opts.work_dir:
            shutil.rmtree(run_dir, ignore_errors=True)

    @pytest.fixture
    def kit(self, request: pytest.FixtureRequest, psij_session: KitSession) -> Iterator[Kit]:
        """The per-check helper; skips the check if it needs a missing capability, and fails
        it at once if the smoke job failed."""
        s = psij_session
        for cap in getattr(request.function, REQUIRES_ATTR, ()):
            request.node.user_properties.append(('psij_capability', cap))
            reason = s.missing(cap)
            if reason is not None:
                pytest.skip(reason)
        smoke = s.smoke()
        if not smoke.ok:
            pytest.fail('%s %s: %s' % (NOT_RUN, SMOKE_CHECK, smoke.problem), pytrace=False)
        name = re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)[:80]
        directory = Path(tempfile.mkdtemp(prefix=name + '-', dir=s.run_dir))
        k = s.kit(directory, getattr(request.function, '__qualname__', request.node.name))
        try:
            yield k
        finally:
            k.close()


NOT_RUN = 'not run: the executor failed the smoke job, see'
"""How a check that was not run because of the smoke job's failure begins its message."""
