"""
The event-driven backend: one job-manager journal stream per Flux instance and process.

One thread (``psij-flux-events``) reads the journal (``flux.job.JournalConsumer``): every
event of every job of the instance, pushed by Flux. Events of the jobs this process follows go
to their :class:`~psij_flux.tracking.TrackedJob`; the others are dropped. Submissions, cancels
and look-ups go through a second connection, used by the calling thread under a lock. So the
backend uses one thread whatever the number of jobs, and no status is ever polled.

Interruptions
-------------
If the stream fails (the broker went away, the connection broke), the thread reconnects with
a back-off and asks the journal again for everything *since the last event it saw*: the
transitions that happened meanwhile are delivered, in order, and none is lost. If the instance
it reaches is not the one it left (another ``broker.starttime``: the instance was restarted and
has lost every job), each followed job that had not ended is reported ``FAILED`` with a
message saying so; Flux reuses job ids after a restart, so they are not looked up again.

While the stream is down no job is declared lost: the jobs keep their state until the instance
answers again.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from psij._batch_sender import BatchSender
from psij.exceptions import InvalidJobException, SubmitException

from psij_flux.bindings import FluxHandle
from psij_flux.jobspec import Submission
from psij_flux.tracking import Backend, TrackedJob, on_fork_forget

logger = logging.getLogger(__name__)

Event = Tuple[str, Optional[Mapping[str, Any]], Optional[float]]

RECENT = 5000
"""How many jobs' events the stream keeps (the most recent jobs): a job's first events may
arrive before its submission returned its id, and a job attached right after it ended may not
have all its events in the KVS yet."""

HEARTBEAT = 2.0
"""Seconds the stream thread waits for an event before checking whether it must stop or
reconnect (no request is sent to Flux then)."""

QUEUES_TTL = 60.0
"""Seconds the instance's queue names, read from its configuration, are trusted."""

FLUSH_TIMEOUT = 60.0
"""Seconds a process that ends waits, at most, for Flux to answer the jobs it submitted
asynchronously and had not sent yet."""

_INVALID_HINTS = ('invalid', 'not supported', 'unsupported', 'unknown', 'must be', 'only',
                  'exceeds', 'not a valid queue', 'not allowed', 'no such')

# the field a refusal is about, named in the message (a queue or bank that does not exist)
_FIELD_HINTS = (('queue', 'JobAttributes.queue_name'), ('bank', 'JobAttributes.account'))
# EINVAL, EPERM, EOPNOTSUPP, ENOENT: job-ingest's answers about a job
_JOB_ERRNOS = (22, 1, 95, 2)


def submit_error(ex: Exception, uri: str) -> Exception:
    """The exception for a refused submission: invalid job, or a (transient) Flux problem."""
    msg = str(ex) or type(ex).__name__
    errno = getattr(ex, 'errno', None)
    # EINVAL/EPERM/ENOENT-like answers of job-ingest are about the job itself
    if errno in _JOB_ERRNOS or any(h in msg.lower() for h in _INVALID_HINTS):
        low = msg.lower()
        field = ''.join('%s: ' % f for word, f in _FIELD_HINTS if word in low)
        return InvalidJobException('%sFlux refused the job: %s' % (field, msg), ex)
    return SubmitException('Flux at %s did not accept the job: %s' % (uri, msg), ex,
                           transient=True)


def _about_the_job(ex: OSError) -> bool:
    """Whether Flux refused the job itself (EINVAL, EPERM, EOPNOTSUPP, ENOENT), rather than
    the connection failing."""
    return getattr(ex, 'errno', None) in _JOB_ERRNOS


def connect_error(uri: str, ex: BaseException) -> SubmitException:
    """The error for an instance that does not answer, naming what is missing."""
    where = uri if uri else 'the default instance (FLUX_URI is not set)'
    return SubmitException(
        'No Flux instance answers at %s: %s. Start one (e.g. ci/flux/start-flux.sh), or set '
        'FLUX_URI or the executor URL to the URI of a running instance.' % (where, ex), ex,
        transient=True)


class EventStream(Backend):
    """The journal-driven backend for one Flux URI (see the module documentation)."""

    _streams: Dict[str, EventStream] = {}
    _streams_lock = threading.Lock()

    @classmethod
    def get(cls, uri: str, connect_timeout: float) -> EventStream:
        """The stream for `uri`, started (shared by every executor of the process)."""
        with cls._streams_lock:
            s = cls._streams.get(uri)
            if s is None or not s._thread.is_alive():
                s = cls(uri)
                cls._streams[uri] = s
        try:
            s.wait_ready(connect_timeout)
        except SubmitException:
            if not s.followed():
                # nobody depends on it: stop it rather than retry in the background forever
                with cls._streams_lock:
                    if cls._streams.get(uri) is s:
                        del cls._streams[uri]
                s._stop.set()
            raise
        return s

    def __init__(self, uri: str) -> None:
        """Creates the stream and starts its thread; call `wait_ready` before use."""
        self.uri = uri
        self.pid = os.getpid()
        self._jobs: Dict[int, List[TrackedJob]] = {}
        self._recent: OrderedDict[int, List[Event]] = OrderedDict()
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._calls: Optional[FluxHandle] = None
        # the first connection reads the whole history: a `since` from our clock could skip
        # events of a broker whose clock is behind
        self._since = 0.0
        self._identity: Optional[str] = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._interrupt = threading.Event()
        self._pause = 0.0
        self.interrupted = threading.Event()
        """Set while the stream is down after `interrupt` (for tests)."""
        self._error: Optional[BaseException] = None
        self.reconnects = 0
        self._sender: BatchSender[Tuple[Submission, TrackedJob, Callable[[int], bool],
                                        Callable[[Exception], None]]] = \
            BatchSender('psij-flux-submit', self._send)
        self._queues_read: Optional[Tuple[float, List[str]]] = None
        """When the instance's queues were read (monotonic), and their names."""
        self._thread = threading.Thread(target=self._run, name='psij-flux-events', daemon=True)
        self._thread.start()

    # -- the Backend interface -------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``bindings``."""
        return 'bindings'

    def thread_count(self) -> int:
        """One (the stream thread), two once asynchronous submission was used."""
        return 2 if self._sender.started else 1

    def wait_ready(self, timeout: float) -> None:
        """
        Waits until the stream has caught up with the instance once.

        :raises SubmitException: naming the URI if no instance answered within `timeout`.
        """
        if self._ready.wait(timeout):
            return
        raise connect_error(self.uri, self._error or TimeoutError(
            'no answer within %s s' % timeout))

    def _handle(self) -> FluxHandle:
        if self._calls is None:
            try:
                self._calls = FluxHandle(self.uri or None)
            except (OSError, RuntimeError) as ex:
                raise connect_error(self.uri, ex) from ex
        return self._calls

    def _drop_handle(self) -> None:
        h, self._calls = self._calls, None
        if h is not None:
            h.close()

    def submit(self, sub: Submission, make: Callable[[int], TrackedJob]) -> TrackedJob:
        """Submits through the call connection. Events that arrive before the job is
        registered are kept (see `RECENT`) and applied first when it is."""
        data = json.dumps(sub.jobspec)
        with self._call_lock:
            jobid = self._submit_once(data, sub.urgency)
        tracked = make(jobid)
        self._register(tracked)
        return tracked

    asynchronous = True
    """`submit_nowait` queues the job for the submitter thread."""

    def check_queue(self, name: str) -> None:
        """Refuses a queue not in the instance's configuration (read once a minute at
        most); a configuration that cannot be read refuses nothing (Flux will)."""
        now = time.monotonic()
        if self._queues_read is None or now - self._queues_read[0] > QUEUES_TTL:
            try:
                with self._call_lock:
                    queues = self._handle().config().get('queues')
            except (OSError, RuntimeError, SubmitException):
                return
            self._queues_read = (now, sorted(queues) if isinstance(queues, dict) else [])
        known = self._queues_read[1]
        if name not in known:
            raise InvalidJobException(
                'JobAttributes.queue_name: the Flux instance at %s has %s, not %r' % (
                    self.uri or '$FLUX_URI', 'the queues %s' % ', '.join(known) if known
                    else 'no named queues (leave queue_name unset)', name))

    def submit_nowait(self, sub: Submission, tracked: TrackedJob,
                      accepted: Callable[[int], bool],
                      refused: Callable[[Exception], None]) -> None:
        """Queues the job for the submitter thread, which sends every queued job at once
        (Flux answers a pipeline of submissions about 20 times faster than one by one)."""
        first = not self._sender.started
        self._sender.put((sub, tracked, accepted, refused))
        if first:
            atexit.register(self.flush)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """
        Waits until every queued job was sent and Flux answered it (at most `timeout`
        seconds); `True` if none is left. Called at exit, so that the jobs of a process that
        ends right after `submit` reach Flux.
        """
        return self._sender.flush(timeout)

    def _send(self, batch: List[Tuple[Submission, TrackedJob, Callable[[int], bool],
                                      Callable[[Exception], None]]]) -> None:
        with self._call_lock:
            self._submit_batch(batch)

    def _submit_batch(self, batch: List[Tuple[Submission, TrackedJob, Callable[[int], bool],
                                              Callable[[Exception], None]]]) -> None:
        # As a synchronous submit: a connection broken since the last batch (the instance
        # restarted) fails its requests with errors that are not about the job: those jobs
        # are sent once more on a new connection; a second failure is Flux's answer.
        for attempt in (1, 2):
            try:
                h = self._handle()
            except SubmitException as ex:
                for item in batch:
                    item[3](ex)
                return
            retry = []
            sent = []
            for item in batch:
                sub, t, accepted, refused = item
                try:
                    sent.append((h.submit_async(json.dumps(sub.jobspec), sub.urgency), item))
                except OSError as ex:
                    if attempt == 1 and not _about_the_job(ex):
                        retry.append(item)
                    else:
                        refused(submit_error(ex, self.uri))
            for fut, item in sent:
                sub, t, accepted, refused = item
                try:
                    jobid = h.submit_get_id(fut)
                except OSError as ex:
                    if attempt == 1 and not _about_the_job(ex):
                        retry.append(item)
                    else:
                        refused(submit_error(ex, self.uri))
                    continue
                t.jobid = jobid
                cancel = accepted(jobid)
                self._register(t)
                if cancel:
                    self._cancel_locked(jobid)
            if not retry:
                return
            self._drop_handle()
            batch = retry

    def _register(self, t: TrackedJob) -> None:
        with self._lock:
            self._jobs.setdefault(t.jobid, []).append(t)
            early = list(self._recent.get(t.jobid, ()))
            if early:
                # taken before the stream thread can see `t`: its later events wait for these
                t.lock.acquire()
        if not early:
            return
        try:
            ended = t.fold_locked(early)
        finally:
            t.lock.release()
        if ended:
            self._forget(t)

    def _submit_once(self, data: str, urgency: int) -> int:
        # A connection broken since the last call (the instance restarted) fails the first
        # request: reconnect once and retry; a second failure is Flux's answer.
        for attempt in (1, 2):
            h = self._handle()
            try:
                return h.submit(data, urgency)
            except OSError as ex:
                if attempt == 1 and not _about_the_job(ex):
                    self._drop_handle()
                    continue
                raise submit_error(ex, self.uri) from ex
        raise AssertionError('unreachable')

    def follow(self, tracked: TrackedJob) -> None:
        """
        Follows a job submitted elsewhere: its eventlog from the KVS, then the events this
        stream already saw (the KVS may lag the job manager by a moment, and job-list more),
        then live events. Folding is monotonic, so overlaps do no harm.
        """
        with self._call_lock:
            try:
                stored = self._handle().eventlog(tracked.jobid)
            except OSError as ex:
                self._drop_handle()
                raise connect_error(self.uri, ex) from ex
        with self._lock:
            self._jobs.setdefault(tracked.jobid, []).append(tracked)
            seen = list(self._recent.get(tracked.jobid, ()))
            # taken before the stream thread can see `tracked`: live events wait for these
            tracked.lock.acquire()
        known = stored is not None or bool(seen)
        try:
            ended = tracked.fold_locked((stored or []) + seen) if known else False
        finally:
            tracked.lock.release()
        if not known:
            self._forget(tracked)
            tracked.fail('Flux at %s does not know job %s' % (self.uri or 'FLUX_URI',
                                                              tracked.job.native_id))
        elif ended:
            self._forget(tracked)

    def cancel(self, jobid: int) -> None:
        """Cancels; "inactive" and "unknown" answers mean there is nothing to cancel."""
        with self._call_lock:
            self._cancel_locked(jobid)

    def _cancel_locked(self, jobid: int) -> None:
        try:
            self._handle().cancel(jobid)
        except OSError as ex:
            msg = str(ex).lower()
            if 'inactive' in msg or 'unknown' in msg or 'not found' in msg or \
                    getattr(ex, 'errno', None) in (2, 22):
                return
            self._drop_handle()
            raise SubmitException('Cannot cancel Flux job %d: %s' % (jobid, ex), ex,
                                  transient=True) from ex

    def list_ids(self) -> List[int]:
        """This user's active jobs (job-list), plus the followed ones job-list has not seen
        yet (it learns of jobs a moment after the job manager)."""
        with self._lock:
            followed = list(self._jobs)
        with self._call_lock:
            try:
                ids = self._handle().list_ids(os.getuid())
                known = set(ids)
                return ids + [i for i in followed if i not in known]
            except OSError as ex:
                self._drop_handle()
                raise SubmitException('Cannot list Flux jobs: %s' % ex, ex,
                                      transient=True) from ex

    def decode_words(self, text: str) -> Optional[int]:
        """Decodes the mnemonic id form with the bindings."""
        with self._call_lock:
            return self._handle().decode_words(text)

    # -- tests and fault handling ------------------------------------------------------------

    def interrupt(self, pause: float = 0.0) -> None:
        """Drops the stream connection (as a broken connection would) and stays disconnected
        for `pause` seconds; the thread then reconnects and catches up. For fault tests."""
        self._pause = pause
        self._interrupt.set()

    def followed(self) -> int:
        """The number of jobs followed that have not ended."""
        with self._lock:
            return sum(len(v) for v in self._jobs.values())

    def _forget(self, tracked: TrackedJob) -> None:
        with self._lock:
            lst = self._jobs.get(tracked.jobid)
            if lst is not None:
                if tracked in lst:
                    lst.remove(tracked)
                if not lst:
                    del self._jobs[tracked.jobid]

    # -- the stream thread -------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            h: Optional[FluxHandle] = None
            try:
                h = FluxHandle(self.uri or None)
                self._check_identity(h)
                jc = h.journal(self._since)
                backoff = 0.1
                self._consume(jc)
            except Exception as ex:  # noqa: BLE001 - any failure: reconnect
                self._error = ex
                logger.info('Flux event stream for %s interrupted: %s', self.uri, ex)
            finally:
                if h is not None:
                    h.close()
            pause, self._pause = self._pause, 0.0
            if self._stop.wait(max(backoff, pause)):
                return
            self.interrupted.clear()
            self.reconnects += 1
            backoff = min(backoff * 2, 2.0)

    def _check_identity(self, h: FluxHandle) -> None:
        ident = h.attr('broker.starttime') or h.attr('local-uri') or ''
        old, self._identity = self._identity, ident
        if old is None or old == ident:
            return
        with self._lock:
            lost = [t for lst in self._jobs.values() for t in lst]
            self._jobs.clear()
            self._recent.clear()
        self._since = 0.0
        for t in lost:
            t.fail('the Flux instance at %s was restarted and lost the job (Flux keeps jobs '
                   'in memory only)' % (self.uri or 'FLUX_URI'))

    def _keep(self, jobid: int, event: Event) -> None:
        """Keeps an event of a recent job (the caller holds `_lock`)."""
        lst = self._recent.get(jobid)
        if lst is None:
            lst = self._recent[jobid] = []
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        lst.append(event)

    def _consume(self, jc: Any) -> None:
        while not self._stop.is_set():
            if self._interrupt.is_set():
                self._interrupt.clear()
                self.interrupted.set()
                raise ConnectionResetError('event stream interrupted on request')
            try:
                ev = jc.poll(HEARTBEAT)
            except TimeoutError:
                continue
            except OSError as ex:
                if getattr(ex, 'errno', None) == 110:  # ETIMEDOUT
                    continue
                raise
            if ev is None:
                raise ConnectionResetError('the journal stream ended')
            if ev.is_empty():
                self._ready.set()
                continue
            ts = float(ev.timestamp)
            # timestamps are unique and increasing; resume just before the last one seen
            self._since = max(self._since, ts - 1e-6)
            jobid = int(ev.jobid)
            with self._lock:
                lst = self._jobs.get(jobid)
                targets = list(lst) if lst else None
                self._keep(jobid, (str(ev.name), ev.context, ts))
            if targets is None:
                continue
            for t in targets:
                if t.on_event(str(ev.name), ev.context, ts):
                    self._forget(t)


def _forget_streams() -> None:
    EventStream._streams = {}
    EventStream._streams_lock = threading.Lock()


on_fork_forget(_forget_streams)
