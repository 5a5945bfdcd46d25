"""
The message protocol spoken over the ssh channel, defined once for both ends.

Each message is one line of JSON (ASCII only: every Python string, lone surrogates and control
characters included, round-trips byte-exact) holding an object with an ``op``. The far end
speaks first, a `Hello`; then the client sends requests, each with an ``id`` it chose, and the
far end answers each with a reply carrying the same ``id``: ``{"op": "reply", "id": 7, "ok":
{...}}`` or ``{"op": "reply", "id": 7, "error": {"type": ..., "message": ...}}``. Status changes
of jobs travel unasked as `StatusEvent` messages.

`PROTOCOL_VERSION` changes whenever a message changes incompatibly; both ends refuse a peer of
another version with a message naming both versions.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Type, TypeVar, Union

PROTOCOL_VERSION = 1
"""The version of this protocol."""

MAX_LINE = 64 * 1024 * 1024
"""The longest message either end accepts (a submit_many of thousands of jobs fits)."""

STAGE_CHUNK = 1024 * 1024
"""Bytes of a file carried by one staging message."""

_JSON = (str, int, float, bool, type(None), list, dict)


class ProtocolError(Exception):
    """A message that is not one of this protocol's (bad JSON, unknown op, bad field)."""


@dataclass(frozen=True)
class Message:
    """Base of all messages; `OP` is the ``op`` field on the wire."""

    OP: ClassVar[str] = ''
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {}

    def to_wire(self, **extra: Any) -> bytes:
        """The message as one line of JSON (with ``extra`` fields, e.g. a request's id)."""
        d = asdict(self)
        d['op'] = self.OP
        d.update(extra)
        return encode(d)


M = TypeVar('M', bound=Message)


def encode(d: Dict[str, Any]) -> bytes:
    """One JSON line."""
    return json.dumps(d, separators=(',', ':')).encode('ascii') + b'\n'


def decode(line: bytes) -> Dict[str, Any]:
    """The object of one JSON line; raises `ProtocolError`."""
    try:
        d = json.loads(line)
    except (ValueError, UnicodeDecodeError) as ex:
        raise ProtocolError('not a JSON message: %s' % ex) from None
    if not isinstance(d, dict) or not isinstance(d.get('op'), str):
        raise ProtocolError('a message must be a JSON object with an "op" string')
    return d


def _check(cls: Type[M], d: Dict[str, Any]) -> M:
    kwargs: Dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ProtocolError('%s: field %r is missing' % (cls.OP, f.name))
            continue
        v = d[f.name]
        types = cls.TYPES.get(f.name, _JSON)
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise ProtocolError('%s: field %r has the wrong type (%s)'
                                % (cls.OP, f.name, type(v).__name__))
        kwargs[f.name] = v
    return cls(**kwargs)


# -- the far end's greeting ----------------------------------------------------------------------

@dataclass(frozen=True)
class Hello(Message):
    """The far end's first message: who it is."""

    OP: ClassVar[str] = 'hello'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'protocol': (int,), 'psij_remote': (str,), 'psij_core': (str,), 'python': (str,),
        'host': (str,), 'user': (str,), 'pid': (int,)}
    protocol: int
    psij_remote: str
    psij_core: str
    python: str
    host: str
    user: str
    pid: int


# -- requests (client -> far end) ----------------------------------------------------------------

@dataclass(frozen=True)
class Session(Message):
    """Names the client, whose submissions the far end remembers across connections."""

    OP: ClassVar[str] = 'session'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'client': (str,)}
    client: str


@dataclass(frozen=True)
class Open(Message):
    """Makes executor `eid` (chosen by the client) an instance of `executor` there."""

    OP: ClassVar[str] = 'open'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'eid': (int,), 'executor': (str,), 'version_constraint': (str, type(None)),
        'config': (dict, type(None))}
    eid: int
    executor: str
    version_constraint: Optional[str] = None
    config: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Close(Message):
    """Forgets executor `eid` (its jobs go on)."""

    OP: ClassVar[str] = 'close'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,)}
    eid: int


@dataclass(frozen=True)
class Submit(Message):
    """Submits `spec` (psij's JSON form) as job `job`; `key` makes a retry harmless."""

    OP: ClassVar[str] = 'submit'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'eid': (int,), 'job': (str,), 'key': (str,), 'spec': (dict,)}
    eid: int
    job: str
    key: str
    spec: Dict[str, Any]


@dataclass(frozen=True)
class SubmitMany(Message):
    """Submits several jobs at once: `jobs` holds ``{"job", "key", "spec"}`` objects."""

    OP: ClassVar[str] = 'submit_many'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,), 'jobs': (list,)}
    eid: int
    jobs: List[Dict[str, Any]]


@dataclass(frozen=True)
class Cancel(Message):
    """Cancels job `job`."""

    OP: ClassVar[str] = 'cancel'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,), 'job': (str,)}
    eid: int
    job: str


@dataclass(frozen=True)
class Attach(Message):
    """Follows the far end's job `native_id` as job `job`."""

    OP: ClassVar[str] = 'attach'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'eid': (int,), 'job': (str,), 'native_id': (str,)}
    eid: int
    job: str
    native_id: str


@dataclass(frozen=True)
class AttachMany(Message):
    """Attaches several jobs at once: `jobs` holds ``{"job", "native_id"}`` objects."""

    OP: ClassVar[str] = 'attach_many'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,), 'jobs': (list,)}
    eid: int
    jobs: List[Dict[str, Any]]


@dataclass(frozen=True)
class ListJobs(Message):
    """The native ids the far end's executor lists."""

    OP: ClassVar[str] = 'list'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,)}
    eid: int


@dataclass(frozen=True)
class Script(Message):
    """The submit script executor `eid` would write for `spec` (batch executors only)."""

    OP: ClassVar[str] = 'script'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'eid': (int,), 'spec': (dict,)}
    eid: int
    spec: Dict[str, Any]


@dataclass(frozen=True)
class Plugins(Message):
    """The executors and launchers installed there, and plugins that failed to load."""

    OP: ClassVar[str] = 'plugins'


@dataclass(frozen=True)
class StageArea(Message):
    """Makes a private directory there for one job's client files; replies its path."""

    OP: ClassVar[str] = 'stage_area'


@dataclass(frozen=True)
class StagePut(Message):
    """Writes `data` (base64) at `offset` of file `path` (inside a stage area); `mode` is
    the file mode to set when `last`."""

    OP: ClassVar[str] = 'stage_put'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'path': (str,), 'offset': (int,), 'data': (str,), 'last': (bool,), 'mode': (int,)}
    path: str
    offset: int
    data: str
    last: bool
    mode: int = 0o600


@dataclass(frozen=True)
class StageGet(Message):
    """Reads up to `STAGE_CHUNK` bytes of file `path` (inside a stage area) from `offset`."""

    OP: ClassVar[str] = 'stage_get'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'path': (str,), 'offset': (int,)}
    path: str
    offset: int


@dataclass(frozen=True)
class StageList(Message):
    """What a stage area holds: ``{"entries": [{"path", "kind", "mode", "size"}]}``,
    recursively, directories before their contents."""

    OP: ClassVar[str] = 'stage_list'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'path': (str,)}
    path: str


@dataclass(frozen=True)
class StageMkdir(Message):
    """Makes directory `path` inside a stage area."""

    OP: ClassVar[str] = 'stage_mkdir'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'path': (str,)}
    path: str


@dataclass(frozen=True)
class StageRemove(Message):
    """Removes a stage area (or a path inside one) and all it holds."""

    OP: ClassVar[str] = 'stage_remove'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {'path': (str,)}
    path: str


@dataclass(frozen=True)
class Ping(Message):
    """Answers at once (a liveness check)."""

    OP: ClassVar[str] = 'ping'


REQUESTS: Dict[str, Type[Message]] = {c.OP: c for c in (
    Session, Open, Close, Submit, SubmitMany, Cancel, Attach, AttachMany, ListJobs, Script,
    Plugins,
    StageArea, StagePut, StageGet, StageList, StageMkdir, StageRemove, Ping)}
"""Every request, by op."""


def parse_request(d: Dict[str, Any]) -> Tuple[int, Message]:
    """(id, request) of a decoded message; raises `ProtocolError` (with the id, if any, in
    its ``request_id``)."""
    rid = d.get('id')
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise ProtocolError('a request needs an integer "id"')
    cls = REQUESTS.get(d['op'])
    try:
        if cls is None:
            raise ProtocolError('unknown operation %r' % (d['op'][:100],))
        return rid, _check(cls, d)
    except ProtocolError as ex:
        ex.request_id = rid  # type: ignore[attr-defined]
        raise


# -- messages of the far end ---------------------------------------------------------------------

@dataclass(frozen=True)
class StatusEvent(Message):
    """A status change of job `job` (sent unasked, in the order of the job's states)."""

    OP: ClassVar[str] = 'status'
    TYPES: ClassVar[Dict[str, Tuple[type, ...]]] = {
        'job': (str,), 'state': (str,), 'time': (float, int, type(None)),
        'message': (str, type(None)), 'exit_code': (int, type(None)),
        'native_id': (str, type(None)), 'metadata': (dict, type(None))}
    job: str
    state: str
    time: Optional[float] = None
    message: Optional[str] = None
    exit_code: Optional[int] = None
    native_id: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None


def parse_event(d: Dict[str, Any]) -> StatusEvent:
    """The `StatusEvent` of a decoded message; raises `ProtocolError`."""
    return _check(StatusEvent, d)


def parse_hello(d: Dict[str, Any]) -> Hello:
    """The `Hello` of a decoded message; raises `ProtocolError`."""
    if d.get('op') != Hello.OP:
        raise ProtocolError('expected a hello, got %r' % (d.get('op'),))
    proto = d.get('protocol')
    if isinstance(proto, int) and proto != PROTOCOL_VERSION:
        # tell the version apart from a malformed greeting
        raise VersionMismatch(proto, str(d.get('psij_remote', '?')))
    return _check(Hello, d)


class VersionMismatch(ProtocolError):
    """The far end speaks another version of the protocol."""

    def __init__(self, theirs: int, their_release: str) -> None:
        """:param theirs: their protocol version; :param their_release: their psij-remote."""
        super().__init__('protocol version %d (psij-remote %s) there, %d here'
                         % (theirs, their_release, PROTOCOL_VERSION))
        self.theirs = theirs
        self.their_release = their_release


@dataclass
class ErrorInfo:
    """An exception as it travels: its type's name, its message, and details."""

    type: str
    message: str
    transient: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The wire form."""
        return asdict(self)

    @staticmethod
    def from_dict(d: Any) -> ErrorInfo:
        """From the wire form (tolerant: a malformed one becomes a plain error)."""
        if not isinstance(d, dict):
            return ErrorInfo('RemoteError', 'malformed error %r' % (d,))
        return ErrorInfo(type=str(d.get('type', 'RemoteError')),
                         message=str(d.get('message', '')),
                         transient=bool(d.get('transient', False)),
                         extra=dict(d['extra']) if isinstance(d.get('extra'), dict) else {})


def reply(rid: int, ok: Union[Dict[str, Any], None] = None,
          error: Optional[ErrorInfo] = None) -> bytes:
    """A reply line."""
    if error is not None:
        return encode({'op': 'reply', 'id': rid, 'error': error.to_dict()})
    return encode({'op': 'reply', 'id': rid, 'ok': ok if ok is not None else {}})
