"""The status of a job: a state plus the details of the transition to it."""

from __future__ import annotations

import time as _time

from psij.job_state import JobState

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any


class JobStatus:
    """Details about a job's transition to a new state."""

    __slots__ = ('state', 'time', 'message', 'exit_code', 'metadata')

    def __init__(self, state: JobState, time: float | None = None, message: str | None = None,
                 exit_code: int | None = None, metadata: dict[str, Any] | None = None) -> None:
        """
        :param state: the new state.
        :param time: when the transition happened, as given by :func:`time.time`; now if not
            given.
        :param message: an optional message, e.g. why a job failed.
        :param exit_code: the job's exit code, once it is known.
        :param metadata: optional executor-specific details.
        """
        self.state = state
        self.time = _time.time() if time is None else time
        self.message = message
        self.exit_code = exit_code
        self.metadata = metadata

    @property
    def final(self) -> bool:
        """`True` if the state is final."""
        return self.state.final

    def __eq__(self, other: object) -> bool:
        """Two statuses are equal when all their fields are."""
        if not isinstance(other, JobStatus):
            return NotImplemented
        return (self.state is other.state and self.time == other.time
                and self.message == other.message and self.exit_code == other.exit_code
                and self.metadata == other.metadata)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        """Returns e.g. ``JobStatus[FAILED, time=..., message=..., exit_code=1]``."""
        s = 'JobStatus[%s, time=%s' % (self.state, self.time)
        if self.message is not None:
            s += ', message=%s' % self.message
        if self.exit_code is not None:
            s += ', exit_code=%s' % self.exit_code
        if self.metadata is not None:
            s += ', meta=%s' % self.metadata
        return s + ']'

    __repr__ = __str__
