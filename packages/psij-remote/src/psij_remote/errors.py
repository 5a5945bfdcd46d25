"""Exceptions of psij-remote, and how exceptions travel between the two ends."""

from __future__ import annotations

from typing import Any, Dict, Optional

from psij.exceptions import (
    ExecutableError,
    InvalidJobException,
    JobSpecTypeError,
    JobSpecValueError,
    SubmitException,
)

from psij_remote.protocol import ErrorInfo


class RemoteError(SubmitException):
    """
    Something between this process and the far end went wrong: ssh could not connect or log
    in, the far end has no (or another version of) psij-remote, or the connection is down.

    `host` names the far end ("user@host:port"); `transient` is `True` where a retry may help
    (a dropped connection), `False` where it will fail the same way (a refused host key).
    """

    def __init__(self, host: str, message: str, transient: bool = False,
                 exception: Optional[BaseException] = None) -> None:
        """:param host: the far end; :param message: what went wrong there."""
        super().__init__('%s: %s' % (host, message), exception, transient)
        self.host = host


# Exception types the far end's errors become here (anything else becomes a SubmitException
# naming its type): the executor's contract is kept across the hop.
_TYPES: Dict[str, Any] = {
    'InvalidJobException': InvalidJobException,
    'JobSpecValueError': JobSpecValueError,
    'JobSpecTypeError': JobSpecTypeError,
    'ExecutableError': ExecutableError,
    'ValueError': ValueError,
    'TypeError': TypeError,
    'KeyError': KeyError,
}


def to_info(ex: BaseException) -> ErrorInfo:
    """The travelling form of an exception raised by the far end's executor."""
    name = type(ex).__name__
    for base in type(ex).__mro__:
        if base.__name__ in _TYPES or base is SubmitException:
            name = base.__name__
            break
    message = getattr(ex, 'message', None) or str(ex)
    if isinstance(ex, (InvalidJobException, SubmitException)) and str(ex) != message:
        message = str(ex)
    return ErrorInfo(type=name, message=str(message),
                     transient=bool(getattr(ex, 'transient', False)),
                     extra={'class': '%s.%s' % (type(ex).__module__, type(ex).__qualname__)})


def from_info(info: ErrorInfo, host: str) -> Exception:
    """The exception to raise here for an error of the far end."""
    if info.type == 'RemoteProtocolError':
        return RemoteError(host, 'the far end refused a message: %s' % info.message)
    cls = _TYPES.get(info.type)
    if cls is not None:
        exc: Exception = cls(info.message)
        return exc
    if info.type == 'SubmitException':
        return SubmitException(info.message, transient=info.transient)
    return SubmitException('%s (%s on %s)' % (info.message, info.type, host),
                           transient=info.transient)
