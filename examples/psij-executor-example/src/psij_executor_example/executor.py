"""
The ``example`` executor: runs each job as a local process and keeps the job's state in files.

Every job gets a directory ``<work_directory>/example/<native_id>/`` holding the process id
of the job's shell wrapper (``pid``) and, written by the wrapper when the job ends, its exit
code (``exit``). One monitor thread per executor reads those files. Because the state is on disk,
any process can follow a job by its native id (``attach``), as with a batch scheduler.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, List, Optional

from psij import (
    InvalidJobException,
    Job,
    JobExecutor,
    JobExecutorConfig,
    JobSpec,
    JobState,
    JobStatus,
    StageOutFlags,
    StagingMode,
)

logger = logging.getLogger(__name__)

# $1: the job's state directory, $2/$3: pre/post-launch scripts or '', then the command.
# The exit code is written to a temporary file and renamed, so readers never see half of it.
# A failing pre-launch script (a non-zero status, or an exit in it: the EXIT trap) leaves its
# exit code and path in "pre_launch_failed", for the job's status message.
_WRAPPER = r'''d=$1 pre=$2 post=$3
shift 3
done_with() { echo "$1" > "$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"; exit "$1"; }
pre_failed() { trap - EXIT; printf '%s %s\n' "$1" "$pre" > "$d/pre_launch_failed"; done_with "$1"; }
if [ -n "$pre" ]; then
    trap 'pre_failed $?' EXIT
    . "$pre" || pre_failed $?
    trap - EXIT
fi
"$@"
ec=$?
if [ -n "$post" ]; then . "$post"; fi
done_with "$ec"'''

_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
_POLL_SECONDS = 0.05
_KEEP_SECONDS = 24 * 3600  # how long an ended job can still be attached to


@dataclass
class _Entry:
    job: Job
    dir: Path
    proc: Optional[subprocess.Popen[bytes]] = None
    workdir: Optional[Path] = None


class ExampleJobExecutor(JobExecutor):
    """Runs jobs as local processes; any process can attach to them by native id."""

    def __init__(self, url: Optional[str] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """:param url: not used. :param config: its work directory holds the job files."""
        super().__init__(url=url, config=config)
        self._root = self.config.work_directory / 'example'
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._active: Dict[str, _Entry] = {}
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._purge()

    # -- the four methods every executor implements ----------------------------------------------

    def submit(self, job: Job) -> None:
        """Checks the job, stages its inputs in and starts it."""
        spec = self._check_job(job)  # the core's checks; binds the job to this executor
        try:
            self._validate(job, spec)
        except InvalidJobException:
            job.executor = None
            raise
        native_id = '%s-%d' % (secrets.token_hex(6), os.getpid())
        d = self._root / native_id
        d.mkdir(mode=0o700)
        job._native_id = native_id
        entry = _Entry(job, d, workdir=Path(spec.directory or os.getcwd()))
        self._set_job_status(job, JobStatus(JobState.QUEUED))
        try:
            self._stage_in(entry, spec)
        except OSError as ex:
            self._set_job_status(job, JobStatus(JobState.FAILED, message='stage-in: %s' % ex))
            return
        entry.proc = self._start(entry, spec)
        # the wrapper leads its own process group: cancel() signals the whole group
        (d / 'pid.tmp').write_text(str(entry.proc.pid))
        (d / 'pid.tmp').rename(d / 'pid')
        self._set_job_status(job, JobStatus(JobState.ACTIVE))
        self._track(entry)

    def cancel(self, job: Job) -> None:
        """Marks the job canceled and stops its process group."""
        if job.status.final or job.native_id is None:
            return
        d = self._root / job.native_id
        (d / 'canceled').touch()
        pid = _read_int(d / 'pid')
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        self._wake.set()

    def list(self) -> List[str]:
        """The native ids of this user's jobs that are still running."""
        out = []
        for d in self._root.iterdir():
            pid = _read_int(d / 'pid')
            if not (d / 'exit').exists() and pid is not None and _alive(pid):
                out.append(d.name)
        return out

    def attach(self, job: Job, native_id: str) -> None:
        """Follows a job started by any executor instance, in any process."""
        d = self._root / native_id
        if '/' in native_id or not d.is_dir():
            raise InvalidJobException('no job with native id %r in %s' % (native_id, self._root))
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('only a NEW job can be attached')
        job.executor = self
        job._native_id = native_id
        if not (d / 'exit').exists() and not (d / 'canceled').exists():
            # a job that ended reports its final state alone (the monitor gives it)
            self._set_job_status(job, JobStatus(JobState.QUEUED))
            if (d / 'pid').exists():
                self._set_job_status(job, JobStatus(JobState.ACTIVE))
        self._track(_Entry(job, d))

    # -- starting --------------------------------------------------------------------------------

    def _validate(self, job: Job, spec: JobSpec) -> None:
        """Everything this executor can know is wrong, checked before anything runs."""
        launcher = self._get_launcher_from_job(job)  # InvalidJobException if unknown
        if launcher.name != 'single':
            raise InvalidJobException('the example executor only supports the "single" '
                                      'launcher, not %r' % launcher.name)
        for s in spec.stage_in or ():
            if s.source.scheme != 'file':
                raise InvalidJobException('cannot stage in from %s: only file:// URIs'
                                          % s.source)
        if spec.directory is not None and not Path(spec.directory).is_dir():
            # the rule of every executor: refused now, or FAILED with exit code 1 later
            raise InvalidJobException('JobSpec.directory %s does not exist' % spec.directory)

    def _environment(self, spec: JobSpec) -> Dict[str, str]:
        env = dict(os.environ) if spec.inherit_environment else {}
        for name, value in (spec.environment or {}).items():
            env[name] = _REF.sub(lambda m: env.get(m.group(1), ''), value)
        return env

    def _start(self, e: _Entry, spec: JobSpec) -> subprocess.Popen[bytes]:
        assert spec.executable is not None and e.workdir is not None
        argv = ['/bin/sh', '-c', _WRAPPER, 'psij-example', str(e.dir),
                str(spec.pre_launch or ''), str(spec.post_launch or ''),
                spec.executable] + list(spec.arguments or [])
        files: List[IO[bytes]] = []

        def open_(p: Optional[Path], mode: str) -> Optional[IO[bytes]]:
            if p is None:
                return None
            f = open(e.workdir / p if e.workdir else p, mode)  # noqa: SIM115 (closed below)
            files.append(f)
            return f
        try:
            return subprocess.Popen(argv, cwd=e.workdir, env=self._environment(spec),
                                    stdin=open_(spec.stdin_path, 'rb') or subprocess.DEVNULL,
                                    stdout=open_(spec.stdout_path, 'wb'),
                                    stderr=open_(spec.stderr_path, 'wb'),
                                    start_new_session=True)
        finally:
            for f in files:
                f.close()

    def _stage_in(self, e: _Entry, spec: JobSpec) -> None:
        self._set_job_status(e.job, JobStatus(JobState.STAGE_IN))
        assert e.workdir is not None
        for s in spec.stage_in or ():
            _transfer(Path(s.source.path), e.workdir / s.target, s.mode)

    # -- following -------------------------------------------------------------------------------

    def _purge(self) -> None:
        """Removes the files of jobs that ended more than `_KEEP_SECONDS` ago."""
        limit = time.time() - _KEEP_SECONDS
        for d in self._root.iterdir():
            for marker in ('exit', 'canceled'):
                try:
                    if (d / marker).stat().st_mtime < limit:
                        shutil.rmtree(d, ignore_errors=True)
                        break
                except OSError:
                    pass

    def _track(self, e: _Entry) -> None:
        assert e.job.native_id is not None
        with self._lock:
            self._active[e.job.native_id] = e
            if self._thread is None:
                self._thread = threading.Thread(target=self._monitor, daemon=True,
                                                name='psij-example-monitor')
                self._thread.start()
        self._wake.set()

    def _monitor(self) -> None:
        while True:
            self._wake.wait(_POLL_SECONDS)
            self._wake.clear()
            with self._lock:
                entries = list(self._active.values())
            for e in entries:
                try:
                    self._check(e)
                except Exception:
                    logger.exception('checking job %s', e.job.id)

    def _check(self, e: _Entry) -> None:
        ended = e.proc.poll() is not None if e.proc is not None else not _alive_in(e.dir)
        code = _read_int(e.dir / 'exit')
        if code is not None:
            self._finish(e, self._state_for(code), code, _pre_launch_failure(e.dir))
        elif (e.dir / 'canceled').exists() and ended:
            self._finish(e, JobState.CANCELED, None)
        elif ended and not (e.dir / 'exit').exists():
            rc = e.proc.returncode if e.proc is not None else None
            self._finish(e, JobState.FAILED, rc, 'the job ended without an exit code')
        elif e.proc is None and (e.dir / 'pid').exists():
            self._set_job_status(e.job, JobStatus(JobState.ACTIVE))

    def _state_for(self, exit_code: int) -> JobState:
        return JobState.COMPLETED if exit_code == 0 else JobState.FAILED

    def _finish(self, e: _Entry, state: JobState, exit_code: Optional[int],
                message: Optional[str] = None) -> None:
        with self._lock:
            if self._active.pop(str(e.job.native_id), None) is None:
                return
        spec = e.job.spec if e.proc is not None else None
        if spec is not None:
            flag = {JobState.COMPLETED: StageOutFlags.ON_SUCCESS,
                    JobState.FAILED: StageOutFlags.ON_ERROR}.get(state, StageOutFlags.ON_CANCEL)
            try:
                self._stage_out(e, spec, flag)
            except OSError as ex:
                state, message = JobState.FAILED, 'stage-out: %s' % ex
        self._set_job_status(e.job, JobStatus(state, exit_code=exit_code, message=message))

    def _stage_out(self, e: _Entry, spec: JobSpec, flag: StageOutFlags) -> None:
        assert e.workdir is not None
        self._set_job_status(e.job, JobStatus(JobState.STAGE_OUT))
        for s in spec.stage_out or ():
            src = e.workdir / s.source
            if _outcomes(s.flags) & flag and \
                    not (s.flags & StageOutFlags.IF_PRESENT and not src.exists()):
                _transfer(src, Path(s.target.path), s.mode)
        self._set_job_status(e.job, JobStatus(JobState.CLEANUP))
        if _outcomes(spec.cleanup_flags) & flag:
            for p in spec.cleanup or ():
                target = e.workdir / p
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                elif target.exists() or target.is_symlink():
                    target.unlink()


def _outcomes(flags: StageOutFlags) -> StageOutFlags:
    # flags naming no outcome (IF_PRESENT alone) mean every outcome, as in psij-python
    when = flags & StageOutFlags.ALWAYS
    return StageOutFlags.ALWAYS if flags and not when else StageOutFlags(when)


def _transfer(src: Path, dst: Path, mode: StagingMode) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode is StagingMode.LINK:
        dst.symlink_to(src)
    elif mode is StagingMode.MOVE:
        shutil.move(str(src), str(dst))
    elif src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dst)


def _read_int(path: Path) -> Optional[int]:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive_in(d: Path) -> bool:
    pid = _read_int(d / 'pid')
    return pid is None or _alive(pid)


def _pre_launch_failure(d: Path) -> Optional[str]:
    """What the wrapper recorded of a failing pre-launch script, as the job's message."""
    try:
        code, _, path = (d / 'pre_launch_failed').read_text().rstrip('\n').partition(' ')
    except OSError:
        return None
    return 'The pre-launch script %s failed with exit code %s' % (path, code)
