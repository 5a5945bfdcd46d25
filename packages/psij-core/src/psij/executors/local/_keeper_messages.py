"""The messages between a submitting process and its keeper (`psij.executors.local._keeper`),
defined once, for both ends.

Each message is a `NamedTuple`; on the wire it is a `marshal`-encoded plain tuple, its tag
first (marshal decodes to plain data only, and encodes no tuple subclass). `decode` gives
back the typed message, or `None` for anything that is not one (a wrong tag or arity, bad
data), which the receiver ignores.

Requests (submitter -> keeper), served in the order sent: `Start` (with the job's standard
streams' descriptors; no reply is awaited before the next request), `Cancel`, `Final`.
Replies to a `Start` (keeper -> submitter, same socket): `Started` or `Refused`, in batches
(`encode_replies` / `decode_replies`). Job ends
(keeper -> submitter, second socket): a list of `JobEnd`, `encode_ends` / `decode_ends`.
"""

from __future__ import annotations

import marshal
from typing import Any, Dict, List, NamedTuple, Optional, Type, Union


class JobInfo(NamedTuple):
    """What the keeper needs of a job besides how to start it."""

    state_dir: str
    """Where the job's start and end are recorded."""
    stderr_path: str
    """The job's standard error file, whose end a failure message quotes (``''``: none)."""
    shell: bool
    """Whether a shell wrapper runs the job (it reports a death by signal N as 128 + N)."""
    defer: bool
    """Whether the submitter sends the final state (`Final`) after stage-out and cleanup."""
    nodefile: str
    """A file to delete when the job ends (``''``: none)."""


class Start(NamedTuple):
    """Start a job (its standard streams' descriptors travel with the request)."""

    key: int
    argv: List[str]
    executable: str
    cwd: str
    env: Any
    """The job's environment; ``('=', environment)``: the submitter's own (as bytes), which
    the keeper keeps; `None`: that kept environment."""
    slots: List[int]
    """Which of the standard streams (0, 1, 2) the passed descriptors are, in order."""
    job: JobInfo


class Cancel(NamedTuple):
    """Cancel a job: SIGTERM to its group, SIGKILL after `grace` seconds. No reply."""

    key: int
    grace: float


class Final(NamedTuple):
    """The final state of a job started with `JobInfo.defer`, for the keeper to record."""

    key: int
    state: str
    exit_code: Optional[int]
    message: Optional[str]


class Started(NamedTuple):
    """The keeper started the job."""

    key: int
    pid: int
    native_id: str


class Refused(NamedTuple):
    """The keeper could not start the job."""

    key: int
    errno: int
    strerror: str
    filename: Optional[str]
    during: str
    """``'start'``, ``'watch'`` or ``'invalid'`` (argv or environment refused, e.g. a NUL);
    the submitter adds ``'gone'`` (the keeper died before it answered)."""


class JobEnd(NamedTuple):
    """A job's end, as the keeper sends it."""

    key: int
    state: str
    exit_code: Optional[int]
    message: Optional[str]


Request = Union[Start, Cancel, Final]
Reply = Union[Started, Refused]
Message = Union[Request, Reply]

_TAGS: Dict[type, str] = {Start: 's', Cancel: 'c', Final: 'e', Started: 'ok', Refused: 'err'}
_BY_TAG: Dict[str, Type[Any]] = {tag: cls for cls, tag in _TAGS.items()}


def encode(msg: Message) -> bytes:
    """The wire form of `msg`."""
    fields = tuple(msg)
    if isinstance(msg, Start):
        fields = fields[:-1] + (tuple(msg.job),)
    return marshal.dumps((_TAGS[type(msg)],) + fields)


def decode(data: bytes) -> Optional[Message]:
    """The message `data` encodes, or `None` if it is not one."""
    try:
        raw = marshal.loads(data)
        cls = _BY_TAG[raw[0]]
        if cls is Start:
            key, argv, executable, cwd, env, slots, job = raw[1:]
            return Start(key, argv, executable, cwd, env, slots, JobInfo(*job))
        msg: Message = cls(*raw[1:])
        return msg
    except (ValueError, EOFError, TypeError, IndexError, KeyError):
        return None


def encode_replies(replies: List[Reply]) -> bytes:
    """The wire form of a batch of replies."""
    return marshal.dumps([(_TAGS[type(r)],) + tuple(r) for r in replies])


def decode_replies(data: bytes) -> List[Reply]:
    """The replies `data` encodes; anything that is not one is left out."""
    try:
        raw = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return []
    out: List[Reply] = []
    if not isinstance(raw, list):
        return out
    for r in raw:
        try:
            cls = _BY_TAG[r[0]]
            if cls is Started or cls is Refused:
                out.append(cls(*r[1:]))
        except (TypeError, IndexError, KeyError):
            continue
    return out


def encode_ends(ends: List[JobEnd]) -> bytes:
    """The wire form of a batch of job ends."""
    return marshal.dumps([tuple(e) for e in ends])


def decode_ends(data: bytes) -> List[JobEnd]:
    """The job ends `data` encodes (none if it is not a batch of them)."""
    try:
        return [JobEnd(*e) for e in marshal.loads(data)]
    except (ValueError, EOFError, TypeError):
        return []
