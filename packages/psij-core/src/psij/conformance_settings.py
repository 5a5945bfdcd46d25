"""
The kit's settings: which executor to check, how to reach the scheduler, how long to wait.

Every setting can be given three ways, and the first one found wins:

1. the ``--psij-<name>`` command-line option (when the kit's pytest plugin is loaded; ``psij
   conformance NAME --<name> ...`` passes it on);
2. the environment variable ``PSIJ_CONFORMANCE_<NAME>``;
3. the attribute ``<name>`` of the test class, when a plugin's test file subclasses the kit's
   classes (``import_`` for ``import``, a Python keyword; ``scheduler_view`` may also be a
   method, see :class:`psij.conformance.base.KitBase`);

and otherwise its default. Both the command line and the environment are chosen by whoever
runs the tests, so they override what a test file sets. The settings that name several
things (``attr``, ``unsupported``: ``NAME=VALUE`` pairs; ``import``: a list) are merged
instead: the class's entries, then the environment's, then the command line's, a later value
replacing an earlier one of the same name. In the environment, pairs and lists are separated
by commas (``PSIJ_CONFORMANCE_UNSUPPORTED=walltime=why,memory_limits=why``), and a switch
(``require_detected``) is ``1``/``true``/``yes`` or ``0``/``false``/``no``.

A value that cannot be read (``PSIJ_CONFORMANCE_TIMEOUT=soon``) is a `SettingError` naming its
source, never a traceback from deep inside a check.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ENV_PREFIX = 'PSIJ_CONFORMANCE_'

KINDS = ('str', 'float', 'int', 'bool', 'pairs', 'list')


class SettingError(ValueError):
    """A setting's value cannot be read; the message names the setting and where it came
    from."""


@dataclass(frozen=True)
class Setting:
    """One setting: its name, command-line help and how to parse a string value."""

    name: str
    help: str
    default: Any = None
    kind: str = 'str'
    """One of `KINDS`: ``pairs`` is repeatable ``K=V``, ``list`` repeatable, ``bool`` a
    switch."""

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--psij-executor``."""
        return '--psij-' + self.name.replace('_', '-')

    @property
    def dest(self) -> str:
        """The attribute name in pytest's option namespace."""
        return 'psij_' + self.name

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``PSIJ_CONFORMANCE_EXECUTOR``."""
        return ENV_PREFIX + self.name.upper()

    @property
    def attribute(self) -> str:
        """The test class attribute (``import_`` for ``import``)."""
        return 'import_' if self.name == 'import' else self.name

    @property
    def merged(self) -> bool:
        """Whether values from several sources are merged rather than the first one taken."""
        return self.kind in ('pairs', 'list')


SETTINGS: Tuple[Setting, ...] = (
    Setting('executor', 'name of the executor to check (required)'),
    Setting('launcher', 'launcher for the jobs (default: the executor\'s default, "single")'),
    Setting('url', 'URL passed to JobExecutor.get_instance'),
    Setting('queue', 'queue (partition) for every job'),
    Setting('account', 'account (project) for every job'),
    Setting('reservation', 'reservation for every job'),
    Setting('attr', 'custom attribute NAME=VALUE for every job, e.g. slurm.qos=debug '
            '(repeatable)', kind='pairs'),
    Setting('work_dir', 'directory for the kit\'s files, visible to the compute nodes '
            '(default: a new directory under ~/.psij/conformance, removed after a clean run)'),
    Setting('timeout', 'seconds a single check may wait for its jobs', 120.0, 'float'),
    Setting('smoke_timeout', 'seconds the smoke job (one trivial job, run before the other '
            'checks) may take from submit to its end; when it fails, every job check fails at '
            'once', 30.0, 'float'),
    Setting('stuck_timeout', 'seconds a check gives a job that must end: a canceled job\'s '
            'process still running that long counts as an ignored cancel, an ended process '
            'unreported that long as a lost end', 20.0, 'float'),
    Setting('site', 'site id for the report (default: the host name)'),
    Setting('unsupported', 'declare a capability missing on this site, NAME=REASON '
            '(repeatable)', kind='pairs'),
    Setting('require_detected', 'run the checks of capabilities detected as missing on this '
            'site (they fail instead of skipping); for a CI that knows its cluster', False,
            'bool'),
    Setting('scheduler_view', 'MODULE:FUNCTION returning the scheduler\'s view of a job as '
            'a dict, for the resource and attribute checks'),
    Setting('processes', 'number of processes for the multi-process checks', 2, 'int'),
    Setting('nodes', 'number of nodes for the multi-node checks', 2, 'int'),
    Setting('bulk', 'number of jobs submitted at once by the bulk check', 100, 'int'),
    Setting('crash_jobs', 'number of jobs the crash-recovery check submits from a process it '
            'then kills', 50, 'int'),
    Setting('walltime', 'walltime in seconds requested by the walltime-enforcement check '
            '(use the scheduler\'s granularity, e.g. 60 for Slurm)', 2.0, 'float'),
    Setting('import', 'module to import before the checks, e.g. one that registers the '
            'executor (repeatable; also imported by helper processes)', kind='list'),
    Setting('report_json', 'where to write the JSON summary'),
)
"""All settings, in the order ``--help`` shows them."""

BY_NAME = {s.name: s for s in SETTINGS}

_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('0', 'false', 'no', 'off', '')


def parse_pairs(values: List[str], what: str) -> Dict[str, str]:
    """Parses ``NAME=VALUE`` strings into a dict.

    :raises SettingError: for a string without ``=``.
    """
    out: Dict[str, str] = {}
    for v in values:
        name, sep, value = v.partition('=')
        if not sep or not name.strip():
            raise SettingError('%s must be NAME=VALUE, not %r' % (what, v))
        out[name.strip()] = value
    return out


def _parse_str(s: Setting, raw: str, where: str) -> Any:
    """Parses a string value (from the environment or the command line) of setting `s`."""
    try:
        if s.kind == 'float':
            return float(raw)
        if s.kind == 'int':
            return int(raw)
    except ValueError:
        raise SettingError('%s must be a%s number, not %r'
                           % (where, 'n integer' if s.kind == 'int' else '', raw)) from None
    if s.kind == 'bool':
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise SettingError('%s must be 1 or 0 (true/false, yes/no), not %r' % (where, raw))
    if s.kind in ('pairs', 'list'):
        items = [x for x in raw.split(',') if x.strip()]
        return parse_pairs(items, where) if s.kind == 'pairs' else [x.strip() for x in items]
    return raw


def _normalise(s: Setting, value: Any, where: str) -> Any:
    """Checks and converts a value given as a Python object (command line, class)."""
    if value is None:
        return None
    if isinstance(value, str):
        if s.kind in ('pairs', 'list'):
            return _parse_str(s, value, where)
        return _parse_str(s, value, where) if s.kind != 'str' else value
    if s.kind == 'pairs':
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return parse_pairs([str(v) for v in value], where)
    elif s.kind == 'list':
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
    elif s.kind == 'bool':
        if isinstance(value, bool):
            return value
    elif s.kind in ('int', 'float') and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        return int(value) if s.kind == 'int' else float(value)
    elif s.kind == 'str' and isinstance(value, Path):
        return str(value)
    raise SettingError('%s has the wrong type: %r (expected %s)' % (where, value, s.kind))


def _from_env(s: Setting) -> Any:
    raw = os.environ.get(s.env)
    if raw is None or (raw == '' and s.kind != 'bool'):
        return None
    return _parse_str(s, raw, 'the environment variable %s' % s.env)


def _from_class(s: Setting, owner: Any) -> Any:
    if owner is None:
        return None
    value = getattr(owner, s.attribute, None)
    if s.name == 'scheduler_view' and not isinstance(value, str):
        return None  # the hook method of KitBase, not a MODULE:FUNCTION string
    if callable(value) and not isinstance(value, type):
        return None
    where = 'the test class attribute %s.%s' % (getattr(owner, '__name__', owner), s.attribute)
    return _normalise(s, value, where)


def _empty(v: Any) -> bool:
    return v is None or v == [] or v == {}


def resolve_value(s: Setting, cli: Any, owner: Any = None) -> Any:
    """The value of one setting, from the command line value `cli` (`None` if not given), the
    environment and `owner`'s attribute, in that order (see the module's docstring)."""
    cli = _normalise(s, cli, 'the option %s' % s.flag)
    env = _from_env(s)
    cls = _from_class(s, owner)
    if s.merged:
        sources = [v for v in (cls, env, cli) if not _empty(v)]
        if not sources:
            return None
        if s.kind == 'pairs':
            out: Dict[str, str] = {}
            for v in sources:
                out.update(v)
            return out
        merged: List[str] = []
        for v in sources:
            merged += [x for x in v if x not in merged]
        return merged
    for v in (cli, env, cls):
        if v is not None:
            return v
    return None


@dataclass
class KitOptions:
    """The resolved settings of one run of the kit."""

    executor: Optional[str] = None
    launcher: Optional[str] = None
    url: Optional[str] = None
    queue: Optional[str] = None
    account: Optional[str] = None
    reservation: Optional[str] = None
    attr: Dict[str, str] = field(default_factory=dict)
    work_dir: Optional[str] = None
    timeout: float = 120.0
    smoke_timeout: float = 30.0
    stuck_timeout: float = 20.0
    site: Optional[str] = None
    unsupported: Dict[str, str] = field(default_factory=dict)
    require_detected: bool = False
    scheduler_view: Optional[str] = None
    processes: int = 2
    nodes: int = 2
    bulk: int = 100
    crash_jobs: int = 50
    walltime: float = 2.0
    import_: List[str] = field(default_factory=list)
    report_json: Optional[str] = None

    @property
    def site_id(self) -> str:
        """The site id for the report."""
        return self.site or socket.gethostname()

    @staticmethod
    def resolve(getoption: Callable[[str], Any], owner: Any = None) -> KitOptions:
        """
        Resolves every setting (see the module's docstring for the order).

        :param getoption: returns the command-line value for a pytest ``dest`` name, or
            `None` if the option was not given or is not declared.
        :param owner: an object (the test class) whose attributes may provide values.
        :raises SettingError: for a value that cannot be read.
        """
        values: Dict[str, Any] = {}
        for s in SETTINGS:
            v = resolve_value(s, getoption(s.dest), owner)
            if v is not None:
                values['import_' if s.name == 'import' else s.name] = v
        return KitOptions(**values)

    def work_root(self) -> Path:
        """The directory under which the kit creates its files."""
        if self.work_dir:
            return Path(self.work_dir).expanduser().absolute()
        return Path.home() / '.psij' / 'conformance'
