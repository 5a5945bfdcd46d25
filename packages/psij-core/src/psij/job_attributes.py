"""Attributes that say how a job is run: duration, queue, account, reservation, custom ones."""

from __future__ import annotations

from datetime import timedelta

from psij._checks import opt_str, type_error, value_error
from psij._log import get_logger
from psij.exceptions import JobSpecValueError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

logger = get_logger(__name__)

_OWNER = 'JobAttributes'
_DEFAULT_DURATION = timedelta(minutes=10)
_UNITS = {'d': 'days', 'h': 'hours', 'm': 'minutes', 's': 'seconds'}
_FORMATS = 'hh:mm:ss, hh:mm, mm, or a number followed by d, h, m or s (e.g. "90s")'


class JobAttributes:
    """Ancillary information that describes how a job is to be run."""

    __slots__ = ('_duration', 'queue_name', 'account', 'reservation_id', '_custom_attributes')

    def __init__(self, duration: timedelta = _DEFAULT_DURATION, queue_name: str | None = None,
                 account: str | None = None, reservation_id: str | None = None,
                 custom_attributes: dict[str, object] | None = None,
                 project_name: str | None = None) -> None:
        """
        :param duration: the job's walltime; a backend may kill a job that runs longer.
            Defaults to 10 minutes.
        :param queue_name: the queue (partition) to send the job to.
        :param account: the account to bill (some schedulers call it a project).
        :param reservation_id: an advance reservation to run the job in.
        :param custom_attributes: executor-specific attributes; batch executors turn
            ``<scheduler>.<name>`` entries (e.g. ``slurm.qos``) into directives.
        :param project_name: deprecated alias of `account`.
        """
        self.duration = duration
        self.queue_name = opt_str(_OWNER, 'queue_name', queue_name)
        self.account = opt_str(_OWNER, 'account', account)
        self.reservation_id = opt_str(_OWNER, 'reservation_id', reservation_id)
        self._custom_attributes: dict[str, object] | None = None
        if custom_attributes is not None:
            self.custom_attributes = custom_attributes
        if project_name is not None:
            self.project_name = project_name

    @property
    def duration(self) -> timedelta:
        """The job's walltime."""
        return self._duration

    @duration.setter
    def duration(self, value: timedelta) -> None:
        if not isinstance(value, timedelta):
            raise type_error(_OWNER, 'duration', value, 'a datetime.timedelta')
        if value.total_seconds() <= 0:
            raise value_error(_OWNER, 'duration', value, 'must be positive')
        self._duration = value

    @property
    def project_name(self) -> str | None:
        """Deprecated: use `account`."""
        return self.account

    @project_name.setter
    def project_name(self, value: str | None) -> None:
        if value is not None:
            logger.warning('JobAttributes.project_name is deprecated; use "account" instead.')
        self.account = opt_str(_OWNER, 'project_name', value)

    @property
    def custom_attributes(self) -> dict[str, object] | None:
        """The custom attributes, or `None` if none were set: the dict given to the constructor
        or setter itself (not a copy), so that entries added to it later are seen."""
        return self._custom_attributes

    @custom_attributes.setter
    def custom_attributes(self, attrs: dict[str, object] | None) -> None:
        if attrs is None:
            self._custom_attributes = None
            return
        if not isinstance(attrs, dict):
            raise type_error(_OWNER, 'custom_attributes', attrs, 'a dict or None')
        for k in attrs:
            _check_custom_name(k)
        # the caller's dict itself, as in psij-python: entries added to it later count too
        self._custom_attributes = attrs

    def set_custom_attribute(self, name: str, value: object) -> None:
        """Sets one custom attribute."""
        _check_custom_name(name)
        if self._custom_attributes is None:
            self._custom_attributes = {}
        self._custom_attributes[name] = value

    def get_custom_attribute(self, name: str) -> object | None:
        """Returns a custom attribute, or `None` if it is not set."""
        if self._custom_attributes is None:
            return None
        return self._custom_attributes.get(name)

    @staticmethod
    def parse_walltime(walltime: str) -> timedelta:
        """
        Parses a walltime string.

        Accepted formats: ``hh:mm:ss``, ``hh:mm``, ``mm`` (minutes), and a number followed by a
        unit, ``d``, ``h``, ``m`` or ``s`` (``"2h"``, ``"90 s"``).

        :raises ValueError: (as `JobSpecValueError`) if the string is in none of these formats.
        """
        if not isinstance(walltime, str):
            raise type_error(_OWNER, 'walltime', walltime, 'a string')
        s = walltime.strip()
        if ':' in s:
            parts = s.split(':')
            if 2 <= len(parts) <= 3 and all(p.isdigit() and p.isascii() for p in parts):
                h, m = int(parts[0]), int(parts[1])
                sec = int(parts[2]) if len(parts) == 3 else 0
                if m < 60 and sec < 60:
                    return timedelta(hours=h, minutes=m, seconds=sec)
        elif s.isdigit() and s.isascii():
            return timedelta(minutes=int(s))
        else:
            number = s[:-1].rstrip()
            if s[-1:] in _UNITS and number.isdecimal():  # e.g. '90 s'
                return timedelta(**{_UNITS[s[-1]]: int(number)})
        raise JobSpecValueError('Unknown walltime format: %r. Accepted formats: %s.'
                                % (walltime, _FORMATS))

    def _fields(self) -> tuple[Any, ...]:
        return (self._duration, self.queue_name, self.account, self.reservation_id,
                self._custom_attributes)

    def __eq__(self, other: object) -> bool:
        """Equal when every field is equal."""
        if not isinstance(other, JobAttributes):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """All fields."""
        return ('JobAttributes(duration=%r, queue_name=%r, account=%r, reservation_id=%r, '
                'custom_attributes=%r)' % self._fields())


def _check_custom_name(name: object) -> None:
    if not isinstance(name, str):
        raise type_error(_OWNER, 'custom_attributes', name, 'a dict with string keys')
    if not name:
        raise value_error(_OWNER, 'custom_attributes', name, 'names cannot be empty')
