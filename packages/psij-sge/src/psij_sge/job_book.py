"""
What the ``sge`` executor remembers about the Grid Engine jobs of the process, between two
status cycles.

The status engine runs one ``qstat`` per cycle for the jobs of *all* executor instances of
the process, through whichever instance it picks; so what one instance learns (when a job was
submitted, that it was canceled or seen being deleted, its time limit, its error reason) is
kept here, once per process, for all of them.
"""

from __future__ import annotations

import threading
from typing import Dict, Iterable, Optional, Set


class JobRecord:
    """What is known about one job (by native id); read and written under the book's lock."""

    __slots__ = ('submitted_at', 'limit', 'started', 'deleting', 'canceled', 'reason',
                 'gone_since', 'listed')

    def __init__(self) -> None:
        self.submitted_at: Optional[float] = None
        """When it was submitted (epoch seconds), if by this process."""
        self.limit: Optional[float] = None
        """Its time limit (h_rt) in seconds."""
        self.started: Optional[float] = None
        """When it was first seen running."""
        self.deleting = False
        """qstat showed it being deleted (``d``)."""
        self.canceled = False
        """An executor of this process deleted it (``cancel()``)."""
        self.reason: Optional[str] = None
        """Grid Engine's error reason, for a job in error state."""
        self.gone_since: Optional[float] = None
        """When it was first found in neither qstat nor qacct."""
        self.listed = False
        """qstat listed it (in this process)."""


class JobBook:
    """The records of the process's Grid Engine jobs; see the module documentation."""

    def __init__(self) -> None:
        """An empty book (the executor uses `shared`)."""
        self._lock = threading.Lock()
        self._records: Dict[str, JobRecord] = {}

    def _record(self, native_id: str) -> JobRecord:
        rec = self._records.get(native_id)
        if rec is None:
            rec = self._records[native_id] = JobRecord()
        return rec

    def submitted(self, native_id: str, when: float, limit: Optional[float]) -> None:
        """Notes a submission and the job's time limit in seconds (if any)."""
        with self._lock:
            rec = self._record(native_id)
            rec.submitted_at, rec.limit = when, limit

    def canceled(self, native_id: str) -> None:
        """Notes that an executor of this process deleted the job."""
        with self._lock:
            self._record(native_id).canceled = True

    def deleting(self, native_id: str) -> None:
        """Notes that qstat showed the job being deleted."""
        with self._lock:
            self._record(native_id).deleting = True

    def listed(self, native_ids: Iterable[str]) -> None:
        """Notes that qstat listed these jobs."""
        with self._lock:
            for n in native_ids:
                self._record(n).listed = True

    def seen(self, native_id: str) -> bool:
        """Whether the job was submitted by this process or listed by qstat in it: one that
        is in neither qstat nor qacct now has ended and awaits its accounting record."""
        with self._lock:
            rec = self._records.get(native_id)
            return rec is not None and (rec.listed or rec.submitted_at is not None)

    def was_deleted(self, native_id: str) -> bool:
        """Whether the job was canceled here or seen being deleted."""
        with self._lock:
            rec = self._records.get(native_id)
            return rec is not None and (rec.canceled or rec.deleting)

    def submit_times(self, native_ids: Iterable[str]) -> Dict[str, float]:
        """The submission times known for `native_ids`."""
        with self._lock:
            out = {}
            for n in native_ids:
                rec = self._records.get(n)
                if rec is not None and rec.submitted_at is not None:
                    out[n] = rec.submitted_at
            return out

    def time_left(self, native_id: str, now: float) -> Optional[float]:
        """Seconds until a running job reaches its time limit (counted from when it was first
        seen running), `None` without a limit."""
        with self._lock:
            rec = self._records.get(native_id)
            if rec is None or rec.limit is None:
                return None
            if rec.started is None:
                rec.started = now
            return rec.started + rec.limit - now

    def started(self, native_id: str, when: float) -> None:
        """Notes when the job started, if earlier than known (e.g. its ``.active`` file)."""
        with self._lock:
            rec = self._record(native_id)
            if rec.started is None or when < rec.started:
                rec.started = when

    def gone_for(self, native_id: str, now: float) -> float:
        """Seconds since the job was first found in neither qstat nor qacct (0 the first
        time)."""
        with self._lock:
            rec = self._record(native_id)
            if rec.gone_since is None:
                rec.gone_since = now
            return now - rec.gone_since

    def ever_started(self, native_id: str) -> bool:
        """Whether the job was ever seen running."""
        with self._lock:
            rec = self._records.get(native_id)
            return rec is not None and rec.started is not None

    def reasons(self, native_ids: Iterable[str]) -> Dict[str, str]:
        """The error reasons known for `native_ids`."""
        with self._lock:
            out = {}
            for n in native_ids:
                rec = self._records.get(n)
                if rec is not None and rec.reason is not None:
                    out[n] = rec.reason
            return out

    def add_reasons(self, reasons: Dict[str, str]) -> None:
        """Notes error reasons."""
        with self._lock:
            for n, r in reasons.items():
                self._record(n).reason = r

    def forget(self, native_ids: Iterable[str]) -> None:
        """Drops the records of jobs that ended."""
        with self._lock:
            for n in native_ids:
                self._records.pop(n, None)

    def known(self) -> Set[str]:
        """The native ids with a record (for tests)."""
        with self._lock:
            return set(self._records)


shared = JobBook()
"""The book of this process (one status engine per process follows all its jobs)."""
