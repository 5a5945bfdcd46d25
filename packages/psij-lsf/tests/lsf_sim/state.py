"""The simulator's own state: one directory holding what LSF knows and Slurm does not.

``$LSF_SIM_DIR`` (default ``/tmp/lsf-sim-<uid>``) holds:

- ``jobs/<id>.json``: what ``bsub`` was asked (name, queue, project, limits, files...);
- ``jobs/<id>.exec``: the job's hosts, one per slot, written by the job when it starts;
- ``jobs/<id>.hostfile``: ``$LSB_DJOB_HOSTFILE`` of the job;
- ``jobs/<id>.final.json``: the job's final view, kept once seen (LSF's record of it);
- ``jobs/<id>.kill``: the termination reason a ``bkill`` recorded (``TERM_OWNER``...);
- ``jobs/<id>.forgotten``: LSF forgot the job (as after CLEAN_PERIOD or an mbatchd restart);
- ``jobs/<id>.force``: a state shown instead of the real one while the job has not ended
  (``UNKWN``, ``ZOMBI``, ``SSUSP``... for tests);
- ``down``: the master is unreachable: every command prints ``Cannot connect to LSF. Please
  wait ...`` and retries (``LSB_NTRIES`` times if set, else until it is back);
- ``busy``: a number N: ``bjobs`` and ``bsub`` print N ``LSF is processing your request. Please
  wait ...`` lines first;
- ``esub``: a line ``bsub`` prints before its own (a site's esub message).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional


def root() -> Path:
    """The state directory (created on first use)."""
    d = Path(os.environ.get('LSF_SIM_DIR') or '/tmp/lsf-sim-%d' % os.getuid())
    (d / 'jobs').mkdir(parents=True, exist_ok=True)
    return d


def job_file(job_id: str, suffix: str) -> Path:
    """``jobs/<id><suffix>``."""
    return root() / 'jobs' / (job_id + suffix)


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Writes `data` atomically (readers never see half a file)."""
    tmp = path.with_name(path.name + '.%d.tmp' % os.getpid())
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    """The JSON object in `path`, or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_text(path: Path) -> Optional[str]:
    """The content of `path`, or None."""
    try:
        return path.read_text()
    except OSError:
        return None


def record(job_id: str) -> Optional[Dict[str, Any]]:
    """What ``bsub`` recorded for the job, or None for a job LSF never had."""
    return read_json(job_file(job_id, '.json'))


def all_job_ids() -> List[str]:
    """The ids of every job with a record, in numeric order."""
    ids = []
    for p in (root() / 'jobs').glob('*.json'):
        stem = p.name[:-len('.json')]
        if stem.isdigit():
            ids.append(stem)
    return sorted(ids, key=int)


def remove_stale(job_id: str, before: float) -> None:
    """Removes the files of an earlier job with this id (Slurm ids restart after a reset)."""
    for p in (root() / 'jobs').glob(job_id + '.*'):
        try:
            if p.stat().st_mtime < before:
                p.unlink()
        except OSError:
            pass


def flag(name: str) -> Optional[str]:
    """The content of a switch file (``down``, ``busy``, ``esub``), None if it is absent."""
    return read_text(root() / name)


def set_flag(name: str, value: Optional[str]) -> None:
    """Creates (``value``) or removes (None) a switch file."""
    p = root() / name
    if value is None:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    else:
        p.write_text(value)


def clean_period() -> float:
    """Seconds a finished job stays in ``bjobs`` (lsb.params CLEAN_PERIOD, default 3600);
    ``LSF_SIM_CLEAN_PERIOD`` or a ``clean_period`` file overrides it."""
    v = os.environ.get('LSF_SIM_CLEAN_PERIOD') or flag('clean_period')
    try:
        return float(v) if v else 3600.0
    except ValueError:
        return 3600.0


def now() -> float:
    """The current time (one place, so tests can reason about it)."""
    return time.time()
