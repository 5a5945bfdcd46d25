"""
What every executor that stages files agrees on: which URLs it can reach, and which stage-out
and cleanup entries apply to a job that ended a given way.

Staging URLs are ``file://`` URLs (or plain absolute paths, which `URI` turns into them) on
the machine that does the staging; any other scheme, or a host name other than
``localhost``, is refused at submit with `InvalidJobException` naming the field, never
ignored.

Flags: ``ON_SUCCESS``, ``ON_ERROR`` and ``ON_CANCEL`` say for which outcomes an entry is
staged out (or cleaned up); ``IF_PRESENT`` that a missing file is not an error. Flags naming
no outcome at all (``StageOut('out.txt', dest, flags=StageOutFlags.IF_PRESENT)``) mean every
outcome, as in psij-python; ``StageOutFlags.NONE`` means never.
"""

from __future__ import annotations

from typing import Optional

from psij.exceptions import InvalidJobException
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.staging import URI, StageOutFlags

_LOCAL_HOSTS = (None, '', 'localhost')


def file_path(uri: URI, field: str, executor: str) -> str:
    """
    The path a ``file://`` `uri` names.

    :raises InvalidJobException: naming `field` for another scheme or a remote host.
    """
    if uri.scheme != 'file' or uri.hostname not in _LOCAL_HOSTS:
        raise InvalidJobException(
            '%s: the %s executor stages file:// URLs and plain paths only, not %s; it refuses '
            'the job rather than run it without the file' % (field, executor, uri))
    if not uri.path.startswith('/'):
        raise InvalidJobException('%s: %s names no absolute path' % (field, uri))
    return uri.path


def check_urls(spec: JobSpec, executor: str) -> None:
    """Checks every staging URL of `spec` (see `file_path`)."""
    for si in spec.stage_in or ():
        file_path(si.source, 'JobSpec.stage_in[%s].source' % si.source, executor)
    for so in spec.stage_out or ():
        file_path(so.target, 'JobSpec.stage_out[%s].target' % so.target, executor)


def outcome_flag(state: Optional[JobState]) -> StageOutFlags:
    """The flag that selects entries for a job that ended in `state`."""
    if state is JobState.COMPLETED:
        return StageOutFlags.ON_SUCCESS
    if state is JobState.CANCELED:
        return StageOutFlags.ON_CANCEL
    return StageOutFlags.ON_ERROR


def outcomes(flags: StageOutFlags) -> StageOutFlags:
    """The outcomes `flags` select: its ``ON_*`` flags, or all of them if it names none but
    is not ``NONE``."""
    when = flags & StageOutFlags.ALWAYS
    if not when and flags:
        return StageOutFlags.ALWAYS
    return StageOutFlags(when)


def applies(flags: StageOutFlags, state: Optional[JobState]) -> bool:
    """Whether an entry with `flags` applies to a job that ended in `state`."""
    return bool(outcomes(flags) & outcome_flag(state))
