"""
`KitBase`: the fixtures every check class shares, and the hooks a test subclass may override.

A plugin's own test file can be as short as::

    from psij.conformance import ConformanceSuite

    class TestMyExecutor(ConformanceSuite):
        executor = 'mine'

Class attributes set any setting of :mod:`psij.conformance.options` (``launcher``, ``url``,
``queue``, ``account``, ``attr``, ``unsupported``...); the ``--psij-*`` options, when the
kit's pytest plugin is loaded, take precedence.
"""

from __future__ import annotations

import importlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest

from psij import JobExecutor
from psij.conformance import capabilities
from psij.conformance.harness import Kit, Recorder, SchedulerView
from psij.conformance.options import KitOptions

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


RUN_INFO_KEY = pytest.StashKey[RunInfo]()


@dataclass
class _Session:
    options: KitOptions
    executor: JobExecutor
    recorder: Recorder
    run_dir: Path
    unsupported: Dict[str, str]
    scheduler_view: Optional[SchedulerView]
    make_executor: Callable[[], JobExecutor]


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

        Override it (or pass ``--psij-scheduler-view MODULE:FUNCTION``) to enable those
        checks. Recognised keys, all optional: ``queue``, ``account``, ``reservation``,
        ``walltime`` (seconds), ``node_count``, ``process_count``, and custom attribute names
        as given to ``--psij-attr`` (e.g. ``slurm.qos``); values are compared as strings.
        """
        raise NotImplementedError

    @pytest.fixture(scope='class')
    @classmethod
    def psij_session(cls, request: pytest.FixtureRequest) -> Iterator[_Session]:
        """The executor under test, shared by the checks of one class."""
        config = request.config
        hooks = cls()
        opts = KitOptions.resolve(lambda dest: config.getoption(dest, None), cls)
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

        executor = make()
        recorder = Recorder()
        executor.set_job_status_callback(recorder.executor_callback)
        desc = executor.descriptor
        unsupported: Dict[str, str] = {}
        unsupported.update(desc.unsupported if desc is not None else {})
        unsupported.update(_unsupported_of_launcher(opts.launcher))
        unsupported.update(getattr(cls, 'unsupported', None) or {})
        unsupported.update(opts.unsupported)
        view: Optional[SchedulerView] = None
        if opts.scheduler_view:
            view = _load_function(opts.scheduler_view)
        elif cls.scheduler_view is not KitBase.scheduler_view:
            view = hooks.scheduler_view
        config.stash[RUN_INFO_KEY] = RunInfo(
            executor=executor.name, executor_version=str(executor.version),
            launcher=opts.launcher or 'single', site=opts.site_id, unsupported=unsupported,
            unknown_capabilities=sorted(set(unsupported) - capabilities.ALL),
            scheduler_view=view is not None)
        root = opts.work_root()
        root.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix='%s-' % executor.name, dir=root))
        failed_before = request.session.testsfailed
        yield _Session(opts, executor, recorder, run_dir, unsupported, view, make)
        if request.session.testsfailed == failed_before and not opts.work_dir:
            shutil.rmtree(run_dir, ignore_errors=True)

    @pytest.fixture
    def kit(self, request: pytest.FixtureRequest, psij_session: _Session) -> Iterator[Kit]:
        """The per-check helper; skips the check if it needs a missing capability."""
        s = psij_session
        for cap in getattr(request.function, REQUIRES_ATTR, ()):
            request.node.user_properties.append(('psij_capability', cap))
            reason = s.unsupported.get(cap)
            if reason is not None:
                pytest.skip('unsupported capability %s: %s' % (cap, reason))
        name = re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)[:80]
        directory = Path(tempfile.mkdtemp(prefix=name + '-', dir=s.run_dir))
        k = Kit(s.options, s.executor, s.recorder, directory, s.unsupported, s.scheduler_view,
                s.make_executor)
        try:
            yield k
        finally:
            k.close()
