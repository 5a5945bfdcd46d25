"""Exceptions raised by PSI/J."""

from __future__ import annotations


class InvalidJobException(Exception):
    """A problem with a job specification: submitting the same job again fails the same way."""

    def __init__(self, message: str, exception: BaseException | None = None) -> None:
        """
        :param message: a message clear enough to be shown to an end user.
        :param exception: an optional underlying exception, for debugging.
        """
        super().__init__(message)
        self.message = message
        self.exception = exception

    def __str__(self) -> str:
        """Returns the message and, if any, the underlying exception."""
        if self.exception is None:
            return self.message
        return '%s (caused by %s: %s)' % (self.message, type(self.exception).__name__,
                                          self.exception)


class SubmitException(Exception):
    """A job could not be sent to the backend for a reason independent of the job itself."""

    def __init__(self, message: str, exception: BaseException | None = None,
                 transient: bool = False) -> None:
        """
        :param message: a message clear enough to be shown to an end user.
        :param exception: an optional underlying exception, for debugging.
        :param transient: `True` if retrying the operation later may succeed (a timeout, an
            unreachable scheduler), `False` if it will fail again the same way.
        """
        super().__init__(message)
        self.message = message
        self.exception = exception
        self.transient = transient

    def __str__(self) -> str:
        """Returns the message and, if any, the underlying exception."""
        if self.exception is None:
            return self.message
        return '%s (caused by %s: %s)' % (self.message, type(self.exception).__name__,
                                          self.exception)


class ExecutableError(InvalidJobException, SubmitException):
    """The job's executable cannot be run (missing, not executable). Both an
    `InvalidJobException` and a `SubmitException`: psij-python raises the latter at submit, so
    programs written for it catch that."""


class UnreachableStateException(Exception):
    """Raised by a wait for a state that the job can no longer reach."""

    def __init__(self, status: object) -> None:
        """:param status: the status that makes the awaited state unreachable."""
        super().__init__('The job reached %s; the awaited state is unreachable' % (status,))
        self.status = status


class JobSpecValueError(InvalidJobException, ValueError):
    """A field of a job description has a bad value; both an `InvalidJobException` and a
    `ValueError`, so code written for either catches it."""


class JobSpecTypeError(InvalidJobException, TypeError):
    """A field of a job description has the wrong type; both an `InvalidJobException` and a
    `TypeError`, so code written for either catches it."""
