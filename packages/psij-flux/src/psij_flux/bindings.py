"""
A narrow, typed wrapper around Flux's Python bindings (the untyped ``flux`` module).

Finding the bindings
--------------------
The ``flux`` module is not on PyPI for every Flux version; it is installed with Flux in
``<prefix>/lib/python3.X/site-packages`` and works only with the CPython 3.X it was built for
(plus ``cffi``, ``ply`` and ``pyyaml``: ``pip install 'psij-flux[bindings]'`` in a venv).
:func:`load` tries, in order:

1. ``import flux`` as it is (``PYTHONPATH``, a ``.pth`` file, the ``flux-python`` package);
2. the ``site-packages`` of the Flux installation, found from ``$PSIJ_FLUX_PREFIX``, the
   ``flux`` command on ``PATH``, then ``/opt/flux``, if it holds a ``flux`` package for this
   Python version; that directory is appended to ``sys.path``.

``PSIJ_FLUX_BINDINGS=0`` skips the bindings (the executor then uses the ``flux`` command
line). Why the bindings could not be loaded is kept in :func:`load_error`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

_lock = threading.Lock()
_flux: Any = None
_error: Optional[str] = None
_tried = False


def flux_prefixes() -> List[Path]:
    """Candidate Flux installation prefixes, most specific first."""
    out: List[Path] = []
    env = os.environ.get('PSIJ_FLUX_PREFIX')
    if env:
        out.append(Path(env))
    cmd = shutil.which('flux')
    if cmd:
        out.append(Path(os.path.realpath(cmd)).parent.parent)
    out.append(Path('/opt/flux'))
    return out


def flux_command() -> str:
    """The ``flux`` command: on ``PATH``, else in a known installation prefix, else ``flux``."""
    cmd = shutil.which('flux')
    if cmd:
        return os.path.realpath(cmd)
    if _flux is not None:
        p = Path(_flux.__file__).resolve().parents[4] / 'bin' / 'flux'
        if p.is_file():
            return str(p)
    for prefix in flux_prefixes():
        p = prefix / 'bin' / 'flux'
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return 'flux'


def _site_dirs() -> List[Path]:
    ver = 'python%d.%d' % sys.version_info[:2]
    return [p / 'lib' / ver / 'site-packages' for p in flux_prefixes()]


def _import() -> Any:
    import flux  # type: ignore[import-not-found, unused-ignore]
    import flux.job  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    return flux


def load() -> Any:
    """The ``flux`` module, or `None` if it cannot be imported (see :func:`load_error`)."""
    global _flux, _error, _tried
    with _lock:
        if _tried:
            return _flux
        _tried = True
        if os.environ.get('PSIJ_FLUX_BINDINGS', '1') == '0':
            _error = 'disabled by PSIJ_FLUX_BINDINGS=0'
            return None
        try:
            _flux = _import()
            return _flux
        except ImportError as ex:
            first = '%s: %s' % (type(ex).__name__, ex)
        for d in _site_dirs():
            if (d / 'flux' / '__init__.py').is_file() and str(d) not in sys.path:
                sys.path.append(str(d))
                try:
                    _flux = _import()
                    return _flux
                except ImportError as ex:
                    first = '%s (from %s): %s' % (type(ex).__name__, d, ex)
                    if 'cffi' in str(ex):
                        first += ' -- install cffi, ply and pyyaml in this Python ' \
                                 '(pip install "psij-flux[bindings]")'
        _error = first
        return None


def load_error() -> Optional[str]:
    """Why :func:`load` returned `None`, if it did."""
    return _error


def reset_for_tests() -> None:
    """Forgets the result of :func:`load` (tests only)."""
    global _flux, _error, _tried
    with _lock:
        _flux, _error, _tried = None, None, False


class FluxHandle:
    """
    One connection to a Flux instance. Not thread-safe: every call on one handle must come
    from one thread at a time (the owner serializes them).
    """

    def __init__(self, uri: Optional[str]) -> None:
        """
        Connects to `uri` (``None``: ``$FLUX_URI``).

        :raises OSError: if no instance answers.
        """
        flux = load()
        if flux is None:
            raise RuntimeError('the Flux Python bindings are not available: %s' % _error)
        self._flux = flux
        self.h: Any = flux.Flux(uri) if uri else flux.Flux()

    def attr(self, name: str) -> Optional[str]:
        """A broker attribute, or `None` if it does not exist."""
        try:
            return str(self.h.attr_get(name))
        except (OSError, KeyError):
            return None

    def submit(self, jobspec_json: str, urgency: int) -> int:
        """Submits a jobspec; the job id."""
        return int(self._flux.job.submit(self.h, jobspec_json, urgency=urgency))

    def submit_async(self, jobspec_json: str, urgency: int) -> Any:
        """Sends a submission; the future for :meth:`submit_get_id`."""
        return self._flux.job.submit_async(self.h, jobspec_json, urgency=urgency)

    def submit_get_id(self, future: Any) -> int:
        """Waits for the answer to :meth:`submit_async`; the job id (OSError if refused)."""
        return int(self._flux.job.submit_get_id(future))

    def config(self) -> Dict[str, Any]:
        """The instance's configuration (what ``flux config get`` prints)."""
        return dict(self.h.rpc('config.get').get())

    def cancel(self, jobid: int, reason: Optional[str] = None) -> None:
        """Cancels a job (raises OSError as Flux reports, e.g. for an inactive job)."""
        self._flux.job.cancel(self.h, jobid, reason)

    def get_job(self, jobid: int) -> Optional[Dict[str, Any]]:
        """The job-list record of a job (like ``flux jobs --json ID``), or `None` if unknown."""
        try:
            rec = self._flux.job.get_job(self.h, jobid)
        except (OSError, FileNotFoundError):
            return None
        return dict(rec) if rec else None

    def eventlog(self, jobid: int) -> Optional[List[Tuple[str, Dict[str, Any], float]]]:
        """The job's eventlog from the KVS (authoritative), or `None` if the job is unknown."""
        from flux.job.kvslookup import job_kvs_lookup  # type: ignore[import-not-found, unused-ignore]  # noqa: E501

        res = job_kvs_lookup(self.h, jobid, keys=['eventlog'])
        if not res or not res.get('eventlog'):
            return None
        out = []
        for line in str(res['eventlog']).splitlines():
            if line.strip():
                e = json.loads(line)
                out.append((str(e['name']), dict(e.get('context') or {}),
                            float(e['timestamp'])))
        return out

    def list_ids(self, userid: int) -> List[int]:
        """The ids of the active jobs (pending or running) of `userid`."""
        rpc = self._flux.job.list.job_list(self.h, max_entries=0, attrs=[], userid=userid,
                                           states=self._flux.constants.FLUX_JOB_STATE_ACTIVE)
        return [int(j['id']) for j in rpc.get_jobs()]

    def decode_words(self, text: str) -> Optional[int]:
        """The id for Flux's mnemonic form, or `None`."""
        try:
            return int(self._flux.job.JobID(text))
        except (TypeError, ValueError, OSError):
            return None

    def journal(self, since: float) -> Any:
        """A started ``JournalConsumer`` (full history after `since`, with the sentinel)."""
        jc = self._flux.job.JournalConsumer(self.h, full=True, since=since,
                                            include_sentinel=True)
        return jc.start()

    def fd_watcher(self, fd: int, callback: Callable[[], None]) -> Any:
        """Calls `callback` in the reactor whenever `fd` is readable; the watcher, started."""
        def cb(*_args: Any) -> None:
            callback()
        w = self.h.fd_watcher_create(fd, cb)
        w.start()
        return w

    def reactor_run(self) -> None:
        """Runs the reactor until :meth:`reactor_stop`; OSError if the connection fails."""
        rc = self.h.reactor_run()
        if rc is not None and rc < 0:
            raise OSError('the Flux reactor stopped with an error')

    def reactor_stop(self) -> None:
        """Stops :meth:`reactor_run` (from a callback of this handle's reactor)."""
        self.h.reactor_stop()

    def reactor_stop_error(self) -> None:
        """Stops :meth:`reactor_run` with an error (from a callback)."""
        self.h.reactor_stop_error()

    def close(self) -> None:
        """Drops the connection."""
        h, self.h = self.h, None
        if h is not None:
            try:
                h.close()
            except Exception:  # noqa: BLE001 - closing a broken handle may fail in any way
                pass
