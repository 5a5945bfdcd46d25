"""The life cycle of one local job as its executor sees it: one object per job, one lock.

A `LocalJob` is shared by the thread that submits the job, threads that cancel it, the thread
that reads the keeper's answer to its start (the reaper thread, or one waiting in
`Job.native_id`), the reaper thread (which gets its end, or learns that its keeper died) and
the staging worker (stage-out and cleanup). Its `Phase` changes only by the named transitions
below, under its lock, along these edges (`_EDGES`)::

    transition        from              to
    start_sent        PREPARING         SENT
    activated         PREPARING, SENT   ACTIVE    (from PREPARING: the keeper's answer was
                                                   handled while the request was being sent)
    ended_unstarted   PREPARING, SENT   ENDED     (no process: cancelled before its start, a
                                                   failed stage-in, a refused start)
    follow            ACTIVE            FOLLOWED  (its keeper died; `attach` starts here)
    process_ended     ACTIVE, FOLLOWED  ENDING
    finished          ENDING            ENDED

A transition asked for in a phase that has no such edge is a bug: it is refused and logged as
an error, never applied. An event that may come before the ACTIVE state was reported (the
job's end, or its keeper's death, read by another thread than the start's answer) is kept and
handed back by `activated`, so that ACTIVE's callbacks always run first.

Cancelling is a flag beside the phase: what `request_cancel` returns says what the canceller
must do in the phase the job is in.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Optional

from psij.executors.local._keeper import killpg

if TYPE_CHECKING:
    from psij.executors.local import _local_state as state
    from psij.executors.local._keeper_client import KeeperClient
    from psij.executors.local._reaper import Timer
    from psij.job import Job
    from psij.job_launcher import Launcher
    from psij.job_spec import JobSpec

logger = logging.getLogger(__name__)


class Phase(enum.Enum):
    """Where a local job is, as far as the threads that share it are concerned."""

    PREPARING = 'preparing'
    """`submit` checks the spec, stages in and opens files: the keeper has nothing yet."""
    SENT = 'sent'
    """The keeper has the start request; its answer has not been handled (no ACTIVE yet)."""
    ACTIVE = 'active'
    """ACTIVE was reported; the keeper watches the process and will report its end."""
    FOLLOWED = 'followed'
    """The process is watched here, by pidfd: an attached job, or one whose keeper died."""
    ENDING = 'ending'
    """The process ended: stage-out and cleanup may run before the final state."""
    ENDED = 'ended'
    """The final state was reported."""


_EDGES: Dict[str, tuple[FrozenSet[Phase], Phase]] = {
    # transition: (the phases it leaves, the phase it enters)
    'start_sent': (frozenset({Phase.PREPARING}), Phase.SENT),
    'activated': (frozenset({Phase.PREPARING, Phase.SENT}), Phase.ACTIVE),
    'ended_unstarted': (frozenset({Phase.PREPARING, Phase.SENT}), Phase.ENDED),
    'follow': (frozenset({Phase.ACTIVE}), Phase.FOLLOWED),
    'process_ended': (frozenset({Phase.ACTIVE, Phase.FOLLOWED}), Phase.ENDING),
    'finished': (frozenset({Phase.ENDING}), Phase.ENDED),
}


class CancelAction(enum.Enum):
    """What a canceller must do (`LocalJob.request_cancel`)."""

    NOTHING = 'nothing'
    """Cancelled already, or the process has ended: nothing to do."""
    LATER = 'later'
    """Nothing now: `submit` sees the flag before or right after it sends the start."""
    KEEPER = 'keeper'
    """Ask the keeper (it has the start request, and serves requests in order)."""
    SIGNAL = 'signal'
    """Signal the followed process here (`LocalJob.signal`)."""


class LocalJob:
    """One local job, from `submit` (or `attach`) to its final state.

    `phase`, `canceled`, `deferred` and the followed process's `pidfd` and `kill_timer`
    change only under `lock`, by the methods below. The other fields are set once: the
    submission's by the submitting thread before the keeper gets the job, the followed
    process's by `follow` (or `attached`) before the reaper watches it.
    """

    __slots__ = ('job', 'spec', 'directory', 'launcher', 'keeper', 'key', 'defer', 'lock',
                 'phase', 'canceled', 'deferred', 'native_id', 'pid', 'pidfd', 'kill_timer',
                 'waited', 'delay', 'record')

    def __init__(self, job: Job, spec: Optional[JobSpec], defer: bool = False) -> None:
        """A job being submitted (`PREPARING`).

        :param spec: the job's specification (`None` for an attached job).
        :param defer: whether the keeper waits for the final state from the submitter
            (stage-out or cleanup may change it).
        """
        self.job = job
        self.spec = spec
        self.directory: Optional[Path] = None
        self.launcher: Optional[Launcher] = None
        self.keeper: Optional[KeeperClient] = None
        self.key: Optional[int] = None  # the keeper's name for the job
        self.defer = defer
        self.lock = threading.Lock()
        self.phase = Phase.PREPARING
        self.canceled = False  # cancel() was called
        # what came before ACTIVE was reported (the end, or the keeper's death)
        self.deferred: Optional[Callable[[], None]] = None
        # the followed process (FOLLOWED)
        self.native_id = ''
        self.pid = 0
        self.pidfd: Optional[int] = None  # None once the process is gone
        self.kill_timer: Optional[Timer] = None
        self.waited = 0.0  # seconds spent waiting for the end record
        self.delay = 0.001  # the next wait (doubles up to 1 s)
        self.record: Optional[state.Record] = None  # as last read: read on from there

    @classmethod
    def attached(cls, job: Job, native_id: str, pid: int, pidfd: Optional[int],
                 record: Optional[state.Record]) -> LocalJob:
        """A job started by another process that `attach` follows (`FOLLOWED`)."""
        run = cls(job, None)
        run.phase = Phase.FOLLOWED
        run._set_process(native_id, pid, pidfd)
        run.record = record
        return run

    def __repr__(self) -> str:
        return 'LocalJob(%s, %s%s)' % (self.job.id, self.phase.name,
                                       ', canceled' if self.canceled else '')

    def _set_process(self, native_id: str, pid: int, pidfd: Optional[int]) -> None:
        self.native_id = native_id
        self.pid = pid
        self.pidfd = pidfd

    def _move(self, transition: str) -> bool:
        """Takes `transition` (with the lock held); refuses and logs one the phase has no
        edge for."""
        sources, target = _EDGES[transition]
        if self.phase not in sources:
            logger.error('Job %s: illegal transition %s from %s (ignored)', self.job.id,
                         transition, self.phase.name)
            return False
        self.phase = target
        return True

    # -- submission ------------------------------------------------------------------------

    def start_sent(self) -> bool:
        """PREPARING -> SENT: the keeper has the start request (unless its answer was
        handled while it was being sent: then the job is past SENT already). Returns whether
        the caller must send a cancel now: one came while the request was being sent (at
        worst it goes twice: the keeper ignores a repeated cancel)."""
        with self.lock:
            if self.phase is Phase.PREPARING:
                self._move('start_sent')
            return self.canceled and self.phase in (Phase.SENT, Phase.ACTIVE)

    def activated(self) -> Optional[Callable[[], None]]:
        """PREPARING or SENT -> ACTIVE, once ACTIVE was reported; returns what was deferred
        until then (`process_ended`, `keeper_lost`), for the caller to run."""
        with self.lock:
            self._move('activated')
            deferred, self.deferred = self.deferred, None
            return deferred

    def ended_unstarted(self) -> bool:
        """PREPARING or SENT -> ENDED: the job ends without a process (cancelled before it
        started, a failed stage-in, a start the keeper refused). Returns whether the caller
        reports the end (`False`: it was reported already)."""
        with self.lock:
            return self._move('ended_unstarted')

    # -- events from the keeper ---------------------------------------------------------------

    def _defer(self, action: Callable[[], None], event: str) -> bool:
        """`True` if ACTIVE was reported (the caller handles the event now); before it, keeps
        `action` for `activated` and returns `False`."""
        if self.phase in (Phase.PREPARING, Phase.SENT):
            if self.deferred is not None:
                logger.error('Job %s: %s while another event waits for ACTIVE (ignored)',
                             self.job.id, event)
            else:
                self.deferred = action
            return False
        return True

    def process_ended(self, action: Callable[[], None]) -> bool:
        """ACTIVE or FOLLOWED -> ENDING: the job's process ended. Before ACTIVE was reported,
        `action` (which calls this again) is kept for `activated` and the result is `False`;
        `True` if the caller goes on (stage-out, cleanup, then `finished`)."""
        with self.lock:
            if not self._defer(action, 'process_ended'):
                return False
            return self._move('process_ended')

    def keeper_lost(self, action: Callable[[], None]) -> bool:
        """The keeper died while the job ran: `True` if the caller goes on to `follow` the
        process; before ACTIVE was reported, `action` is kept for `activated` (`False`)."""
        with self.lock:
            return self._defer(action, 'keeper_lost')

    def follow(self, native_id: str, pid: int, pidfd: Optional[int]) -> Optional[bool]:
        """ACTIVE -> FOLLOWED: the process is watched here from now on (`pidfd` is `None`
        if it is gone already). Returns whether the job was cancelled (the caller signals
        it: the keeper that had the cancel is gone), or `None` for an illegal transition
        (the caller closes `pidfd`)."""
        with self.lock:
            if not self._move('follow'):
                return None
            self._set_process(native_id, pid, pidfd)
            return self.canceled

    def process_gone(self) -> Optional[Timer]:
        """The followed process ended (its pidfd, which the caller closes, reported it):
        returns the SIGKILL timer of a cancel to cancel, if any."""
        with self.lock:
            self.pidfd = None
            timer, self.kill_timer = self.kill_timer, None
            return timer

    def finished(self) -> bool:
        """ENDING -> ENDED: the caller reports the final state. `False` if it must not (the
        job had not ended: logged)."""
        with self.lock:
            return self._move('finished')

    # -- cancel -------------------------------------------------------------------------------

    def request_cancel(self) -> CancelAction:
        """cancel() was called: marks the job cancelled and says what the caller does."""
        with self.lock:
            if self.canceled or self.phase in (Phase.ENDING, Phase.ENDED):
                return CancelAction.NOTHING
            if self.phase is Phase.FOLLOWED:
                if self.pidfd is None:  # it ended: its record says how
                    return CancelAction.NOTHING
                self.canceled = True
                return CancelAction.SIGNAL
            self.canceled = True
            return CancelAction.LATER if self.phase is Phase.PREPARING else CancelAction.KEEPER

    def is_canceled(self) -> bool:
        """Whether cancel() was called."""
        with self.lock:
            return self.canceled

    def signal(self, sig: int) -> bool:
        """Sends `sig` to the followed process and its group, if it has not ended; returns
        whether it had not. Not our child, so its pid could be recycled once it ends: the
        pidfd reaches the right process whatever happens, and it is closed only after
        `process_gone`, under the same lock."""
        with self.lock:
            if self.pidfd is None:
                return False
            try:
                signal.pidfd_send_signal(self.pidfd, sig)
            except OSError:
                pass
            killpg(self.pid, sig)
            return True

    def set_kill_timer(self, timer: Timer) -> bool:
        """Keeps the SIGKILL timer of a cancel; `False` if the process has ended meanwhile
        (the caller cancels the timer)."""
        with self.lock:
            if self.pidfd is None:
                return False
            self.kill_timer = timer
            return True

    def clear_kill_timer(self) -> None:
        """The SIGKILL timer fired."""
        with self.lock:
            self.kill_timer = None
