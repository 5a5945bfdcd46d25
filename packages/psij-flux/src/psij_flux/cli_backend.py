"""
The fallback backend when the Flux Python bindings cannot be imported: the ``flux`` command.

* submit: ``flux job submit --urgency=N`` with the jobspec on its standard input;
* status: one thread, one ``flux jobs --json ID1 ID2 ...`` per cycle for every followed job
  that has not ended (the records are mapped by :func:`psij_flux.results.status_from_record`);
* cancel: ``flux cancel ID`` ("job is inactive" and "unknown job id" are no error);
* list: ``flux jobs -a -n -o {id.dec}``.

A job that Flux no longer knows, or that has a submit time earlier than when this process
submitted it (Flux reuses ids after a restart), is reported ``FAILED``: the instance lost it.
A failing ``flux jobs`` call is retried on the next cycle; it never fails a job.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional

from psij.exceptions import SubmitException
from psij.executors.batch.commands import run_command

from psij_flux.event_stream import connect_error, submit_error
from psij_flux.job_ids import parse_job_id, to_f58
from psij_flux.jobspec import Submission
from psij_flux.tracking import Backend, TrackedJob, on_fork_forget

logger = logging.getLogger(__name__)

_CHUNK = 500
_LOST_AFTER = 3


def parse_jobs_json(out: str) -> List[Dict[str, Any]]:
    """The records of ``flux jobs --json`` (one object for one id, ``{"jobs": [...]}``
    otherwise)."""
    out = out.strip()
    if not out:
        return []
    data = json.loads(out)
    if isinstance(data, dict) and isinstance(data.get('jobs'), list):
        return [j for j in data['jobs'] if isinstance(j, dict)]
    if isinstance(data, dict) and 'id' in data:
        return [data]
    # not an answer about jobs: must not pass for "Flux no longer knows them"
    raise ValueError('not a flux jobs document: %r' % out[:200])


class CliBackend(Backend):
    """Talks to Flux through its command line (see the module documentation)."""

    _backends: Dict[str, CliBackend] = {}
    _backends_lock = threading.Lock()

    @classmethod
    def get(cls, uri: str, flux: str, interval: float, timeout: float) -> CliBackend:
        """The backend for `uri` (shared by every executor of the process)."""
        with cls._backends_lock:
            b = cls._backends.get(uri)
            if b is None:
                b = cls._backends[uri] = cls(uri, flux, interval, timeout)
        return b

    def __init__(self, uri: str, flux: str, interval: float, timeout: float) -> None:
        """
        :param flux: the ``flux`` command.
        :param interval: seconds between two status queries.
        :param timeout: seconds a command may take.
        """
        self.uri = uri
        self.pid = os.getpid()
        self.flux = flux
        self.interval = interval
        self.timeout = timeout
        self._jobs: Dict[int, List[TrackedJob]] = {}
        self._missing: Dict[int, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: Optional[threading.Thread] = None

    @property
    def kind(self) -> str:
        """``cli``."""
        return 'cli'

    def thread_count(self) -> int:
        """One: the status thread."""
        return 1

    def _env(self) -> Dict[str, str]:
        env = dict(os.environ)
        if self.uri:
            env['FLUX_URI'] = self.uri
        return env

    def _run(self, args: List[str],
             stdin: Optional[str] = None) -> subprocess.CompletedProcess[str]:
        try:
            # the batch framework's runner: at the time-out it kills the command and all it
            # started (subprocess.run would wait for a child that holds the output open)
            return run_command([self.flux] + args, self.timeout, input=stdin, env=self._env())
        except (OSError, subprocess.TimeoutExpired) as ex:
            raise connect_error(self.uri, ex) from ex

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name='psij-flux-status',
                                            daemon=True)
            self._thread.start()

    def submit(self, sub: Submission, make: Callable[[int], TrackedJob]) -> TrackedJob:
        """``flux job submit`` with the jobspec on stdin."""
        p = self._run(['job', 'submit', '--urgency=%d' % sub.urgency],
                      json.dumps(sub.jobspec))
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip()
            if 'Unable to connect' in msg or 'flux_open' in msg or 'broker socket' in msg:
                raise connect_error(self.uri, RuntimeError(msg))
            raise submit_error(RuntimeError(msg), self.uri)
        try:
            jobid = parse_job_id(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as ex:
            raise SubmitException('flux job submit printed no job id: %r' % p.stdout) from ex
        tracked = make(jobid)
        with self._lock:
            self._jobs.setdefault(jobid, []).append(tracked)
            self._start()
            self._wake.notify()
        return tracked

    def follow(self, tracked: TrackedJob) -> None:
        """Follows an existing job from the next cycle on."""
        with self._lock:
            self._jobs.setdefault(tracked.jobid, []).append(tracked)
            self._start()
            self._wake.notify()

    def cancel(self, jobid: int) -> None:
        """``flux cancel``; an inactive or unknown job is no error."""
        p = self._run(['cancel', to_f58(jobid, ascii_only=True)])
        if p.returncode == 0:
            return
        msg = p.stderr.strip()
        if 'inactive' in msg or 'unknown job' in msg:
            return
        raise SubmitException('flux cancel failed (exit code %d): %s' % (p.returncode, msg),
                              transient=True)

    def list_ids(self) -> List[int]:
        """``flux jobs -n -o {id.dec}`` (this user's active jobs: pending or running)."""
        p = self._run(['jobs', '-n', '-o', '{id.dec}'])
        if p.returncode != 0:
            raise SubmitException('flux jobs failed: %s' % p.stderr.strip(), transient=True)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def decode_words(self, text: str) -> Optional[int]:
        """``flux job id --to=dec WORDS``."""
        p = self._run(['job', 'id', '--to=dec', text])
        out = p.stdout.strip()
        return int(out) if p.returncode == 0 and out.isdigit() else None

    # -- the status thread -------------------------------------------------------------------

    def query(self, ids: List[int]) -> Optional[Dict[int, Mapping[str, Any]]]:
        """One ``flux jobs --json`` for `ids`; `None` if the command failed."""
        p = self._run(['jobs', '--json'] + [str(i) for i in ids])
        if p.returncode != 0 and (len(ids) > 1 or 'unknown' not in p.stderr):
            logger.info('flux jobs failed (exit code %d): %s', p.returncode, p.stderr.strip())
            return None
        try:
            return {int(r['id']): r for r in parse_jobs_json(p.stdout)}
        except (ValueError, KeyError, TypeError) as ex:
            logger.info('cannot read the output of flux jobs: %s', ex)
            return None

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._jobs:
                    self._wake.wait()
                ids = list(self._jobs)
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i:i + _CHUNK]
                try:
                    records = self.query(chunk)
                except SubmitException as ex:
                    logger.info('%s', ex)
                    records = None
                if records is not None:
                    self._apply(chunk, records)
            with self._lock:
                self._wake.wait(self.interval)

    def _apply(self, ids: List[int], records: Dict[int, Mapping[str, Any]]) -> None:
        for jobid in ids:
            with self._lock:
                targets = list(self._jobs.get(jobid) or ())
            rec = records.get(jobid)
            if rec is not None and any(t.submitted_at is not None and
                                       float(rec.get('t_submit') or 0) < t.submitted_at - 5
                                       for t in targets):
                rec = None  # an older job with the same id: ours is gone
            if rec is None:
                n = self._missing.get(jobid, 0) + 1
                self._missing[jobid] = n
                if n < _LOST_AFTER:
                    continue
                for t in targets:
                    t.fail('Flux at %s no longer knows the job (the instance was restarted '
                           'and lost it)' % (self.uri or 'FLUX_URI'))
                    self._forget(t)
                continue
            self._missing.pop(jobid, None)
            for t in targets:
                if t.on_record(rec):
                    self._forget(t)

    def _forget(self, tracked: TrackedJob) -> None:
        with self._lock:
            lst = self._jobs.get(tracked.jobid)
            if lst is not None:
                if tracked in lst:
                    lst.remove(tracked)
                if not lst:
                    del self._jobs[tracked.jobid]
                    self._missing.pop(tracked.jobid, None)


def _forget_backends() -> None:
    CliBackend._backends = {}
    CliBackend._backends_lock = threading.Lock()


on_fork_forget(_forget_backends)
