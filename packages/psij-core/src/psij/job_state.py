"""Job states and their partial order.

The states form the specification's partial order::

    NEW < QUEUED < STAGE_IN < ACTIVE < STAGE_OUT < CLEANUP < {COMPLETED, FAILED, CANCELED}

The three final states are not comparable with each other. ``FAILED`` and ``CANCELED`` can be
reached from any non-final state; ``COMPLETED`` only through ``CLEANUP``.
"""

from __future__ import annotations

from enum import Enum


class JobState(Enum):
    """The possible states of a job."""

    NEW = 0
    """The job has been created and not yet submitted."""
    QUEUED = 1
    """The backend has accepted the job; it waits for resources."""
    STAGE_IN = 2
    """Input files are being staged in."""
    ACTIVE = 3
    """The job's executable is running."""
    STAGE_OUT = 4
    """Output files are being staged out."""
    CLEANUP = 5
    """Files named in the job's cleanup list are being removed."""
    COMPLETED = 6
    """The job finished successfully (exit code 0)."""
    FAILED = 7
    """The job ended with a non-zero exit code, or its handling by the backend failed."""
    CANCELED = 8
    """The job was canceled through :meth:`psij.Job.cancel`."""

    @property
    def final(self) -> bool:
        """`True` if no other state can follow this one."""
        return self._value_ >= 6  # not `value`, a descriptor: asked for every job, often

    @property
    def order(self) -> int:
        """The rank of this state in the partial order; final states share the highest rank."""
        return _RANK[self.value]

    def is_greater_than(self, other: JobState) -> bool | None:
        """
        Compares two states in the specification's partial order.

        :return: `True` if this state can come after `other`, `False` if it comes before it or
            is the same state, and `None` if the two states are not comparable (two different
            final states).
        """
        a = _RANK[self.value]
        b = _RANK[other.value]
        if a == b:
            return False if self is other else None
        return a > b

    @staticmethod
    def from_name(name: str) -> JobState:
        """Returns the state with the given name (e.g. ``'ACTIVE'``); raises `ValueError`."""
        try:
            return JobState[name]
        except KeyError:
            raise ValueError('No such job state: %r (valid states: %s)'
                             % (name, ', '.join(s.name for s in JobState))) from None

    def __str__(self) -> str:
        """Returns the state's name."""
        return self.name

    def __repr__(self) -> str:
        """Returns the state's name."""
        return self.name

    def __bool__(self) -> bool:
        """Every state is true, including ``NEW`` whose value is 0."""
        return True


_RANK = (0, 1, 2, 3, 4, 5, 6, 6, 6)

_PREV: dict[JobState, JobState | None] = {
    JobState.NEW: None,
    JobState.QUEUED: JobState.NEW,
    JobState.STAGE_IN: JobState.QUEUED,
    JobState.ACTIVE: JobState.STAGE_IN,
    JobState.STAGE_OUT: JobState.ACTIVE,
    JobState.CLEANUP: JobState.STAGE_OUT,
    JobState.COMPLETED: JobState.CLEANUP,
    JobState.FAILED: None,
    JobState.CANCELED: None,
}


class JobStateOrder:
    """Helpers to reconstruct the states a job must have passed through."""

    @staticmethod
    def prev(state: JobState) -> JobState | None:
        """
        Returns the state that must immediately precede `state`, if it is unique.

        ``FAILED`` and ``CANCELED`` can be reached from several states and have none; neither
        has ``NEW``.
        """
        return _PREV[state]

    @staticmethod
    def is_greater_than(a: JobState, b: JobState) -> bool | None:
        """Same as ``a.is_greater_than(b)``."""
        return a.is_greater_than(b)
