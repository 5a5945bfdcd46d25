"""File staging for the local executor: ``file://`` URLs only, done in Python around the job.

Stage-in runs in `submit()` before the process starts; stage-out and cleanup run after it
ends, in one shared worker thread (started on first use) so that copying large files never
delays the reaper.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Set, TypeVar

from psij import _staging_rules as rules
from psij._fork import after_fork_in_child
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.staging import URI, StageIn, StageOut, StageOutFlags, StagingMode

logger = logging.getLogger(__name__)


class StagingError(Exception):
    """A staging operation failed; the message names the files."""


def check_urls(spec: JobSpec) -> None:
    """Rejects staging URLs the local executor cannot handle."""
    rules.check_urls(spec, 'local')


def _local_path(uri: URI, what: str) -> Path:
    return Path(rules.file_path(uri, what, 'local'))


def _in_dir(path: Path, directory: Optional[Path]) -> Path:
    if path.is_absolute():
        return path
    return (directory if directory is not None else Path.cwd()) / path


def _transfer(src: Path, dst: Path, mode: StagingMode) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode is StagingMode.LINK:
        if dst.is_symlink() or dst.exists():
            _remove(dst)
        os.symlink(src, dst)
    elif mode is StagingMode.MOVE:
        shutil.move(str(src), str(dst))
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def stage_in(spec: JobSpec, directory: Optional[Path]) -> None:
    """Performs the spec's stage-in; raises `StagingError`."""
    for si in _sorted(spec.stage_in):
        src = _local_path(si.source, 'JobSpec.stage_in[%s].source' % si.source)
        dst = _in_dir(si.target, directory)
        try:
            _transfer(src, dst, si.mode)
        except OSError as ex:
            raise StagingError('Stage-in of %s to %s failed: %s' % (src, dst, ex)) from ex


def stage_out_items(spec: JobSpec, outcome: JobState) -> Set[StageOut]:
    """The stage-out entries that apply to a job that ended in `outcome` (see
    :mod:`psij._staging_rules`)."""
    return {so for so in spec.stage_out or () if rules.applies(so.flags, outcome)}


def cleanup_applies(spec: JobSpec, outcome: JobState) -> bool:
    """Whether the spec's cleanup runs for a job that ended in `outcome`."""
    return bool(spec.cleanup) and rules.applies(spec.cleanup_flags, outcome)


def stage_out(items: Set[StageOut], directory: Optional[Path]) -> None:
    """Performs the given stage-out entries; raises `StagingError` for the first failure
    after attempting them all."""
    first: Optional[str] = None
    for so in _sorted(items):
        src = _in_dir(so.source, directory)
        dst = _local_path(so.target, 'JobSpec.stage_out[%s].target' % so.target)
        try:
            # lstat, not exists(): only "not found" means absent; any other error (EACCES,
            # ENAMETOOLONG, ...) is a failure of this entry
            os.lstat(src)
        except FileNotFoundError:
            if so.flags & StageOutFlags.IF_PRESENT:
                continue
            first = first or 'Stage-out of %s failed: the file does not exist' % src
            continue
        except OSError as ex:
            first = first or 'Stage-out of %s failed: %s' % (src, ex.strerror or ex)
            continue
        try:
            _transfer(src, dst, so.mode)
        except OSError as ex:
            first = first or 'Stage-out of %s to %s failed: %s' % (src, dst, ex)
    if first is not None:
        raise StagingError(first)


def cleanup(spec: JobSpec, directory: Optional[Path]) -> None:
    """Deletes the spec's cleanup paths; missing ones are ignored. Raises `StagingError` for
    the first failure after attempting them all."""
    first: Optional[str] = None
    for p in sorted(spec.cleanup or (), key=str):
        path = _in_dir(p, directory)
        try:
            _remove(path)
        except FileNotFoundError:
            pass
        except OSError as ex:
            first = first or 'Cleanup of %s failed: %s' % (path, ex.strerror or ex)
    if first is not None:
        raise StagingError(first)


_Staging = TypeVar('_Staging', StageIn, StageOut)


def _sorted(items: Optional[Iterable[_Staging]]) -> List[_Staging]:
    # Sets have no order; sorting makes runs reproducible (and parents precede children).
    return sorted(items or (), key=lambda x: (str(x.source), str(x.target)))


class StagingWorker:
    """One daemon thread, shared by all local executors, that runs stage-out tasks."""

    _instance: Optional[StagingWorker] = None
    _lock = threading.Lock()

    @classmethod
    def submit(cls, task: Callable[[], None]) -> None:
        """Runs `task` in the worker thread."""
        w = cls._instance
        if w is None:
            with cls._lock:
                w = cls._instance
                if w is None:
                    w = cls._instance = StagingWorker()
        w._q.put(task)

    @classmethod
    def _forget_after_fork(cls) -> None:
        # the thread is gone in the child (see psij._fork)
        cls._instance = None
        cls._lock = threading.Lock()

    def __init__(self) -> None:
        """Starts the thread."""
        self._q: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name='psij-local-staging', daemon=True).start()

    def _run(self) -> None:
        while True:
            task = self._q.get()
            try:
                task()
            except Exception:
                logger.exception('Unexpected error while staging out')


after_fork_in_child(StagingWorker._forget_after_fork)
