"""Functions submit script templates can reach as ``psij.lib`` (psij-python's module of the
same name)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Dict, Union


def walltime_to_minutes(walltime: Union[timedelta, int, str]) -> int:
    """
    A walltime in whole minutes: a `timedelta`, an int (already minutes), or a string
    ``HH:MM:SS``, ``HH:MM`` or ``MM`` (seconds are dropped, as psij-python does).

    :raises ValueError: for anything else.
    """
    if isinstance(walltime, timedelta):
        return int(walltime.total_seconds() / 60)
    if isinstance(walltime, int):
        return walltime
    if isinstance(walltime, str):
        parts = walltime.split(':')
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) == 1:
            return numbers[0]
        if len(numbers) in (2, 3):
            return numbers[0] * 60 + numbers[1]
        raise ValueError('Invalid walltime %r: expected HH:MM:SS, HH:MM or MM' % walltime)
    raise ValueError('Invalid walltime: %s of type %s' % (walltime, type(walltime)))


ALL: Dict[str, Callable[..., Any]] = {'walltime_to_minutes': walltime_to_minutes}
"""Every function of this module by name: the ``psij.lib`` of a template's context."""
