"""
JSON serialization of job specifications.

Every field of a :class:`~psij.JobSpec` round-trips exactly, durations (to the microsecond),
resources, attributes, custom attributes (JSON values), environment (in order), staging and
paths included. The document is a JSON object whose keys are the `JobSpec` property names::

    {"executable": "/bin/echo", "arguments": ["hi"],
     "resources": {"node_count": 2, "processes_per_node": 4},
     "attributes": {"duration": "1:30:00", "queue_name": "debug",
                    "custom_attributes": {"slurm.qos": "high"}},
     "stage_out": [{"source": "out.txt", "target": "file:///home/me/out.txt",
                    "flags": ["ON_SUCCESS", "IF_PRESENT"]}]}

Durations are written as ``[D-]H:MM:SS[.ffffff]``; on reading, a number of seconds and the
formats of :meth:`JobAttributes.parse_walltime` are accepted too. Unknown fields and values of
the wrong type are errors that name the field (``attributes.queue``).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from datetime import timedelta
from typing import IO, Any, Callable, Dict, List, Optional

from psij.exceptions import InvalidJobException, JobSpecValueError
from psij.job_attributes import JobAttributes
from psij.job_spec import JobSpec
from psij.resource_spec import ResourceSpecV1
from psij.staging import StageIn, StageOut, StageOutFlags, StagingMode

FORMAT_VERSION = 1

_SIMPLE_FIELDS = ('executable', 'arguments', 'directory', 'name', 'inherit_environment',
                  'environment', 'stdin_path', 'stdout_path', 'stderr_path', 'pre_launch',
                  'post_launch', 'launcher')
_RESOURCE_FIELDS = ('node_count', 'process_count', 'processes_per_node', 'cpu_cores_per_process',
                    'gpu_cores_per_process', 'exclusive_node_use', 'memory')
_DURATION_RE = re.compile(r'(?:(\d+)-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?')


def format_duration(d: timedelta) -> str:
    """Formats a duration as ``[D-]H:MM:SS[.ffffff]`` (exact)."""
    days, secs, us = d.days, d.seconds, d.microseconds
    if days < 0:
        raise JobSpecValueError('attributes.duration: negative durations cannot be serialized')
    s = '%d:%02d:%02d' % (secs // 3600, secs // 60 % 60, secs % 60)
    if days:
        s = '%d-%s' % (days, s)
    if us:
        s += '.%06d' % us
    return s


def parse_duration(value: Any, field: str = 'attributes.duration') -> timedelta:
    """Reads a duration written by :func:`format_duration`, a number of seconds, or a walltime."""
    if isinstance(value, bool):
        raise _type(field, value, 'a duration string or a number of seconds')
    if not isinstance(value, (int, float, str)):
        raise _type(field, value, 'a duration string or a number of seconds')
    try:
        if not isinstance(value, str):
            return timedelta(seconds=value)
        m = _DURATION_RE.fullmatch(value.strip())
        if m:
            days, h, mi, s, frac = m.groups()
            return timedelta(days=int(days or 0), hours=int(h), minutes=int(mi), seconds=int(s),
                             microseconds=int((frac or '0').ljust(6, '0')))
    except (OverflowError, ValueError) as ex:  # too long (or NaN) for a timedelta
        raise JobSpecValueError('%s: %r is not a duration: %s' % (field, value, ex)) from None
    try:
        return JobAttributes.parse_walltime(value)
    except InvalidJobException as ex:
        raise JobSpecValueError('%s: %s' % (field, ex.message)) from None


def _type(field: str, value: Any, expected: str) -> JobSpecValueError:
    return JobSpecValueError('%s: expected %s, got %s %r'
                             % (field, expected, type(value).__name__, value))


def _check_keys(d: Dict[str, Any], allowed: tuple[str, ...] | List[str], where: str) -> None:
    for k in d:
        if k not in allowed:
            raise JobSpecValueError('%s%s: unknown field (known fields: %s)'
                                    % (where, k if k.isprintable() else repr(k),
                                       ', '.join(allowed)))


def _flags_to_names(flags: StageOutFlags) -> List[str]:
    if flags == StageOutFlags.NONE:
        return ['NONE']
    if flags == StageOutFlags.ALWAYS:
        return ['ALWAYS']
    if int(flags) & int(StageOutFlags.ALWAYS) == int(StageOutFlags.ALWAYS):
        return ['ALWAYS', 'IF_PRESENT']  # ALWAYS alone was handled above
    names = ('IF_PRESENT', 'ON_SUCCESS', 'ON_ERROR', 'ON_CANCEL')
    return [n for n in names if flags & StageOutFlags[n]]


def _names_to_flags(value: Any, field: str) -> StageOutFlags:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _type(field, value, 'a list of flag names')
    flags = StageOutFlags.NONE
    for n in value:
        if not isinstance(n, str) or n not in StageOutFlags.__members__:
            raise JobSpecValueError('%s: unknown flag %r (known: %s)'
                                    % (field, n, ', '.join(StageOutFlags.__members__)))
        flags |= StageOutFlags[n]
    return flags


def _mode(value: Any, field: str) -> StagingMode:
    if not isinstance(value, str) or value not in StagingMode.__members__:
        raise JobSpecValueError('%s: unknown staging mode %r (known: %s)'
                                % (field, value, ', '.join(StagingMode.__members__)))
    return StagingMode[value]


class Serializer(ABC):
    """Converts job specifications to and from a document format."""

    def dump(self, spec: JobSpec, stream: IO[str]) -> None:
        """Writes `spec` to a text stream."""
        stream.write(self.dumps(spec))

    def load(self, stream: IO[str]) -> JobSpec:
        """Reads a specification from a text stream."""
        return self.loads(stream.read())

    def dumps(self, spec: JobSpec) -> str:
        """Returns `spec` as a string."""
        return self._encode(self.to_dict(spec))

    def loads(self, s: str) -> JobSpec:
        """
        Reads a specification from a string.

        :raises InvalidJobException: for a malformed document, an unknown field, or a value
            of the wrong type or out of range; the message names the field.
        """
        return self.from_dict(self._decode(s))

    @abstractmethod
    def _encode(self, d: Dict[str, Any]) -> str: ...

    @abstractmethod
    def _decode(self, s: str) -> Dict[str, Any]: ...

    # -- JobSpec <-> plain data ------------------------------------------------------------------

    def to_dict(self, spec: JobSpec) -> Dict[str, Any]:
        """Returns `spec` as plain data (only fields that differ from their defaults)."""
        d: Dict[str, Any] = {}
        for f in _SIMPLE_FIELDS:
            v = spec._name if f == 'name' else getattr(spec, f)
            if v is None or (f == 'inherit_environment' and v is True):
                continue
            d[f] = v if isinstance(v, (str, bool, list, dict)) else str(v)
        if spec.environment is not None:
            d['environment'] = dict(spec.environment)
        r = spec.resources
        if r is not None:
            if not isinstance(r, ResourceSpecV1):
                raise JobSpecValueError('resources: only ResourceSpecV1 can be serialized, not '
                                        '%s' % type(r).__name__)
            # 0 is a value (no GPUs), False the default of exclusive_node_use
            d['resources'] = {k: getattr(r, k) for k in _RESOURCE_FIELDS
                              if getattr(r, k) is not None and getattr(r, k) is not False}
        a = spec._attributes
        if a is not None:
            ad: Dict[str, Any] = {}
            if a.duration != timedelta(minutes=10):
                ad['duration'] = format_duration(a.duration)
            for k in ('queue_name', 'account', 'reservation_id'):
                if getattr(a, k) is not None:
                    ad[k] = getattr(a, k)
            if a.custom_attributes is not None:
                ad['custom_attributes'] = _json_value(a.custom_attributes,
                                                      'attributes.custom_attributes')
            if ad:  # default attributes are no attributes (the getter creates them)
                d['attributes'] = ad
        if spec.stage_in is not None:
            d['stage_in'] = sorted(
                ({'source': str(s.source), 'target': str(s.target), 'mode': s.mode.name}
                 for s in spec.stage_in), key=lambda x: (x['source'], x['target']))
        if spec.stage_out is not None:
            d['stage_out'] = sorted(
                ({'source': str(s.source), 'target': str(s.target),
                  'flags': _flags_to_names(s.flags), 'mode': s.mode.name}
                 for s in spec.stage_out), key=lambda x: (x['source'], x['target']))
        if spec.cleanup is not None:
            d['cleanup'] = sorted(str(p) for p in spec.cleanup)
        if spec.cleanup_flags != StageOutFlags.ALWAYS:
            d['cleanup_flags'] = _flags_to_names(spec.cleanup_flags)
        return d

    def from_dict(self, d: Any) -> JobSpec:
        """Builds a `JobSpec` from plain data produced by :meth:`to_dict` (or written by hand)."""
        if not isinstance(d, dict):
            raise _type('(document)', d, 'a JSON object')
        known = list(_SIMPLE_FIELDS) + ['resources', 'attributes', 'stage_in', 'stage_out',
                                        'cleanup', 'cleanup_flags']
        _check_keys(d, known, '')
        kwargs: Dict[str, Any] = {k: d[k] for k in _SIMPLE_FIELDS if k in d}
        _expect(kwargs, 'inherit_environment', bool, 'true or false')
        for k in ('executable', 'name', 'launcher', 'directory', 'stdin_path', 'stdout_path',
                  'stderr_path', 'pre_launch', 'post_launch'):
            _expect(kwargs, k, str, 'a string')
        _expect(kwargs, 'arguments', list, 'a list of strings')
        _expect(kwargs, 'environment', dict, 'an object of strings')
        if 'resources' in d:
            kwargs['resources'] = _section(d['resources'], 'resources', _RESOURCE_FIELDS,
                                           lambda r: ResourceSpecV1(**r))
        if 'attributes' in d:
            kwargs['attributes'] = _section(d['attributes'], 'attributes',
                                            ('duration', 'queue_name', 'account',
                                             'reservation_id', 'custom_attributes'),
                                            _attributes)
        if 'stage_in' in d:
            kwargs['stage_in'] = {_section(x, 'stage_in[%d]' % i, ('source', 'target', 'mode'),
                                           _stage_in)
                                  for i, x in enumerate(_list(d['stage_in'], 'stage_in'))}
        if 'stage_out' in d:
            kwargs['stage_out'] = {_section(x, 'stage_out[%d]' % i,
                                            ('source', 'target', 'flags', 'mode'), _stage_out)
                                   for i, x in enumerate(_list(d['stage_out'], 'stage_out'))}
        if 'cleanup' in d:
            kwargs['cleanup'] = set(_strings(d['cleanup'], 'cleanup'))
        if 'cleanup_flags' in d:
            kwargs['cleanup_flags'] = _names_to_flags(d['cleanup_flags'], 'cleanup_flags')
        try:
            return JobSpec(**kwargs)
        except InvalidJobException as ex:
            raise JobSpecValueError(ex.message) from None


def _expect(kwargs: Dict[str, Any], key: str, t: type, what: str) -> None:
    if key in kwargs and kwargs[key] is not None and not isinstance(kwargs[key], t):
        raise _type(key, kwargs[key], what)


def _list(value: Any, field: str) -> List[Any]:
    if not isinstance(value, list):
        raise _type(field, value, 'a list')
    return value


def _strings(value: Any, field: str) -> List[str]:
    items = _list(value, field)
    for i, x in enumerate(items):
        if not isinstance(x, str):
            raise _type('%s[%d]' % (field, i), x, 'a string')
    return items


def _section(value: Any, field: str, allowed: tuple[str, ...],
             build: Callable[[Dict[str, Any]], Any]) -> Any:
    if not isinstance(value, dict):
        raise _type(field, value, 'a JSON object')
    _check_keys(value, allowed, field + '.')
    try:
        return build(dict(value))
    except InvalidJobException as ex:
        if ex.message.startswith(field):
            raise
        raise JobSpecValueError('%s: %s' % (field, ex.message)) from None


def _attributes(a: Dict[str, Any]) -> JobAttributes:
    if 'duration' in a:
        a['duration'] = parse_duration(a['duration'])
    for k in ('queue_name', 'account', 'reservation_id'):
        if k in a and a[k] is not None and not isinstance(a[k], str):
            raise _type('attributes.' + k, a[k], 'a string')
    if 'custom_attributes' in a and a['custom_attributes'] is not None and \
            not isinstance(a['custom_attributes'], dict):
        raise _type('attributes.custom_attributes', a['custom_attributes'], 'a JSON object')
    return JobAttributes(**a)


def _stage_in(x: Dict[str, Any]) -> StageIn:
    mode = _mode(x.get('mode', 'COPY'), 'stage_in.mode')
    return StageIn(x['source'], x['target'], mode) if 'source' in x and 'target' in x else \
        _missing('stage_in', x)


def _stage_out(x: Dict[str, Any]) -> StageOut:
    if 'source' not in x or 'target' not in x:
        _missing('stage_out', x)
    flags = _names_to_flags(x.get('flags', ['ALWAYS']), 'stage_out.flags')
    mode = _mode(x.get('mode', 'COPY'), 'stage_out.mode')
    return StageOut(x['source'], x['target'], flags, mode)


def _missing(field: str, x: Dict[str, Any]) -> Any:
    raise JobSpecValueError('%s: "source" and "target" are required, got %s' % (field, x))


def _json_value(v: Any, field: str) -> Any:
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, list):
        return [_json_value(x, '%s[%d]' % (field, i)) for i, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise _type(field, k, 'string keys')
            out[k] = _json_value(x, '%s.%s' % (field, k))
        return out
    raise _type(field, v, 'a JSON value (str, int, float, bool, None, list, dict)')


class JSONSerializer(Serializer):
    """Reads and writes job specifications as JSON."""

    def __init__(self, indent: Optional[int] = 2) -> None:
        """:param indent: indentation of the output; `None` for one line."""
        self.indent = indent

    def _encode(self, d: Dict[str, Any]) -> str:
        return json.dumps(d, indent=self.indent, ensure_ascii=False)

    def _decode(self, s: str) -> Dict[str, Any]:
        try:
            d = json.loads(s)
        except json.JSONDecodeError as ex:
            raise JobSpecValueError('Malformed JSON at line %d, column %d: %s'
                                    % (ex.lineno, ex.colno, ex.msg)) from None
        except RecursionError:
            raise JobSpecValueError('Malformed JSON: nested too deeply') from None
        except ValueError as ex:  # e.g. an integer of more than 4300 digits
            raise JobSpecValueError('Malformed JSON: %s' % ex) from None
        if not isinstance(d, dict):
            raise _type('(document)', d, 'a JSON object')
        return d
