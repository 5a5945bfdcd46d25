"""Cheap argument checks shared by the job-description classes.

They run on every construction, so they are plain ``isinstance`` tests, and their messages
name the field and the bad value.
"""

from __future__ import annotations

from psij.exceptions import JobSpecTypeError, JobSpecValueError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    import pathlib
    from typing import Any


def type_error(owner: str, field: str, value: Any, expected: str) -> JobSpecTypeError:
    """Builds the error for a field of the wrong type."""
    return JobSpecTypeError('%s.%s must be %s, not %s (%r)'
                            % (owner, field, expected, type(value).__name__, value))


def value_error(owner: str, field: str, value: Any, why: str) -> JobSpecValueError:
    """Builds the error for a field with a bad value."""
    return JobSpecValueError('%s.%s=%r is invalid: %s' % (owner, field, value, why))


def opt_str(owner: str, field: str, value: Any) -> str | None:
    """Checks an optional string."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise type_error(owner, field, value, 'a string or None')


def opt_path(owner: str, field: str, value: Any) -> pathlib.Path | None:
    """Checks and converts an optional path given as a string or a `pathlib.Path`."""
    if value is None:
        return None
    import pathlib  # here, not at the top: `import psij` stays cheap

    if isinstance(value, pathlib.Path):
        return value
    if isinstance(value, str):
        if value == '':
            raise value_error(owner, field, value, 'an empty path; use None for no path')
        if '\0' in value:
            raise value_error(owner, field, value, 'a path cannot contain a NUL character')
        return pathlib.Path(value)
    raise type_error(owner, field, value, 'a str or pathlib.Path or None')


def opt_count(owner: str, field: str, value: Any, minimum: int = 1) -> int | None:
    """Checks an optional integer count of at least `minimum`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(owner, field, value, 'an int or None')
    n = int(value)
    if n < minimum:
        raise value_error(owner, field, value, 'must be at least %d' % minimum)
    return n
