"""
The kit's settings: which executor to check, and how to reach the scheduler.

Every setting comes, in this order of precedence, from the ``--psij-*`` command-line option
(when the kit's pytest plugin is loaded), from the attribute of the same name on the test
class (when a plugin subclasses the kit's test classes), from the environment variable
``PSIJ_CONFORMANCE_<NAME>``, or from its default.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ENV_PREFIX = 'PSIJ_CONFORMANCE_'


@dataclass(frozen=True)
class Setting:
    """One setting: its name, command-line help and how to parse a string value."""

    name: str
    help: str
    default: Any = None
    kind: str = 'str'
    """``str``, ``float``, ``int``, ``pairs`` (repeatable ``K=V``) or ``list`` (repeatable)."""

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
    Setting('site', 'site id for the report (default: the host name)'),
    Setting('unsupported', 'declare a capability missing on this site, NAME=REASON '
            '(repeatable)', kind='pairs'),
    Setting('scheduler_view', 'MODULE:FUNCTION returning the scheduler\'s view of a job as '
            'a dict, for the resource and attribute checks'),
    Setting('processes', 'number of processes for the multi-process checks', 2, 'int'),
    Setting('nodes', 'number of nodes for the multi-node checks', 2, 'int'),
    Setting('bulk', 'number of jobs submitted at once by the bulk check', 100, 'int'),
    Setting('walltime', 'walltime in seconds requested by the walltime-enforcement check '
            '(use the scheduler\'s granularity, e.g. 60 for Slurm)', 2.0, 'float'),
    Setting('import', 'module to import before the checks, e.g. one that registers the '
            'executor (repeatable; also imported by helper processes)', kind='list'),
    Setting('report_json', 'where to write the JSON summary'),
)
"""All settings, in the order ``--help`` shows them."""

BY_NAME = {s.name: s for s in SETTINGS}

# scheduler_view is a method of the test class, not a string setting
_NOT_FROM_CLASS = frozenset({'scheduler_view', 'report_json', 'import'})


def parse_pairs(values: List[str], what: str) -> Dict[str, str]:
    """Parses ``NAME=VALUE`` strings into a dict.

    :raises ValueError: for a string without ``=``.
    """
    out: Dict[str, str] = {}
    for v in values:
        name, sep, value = v.partition('=')
        if not sep or not name.strip():
            raise ValueError('%s must be NAME=VALUE, not %r' % (what, v))
        out[name.strip()] = value
    return out


def _from_env(s: Setting) -> Any:
    raw = os.environ.get(s.env)
    if raw is None or raw == '':
        return None
    if s.kind == 'float':
        return float(raw)
    if s.kind == 'int':
        return int(raw)
    if s.kind in ('pairs', 'list'):
        items = [x for x in raw.split(',') if x.strip()]
        return parse_pairs(items, s.env) if s.kind == 'pairs' else items
    return raw


def _convert(s: Setting, value: Any) -> Any:
    if s.kind == 'pairs' and isinstance(value, list):
        return parse_pairs(value, s.flag)
    return value


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
    site: Optional[str] = None
    unsupported: Dict[str, str] = field(default_factory=dict)
    scheduler_view: Optional[str] = None
    processes: int = 2
    nodes: int = 2
    bulk: int = 100
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
        Resolves every setting.

        :param getoption: returns the command-line value for a pytest ``dest`` name, or
            `None` if the option was not given or is not declared.
        :param owner: an object (the test class) whose attributes may provide values.
        """
        values: Dict[str, Any] = {}
        for s in SETTINGS:
            v = _convert(s, getoption(s.dest))
            if (v is None or v == [] or v == {}) and owner is not None \
                    and s.name not in _NOT_FROM_CLASS:
                v = getattr(owner, s.name, None)
            if v is None or v == [] or v == {}:
                # an empty default of a test class is no setting: the environment still counts
                env = _from_env(s)
                v = env if env is not None else v
            if v is None:
                continue
            values['import_' if s.name == 'import' else s.name] = v
        opts = KitOptions(**values)
        opts.attr = dict(opts.attr)
        opts.unsupported = dict(opts.unsupported)
        return opts

    def work_root(self) -> Path:
        """The directory under which the kit creates its files."""
        if self.work_dir:
            return Path(self.work_dir).expanduser().absolute()
        return Path.home() / '.psij' / 'conformance'
