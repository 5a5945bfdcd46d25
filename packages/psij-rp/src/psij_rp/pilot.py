"""
One RADICAL-Pilot session, pilot manager, task manager and pilot, shared by every `rp`
executor of the process with the same pilot configuration (see `PilotKey`).

A pilot starts on first use (`SharedPilot.get`), runs until it is closed (the last executor
using it is closed, or the process exits) or until RADICAL-Pilot ends it (its runtime is over,
its job failed). Task and pilot state changes arrive through RADICAL-Pilot's callbacks, on its
threads; nothing polls. When the pilot ends, every job still running on it is failed with the
pilot's reason.

RADICAL-Pilot is untyped: what this module takes from it goes through narrow casts, and the
rest of the package sees only `TaskEvent`, `PilotKey` and the methods here.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, cast

from psij._batch_sender import BatchSender
from psij._log import get_logger

logger = get_logger(__name__)


class PilotKey(NamedTuple):
    """What makes two pilots different: executors with equal keys share one pilot."""

    resource: str
    cores: int
    gpus: int
    runtime: int
    queue: Optional[str]
    project: Optional[str]
    access_schema: Optional[str]
    sandbox: str
    session_directory: str


@dataclass(frozen=True)
class TaskEvent:
    """A task's state change, as RADICAL-Pilot reported it."""

    uid: str
    state: str
    exit_code: Optional[int]
    stderr: str
    exception: str


Listener = Callable[[TaskEvent], None]
PilotEndListener = Callable[[str], None]

_FINAL_PILOT = ('DONE', 'FAILED', 'CANCELED')

SUBMIT_BATCH = 32
"""The most tasks handed to RADICAL-Pilot in one ``submit_tasks`` call: a call for hundreds
holds RP's client busy long enough to delay the state updates of the tasks already running."""


def _rp() -> Any:
    """``radical.pilot``, imported on first use (it is untyped, and slow to import)."""
    return importlib.import_module('radical.pilot')


def _agent_environment() -> None:
    """
    What RADICAL-Pilot's bootstrap needs to find this Python and its ``radical-pilot-*``
    commands: it starts the agent from the virtual environment named by ``$VIRTUAL_ENV`` (in
    resource configs with ``virtenv_mode: local``, such as ``local.localhost``), else from the
    system Python, which has no RADICAL-Pilot (``radical-pilot-agent_0: command not found``).
    A program run with the venv's ``python`` but not activated has neither set: set them,
    once, for this process and its children (RP's components are its children).
    """
    if sys.prefix == sys.base_prefix:
        return  # not in a venv: RP is installed into the Python the agent will find
    os.environ.setdefault('VIRTUAL_ENV', sys.prefix)
    bindir = os.path.join(sys.prefix, 'bin')
    path = os.environ.get('PATH', '')
    if bindir not in path.split(os.pathsep):
        os.environ['PATH'] = bindir + (os.pathsep + path if path else '')


class SharedPilot:
    """A session with one pilot (see the module documentation)."""

    _lock = threading.Lock()
    _pilots: Dict[PilotKey, SharedPilot] = {}

    @classmethod
    def get(cls, key: PilotKey) -> SharedPilot:
        """The running pilot for `key`, started if there is none (or the last one ended).

        :raises RuntimeError: if RADICAL-Pilot cannot create the session or pilot.
        """
        with cls._lock:
            p = cls._pilots.get(key)
            if p is not None and p.pid == os.getpid() and p.end_reason is None:
                p.users += 1
                return p
            p = SharedPilot(key)
            cls._pilots[key] = p
            p.users += 1
            return p

    @classmethod
    def close_all(cls) -> None:
        """Closes every pilot of the process (at exit)."""
        with cls._lock:
            pilots = list(cls._pilots.values())
            cls._pilots.clear()
        for p in pilots:
            p.close()

    def __init__(self, key: PilotKey) -> None:
        rp = _rp()
        _agent_environment()
        self.key = key
        self.pid = os.getpid()
        self.users = 0
        self.end_reason: Optional[str] = None
        """Why the pilot ended (`None` while it runs)."""
        self._lock = threading.Lock()
        self._listeners: Dict[str, List[Listener]] = {}
        self._end_listeners: List[PilotEndListener] = []
        self._closed = False
        self._sender: BatchSender[Tuple[Dict[str, Any], Listener,
                                        Callable[[Exception], None]]] = \
            BatchSender('psij-rp-submit', self._send, max_batch=SUBMIT_BATCH)
        self.submit_calls = 0
        """How many ``submit_tasks`` calls were made (for tests and benchmarks)."""
        os.makedirs(key.session_directory, mode=0o700, exist_ok=True)
        os.makedirs(key.sandbox, mode=0o700, exist_ok=True)
        # RP's components (and, through the pilot manager's launcher, the agent) take their
        # environment when they start: it holds our settings only then
        with _rp_environment(_profile_setting()):
            with _rp_environment({'RADICAL_CONFIG_USER_DIR': _user_config_dir(key)}):
                self._session: Any = rp.Session(cfg={'base': key.session_directory})
            try:
                self._pmgr: Any = rp.PilotManager(session=self._session)
                self._tmgr: Any = rp.TaskManager(session=self._session)
                self._pmgr.register_callback(self._on_pilot)
                self._tmgr.register_callback(self._on_task)
                pd: Dict[str, Any] = {'resource': key.resource, 'cores': key.cores,
                                      'gpus': key.gpus, 'runtime': key.runtime,
                                      'sandbox': key.sandbox, 'exit_on_error': False}
                for name in ('queue', 'project', 'access_schema'):
                    value = getattr(key, name)
                    if value:
                        pd[name] = value
                self._pilot: Any = self._pmgr.submit_pilots(rp.PilotDescription(pd))
                self._tmgr.add_pilots(self._pilot)
            except BaseException:
                self._session.close(download=False)
                raise
        self.uid = cast(str, self._pilot.uid)
        logger.info('started pilot %s of session %s on %s', self.uid, self._session.uid,
                    key.resource)

    # -- tasks ---------------------------------------------------------------------------------

    def submit_nowait(self, description: Dict[str, Any], listener: Listener,
                      refused: Callable[[Exception], None]) -> None:
        """
        Queues a task for the pilot's submitter thread, which hands every queued task to
        RADICAL-Pilot in one ``submit_tasks`` call (a call per task costs about as much as a
        call for hundreds); `refused` is called if RADICAL-Pilot does not take it.

        :raises RuntimeError: if the pilot has ended.
        """
        with self._lock:
            if self.end_reason is not None:
                raise RuntimeError('the pilot ended: %s' % self.end_reason)
        self._sender.put((description, listener, refused))

    def _send(self, batch: List[Tuple[Dict[str, Any], Listener,
                                      Callable[[Exception], None]]]) -> None:
        try:
            self.submit([d for d, _, _ in batch], [listener for _, listener, _ in batch])
        except Exception as ex:  # noqa: BLE001 - each job fails with the reason
            for _, _, refused in batch:
                refused(ex)

    def submit(self, descriptions: List[Dict[str, Any]],
               listeners: List[Listener]) -> List[str]:
        """Submits tasks in one call; ``listeners[i]`` gets the state changes of the i-th.
        Returns their uids.

        :raises RuntimeError: if the pilot has ended.
        """
        rp = _rp()
        with self._lock:
            if self.end_reason is not None:
                raise RuntimeError('the pilot ended: %s' % self.end_reason)
            for d, listener in zip(descriptions, listeners, strict=True):
                self._listeners.setdefault(cast(str, d['uid']), []).append(listener)
        tds = [rp.TaskDescription(d) for d in descriptions]
        self.submit_calls += 1
        tasks = self._tmgr.submit_tasks(tds)
        if not isinstance(tasks, list):
            tasks = [tasks]
        return [cast(str, t.uid) for t in tasks]

    def follow(self, uid: str, listener: Listener) -> Optional[TaskEvent]:
        """Adds a listener to a task of this pilot; returns its current state, `None` if the
        session does not know the task."""
        with self._lock:
            try:
                task = self._tmgr.get_tasks(uids=[uid])
            except Exception:
                return None
            if isinstance(task, list):
                task = task[0] if task else None
            if task is None:
                return None
            self._listeners.setdefault(uid, []).append(listener)
            return _event(task, cast(str, task.state))

    def cancel(self, uid: str) -> None:
        """Asks RADICAL-Pilot to cancel a task (in whatever state it is)."""
        self._tmgr.cancel_tasks(uids=[uid])

    def uids(self) -> List[str]:
        """The uids of the tasks of this session that have not ended (`list` shows only the
        jobs that have not ended, on every executor)."""
        uids = [str(u) for u in self._tmgr.list_tasks()]
        if not uids:
            return []
        tasks = self._tmgr.get_tasks(uids=uids)
        if not isinstance(tasks, list):
            tasks = [tasks]
        return [str(t.uid) for t in tasks
                if t is not None and str(t.state) not in ('DONE', 'FAILED', 'CANCELED')]

    def on_end(self, listener: PilotEndListener) -> None:
        """`listener(reason)` is called once when the pilot ends (now if it has)."""
        with self._lock:
            reason = self.end_reason
            if reason is None:
                self._end_listeners.append(listener)
                return
        listener(reason)

    # -- RADICAL-Pilot's callbacks -------------------------------------------------------------

    def _on_task(self, task: Any, state: Any) -> None:
        try:
            ev = _event(task, str(state))
            with self._lock:
                listeners = list(self._listeners.get(ev.uid, ()))
                if ev.state in ('DONE', 'FAILED', 'CANCELED'):
                    self._listeners.pop(ev.uid, None)
            for listener in listeners:
                listener(ev)
        except Exception:
            logger.exception('task callback failed')

    def _on_pilot(self, pilot: Any, state: Any) -> None:
        state = str(state)
        if state not in _FINAL_PILOT:
            return
        reason = 'pilot %s %s' % (pilot.uid, state)
        detail = ''
        for attr in ('stderr', 'log'):
            try:
                text = getattr(pilot, attr)
            except Exception:
                continue
            if text:
                detail = str(text)[-500:].strip()
                break
        if detail:
            reason += ': ' + detail
        elif self._closed:
            reason += ': the executor was closed'
        with self._lock:
            if self.end_reason is not None:
                return
            self.end_reason = reason
            end, self._end_listeners = self._end_listeners, []
        logger.info('%s', reason)
        for listener in end:
            try:
                listener(reason)
            except Exception:
                logger.exception('pilot end listener failed')

    # -- closing -------------------------------------------------------------------------------

    def release(self) -> None:
        """One user fewer; the last one closes the pilot."""
        with SharedPilot._lock:
            self.users -= 1
            if self.users > 0:
                return
            if SharedPilot._pilots.get(self.key) is self:
                del SharedPilot._pilots[self.key]
        self.close()

    def close(self) -> None:
        """Cancels the pilot and closes the session (its agent and components end)."""
        with self._lock:
            if self._closed or self.pid != os.getpid():
                return
            self._closed = True
        try:
            self._session.close(terminate=True, download=False)
        except Exception:
            logger.exception('closing session %s failed', self._session.uid)
        self._on_pilot(self._pilot, 'CANCELED')


_env_lock = threading.RLock()

PROFILE_OFF = ('RADICAL_PROFILE', 'FALSE')
"""RADICAL-Pilot's profiling is off unless the user's environment sets it (any
``RADICAL_*PROFILE`` variable). It is on by default in RP 1.103: each of the six profile
events of a task's exec and launch scripts that follow the end of the task's program then
starts two processes (RP's ``prof`` script and ``gtod``) instead of one that exits at once,
and every component writes a line per task event; on a busy machine that delays a task's
final state by hundreds of milliseconds and lowers throughput (issue 23)."""


def _profile_setting() -> Dict[str, str]:
    """`PROFILE_OFF`, unless the user's environment decides RADICAL-Pilot's profiling."""
    if any(name.startswith('RADICAL_') and name.endswith('PROFILE') for name in os.environ):
        return {}
    return {PROFILE_OFF[0]: PROFILE_OFF[1]}


def _user_config_dir(key: PilotKey) -> str:
    """
    A RADICAL-Pilot user configuration directory whose resource configuration starts every
    task in a session (process group) of its own (``new_session_per_task``): RADICAL-Pilot
    cancels a running task by killing its process group, which without it is not the task's,
    so the kill misses and the agent waits for the task to end by itself
    (``local.localhost`` leaves it off).

    RP reads resource configurations when the session is created, from its own files merged
    with the user's (``$RADICAL_CONFIG_USER_DIR`` or ``$HOME``, ``.radical/pilot/configs``):
    this is a copy of the user's, with the setting added for this resource unless the user
    configures that site's file themselves.
    """
    site, _, res = key.resource.partition('.')
    home = os.environ.get('RADICAL_CONFIG_USER_DIR') or os.path.expanduser('~')
    theirs = os.path.join(home, '.radical', 'pilot', 'configs')
    base = os.path.join(os.path.dirname(key.session_directory), 'radical-config')
    ours = os.path.join(base, '.radical', 'pilot', 'configs')
    os.makedirs(ours, mode=0o700, exist_ok=True)
    if os.path.isdir(theirs):
        for name in os.listdir(theirs):
            if name.endswith('.json'):
                shutil.copyfile(os.path.join(theirs, name), os.path.join(ours, name))
    site_file = os.path.join(ours, 'resource_%s.json' % site)
    if res and not os.path.exists(os.path.join(theirs, 'resource_%s.json' % site)):
        with open(site_file + '.tmp', 'w') as f:
            json.dump({res: {'new_session_per_task': True}}, f)
        os.replace(site_file + '.tmp', site_file)
    return base


@contextlib.contextmanager
def _rp_environment(settings: Dict[str, str]) -> Iterator[None]:
    """The process's environment with `settings` while RADICAL-Pilot starts something that
    reads it (its session, managers, components, the agent), restored afterwards."""
    with _env_lock:
        old = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            yield
        finally:
            for name, value in old.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _event(task: Any, state: str) -> TaskEvent:
    code = task.exit_code
    return TaskEvent(uid=cast(str, task.uid), state=state,
                     exit_code=None if code is None else int(code),
                     stderr=str(task.stderr or '')[-1000:],
                     exception=str(task.exception or ''))


def _close_when_main_ends() -> None:
    threading.main_thread().join()
    SharedPilot.close_all()


def _at_exit() -> None:
    """Close the pilots when the program ends. RADICAL-Pilot's threads are not daemons, and
    Python joins them *before* running `atexit` handlers: a pilot left to `atexit` is never
    closed, and the program never ends. So a daemon thread waits for the main thread to end
    and closes them then, while Python waits for RP's threads (which end with the session);
    `atexit` stays as the fallback."""
    threading.Thread(target=_close_when_main_ends, name='psij-rp-exit', daemon=True).start()
    atexit.register(SharedPilot.close_all)


_at_exit()
