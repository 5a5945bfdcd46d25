"""The ``local`` executor: runs jobs as processes on this machine.

A job that needs no shell (no pre/post-launch script, the ``single`` launcher) is started
directly with its argv, byte-exact; otherwise a small POSIX shell wrapper
(``psij/launchers/scripts/launch.sh``) sources the pre-launch script, runs the launcher's
command and sources the post-launch script, all from argv, never by pasting user strings into
shell code. Every job runs in its own session and process group.

One reaper thread per process (`psij.executors._reaper`) learns about every job's end through
a pidfd and reaps it; cancel sends SIGTERM to the job's process group and SIGKILL after
`LocalJobExecutorConfig.cancel_grace_period`. Final states and exit codes are recorded in a
private per-user state directory so that another process can `attach` to a job and get its
true exit code (`psij.executors._local_state`).

Linux only (pidfds: kernel 5.4 or later).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from psij._files import ensure_private_dir, read_tail
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors import _local_state as state
from psij.executors._local_spawn import (
    Stdio,
    absolute,
    build_environment,
    os_error,
    resolve_executable,
    spawn,
)
from psij.executors._local_staging import (
    StagingError,
    StagingWorker,
    check_urls,
    cleanup,
    cleanup_applies,
    stage_in,
    stage_out,
    stage_out_items,
)
from psij.executors._reaper import Reaper, Timer
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import LAUNCH_SCRIPT_PATH
from psij.resource_spec import ResourceSpecV1

logger = logging.getLogger(__name__)

_LAUNCH_SCRIPT = str(LAUNCH_SCRIPT_PATH)
_STDERR_TAIL = 2048
_ATTACH_RETRY_LIMIT = 300.0
_GROUP_WAIT_LIMIT = 2.0


class LocalJobExecutorConfig(JobExecutorConfig):
    """Configuration of the `LocalJobExecutor`."""

    def __init__(self, launcher_log_file: Optional[Union[str, Path]] = None,
                 work_directory: Optional[Union[str, Path]] = None,
                 state_directory: Optional[Union[str, Path]] = None,
                 cancel_grace_period: float = 1.0) -> None:
        """
        :param launcher_log_file: where the output of pre- and post-launch scripts goes; the
            job's own standard output and error if `None`.
        :param work_directory: see `JobExecutorConfig`.
        :param state_directory: where job records (exit codes for `attach`, live jobs for
            `list`) are kept; ``$PSIJ_LOCAL_STATE_DIR`` or ``~/.psij/state/local`` if `None`.
        :param cancel_grace_period: seconds between the SIGTERM and the SIGKILL of a cancel.
        """
        super().__init__(launcher_log_file=launcher_log_file, work_directory=work_directory)
        self.state_directory = None if state_directory is None else Path(state_directory)
        self.cancel_grace_period = float(cancel_grace_period)


def _shell() -> str:
    # bash if there is one: pre-launch scripts written for psij-python assume bash.
    for sh in ('/bin/bash', '/usr/bin/bash', '/bin/sh'):
        if os.access(sh, os.X_OK):
            return sh
    return '/bin/sh'


class _Run:
    """A job process this executor watches."""

    __slots__ = ('job', 'spec', 'pid', 'pidfd', 'popen', 'native_id', 'lock', 'exited',
                 'canceled', 'directory', 'nodefile', 'launcher', 'kill_timer')

    def __init__(self, job: Job, spec: JobSpec, pid: int, pidfd: int, native_id: str,
                 popen: Optional[subprocess.Popen[bytes]], directory: Optional[Path]) -> None:
        self.job = job
        self.spec = spec
        self.pid = pid
        self.pidfd = pidfd
        self.popen = popen
        self.native_id = native_id
        self.lock = threading.Lock()
        self.exited = False
        self.canceled = False
        self.directory = directory
        self.nodefile: Optional[str] = None
        self.launcher: Optional[Launcher] = None
        self.kill_timer: Optional[Timer] = None


class LocalJobExecutor(JobExecutor):
    """
    Runs jobs as processes on the local machine.

    Native ids have the form ``<pid>-<start time>``. `attach` works from any process of the
    same user as long as the job's record exists in the state directory; `list` returns the
    native ids of the live jobs recorded there. Callbacks are delivered from the thread that
    calls `submit` (up to ``ACTIVE``) and from the shared reaper thread (the end): they must
    return quickly and must not wait for other jobs.
    """

    def __init__(self, url: Optional[str] = None,
                 config: Optional[JobExecutorConfig] = None) -> None:
        """
        :param url: ignored.
        :param config: a `LocalJobExecutorConfig` (or a plain `JobExecutorConfig`).
        """
        super().__init__(url=url, config=config if config is not None
                         else LocalJobExecutorConfig())
        cfg = self.config
        sd = getattr(cfg, 'state_directory', None)
        self._state_dir = Path(sd) if sd is not None else state.default_state_directory()
        self._grace = float(getattr(cfg, 'cancel_grace_period', 1.0))
        self._runs: Dict[str, _Run] = {}
        self._cancel_requested: Dict[str, bool] = {}
        self._state_ready = False

    @property
    def state_directory(self) -> Path:
        """Where this executor records jobs."""
        return self._state_dir

    def _ensure_state_dir(self) -> None:
        if self._state_ready:
            return
        try:
            ensure_private_dir(self._state_dir)
        except OSError as ex:
            raise SubmitException('Cannot use the psij state directory %s: %s'
                                  % (self._state_dir, ex), ex) from ex
        self._state_ready = True
        Reaper.get().call_later(0, lambda: state.remove_old_records(self._state_dir))

    # -- submit ------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """
        Starts the job.

        :raises InvalidJobException: for a spec that cannot run (missing or non-executable
            executable, missing directory, unusable stdio paths, unknown launcher, ...); the
            message names the path.
        :raises SubmitException: when the machine refuses (no processes or descriptors left,
            unusable state directory); ``transient`` is set where a retry may help.
        """
        spec = self._check_job(job)
        try:
            self._submit(job, spec)
        except BaseException:
            if job.status.state is JobState.NEW:
                job.executor = None  # not submitted: the job may be fixed and submitted again
            raise

    def _submit(self, job: Job, spec: JobSpec) -> None:
        self._ensure_state_dir()
        directory = None
        if spec.directory is not None:
            directory = absolute(spec.directory, None)
            if not directory.is_dir():
                raise InvalidJobException('The job directory %s does not exist or is not a '
                                          'directory' % directory)
        if spec.stage_in or spec.stage_out:
            check_urls(spec)
        launcher_name = spec.launcher or Launcher.DEFAULT_LAUNCHER_NAME
        shell = launcher_name != 'single' or spec.pre_launch is not None \
            or spec.post_launch is not None
        launcher = self._get_launcher_from_job(job) if shell else None
        if not spec.stage_in:
            self._launch(job, spec, directory, launcher)
            return
        # Staged-in files may be what the job runs or reads, so the remaining checks come
        # after the stage-in, and their failures are the job's failures.
        self._set_job_status(job, JobStatus(JobState.QUEUED))
        self._set_job_status(job, JobStatus(JobState.STAGE_IN))
        try:
            stage_in(spec, directory)
            self._launch(job, spec, directory, launcher)
        except (StagingError, InvalidJobException, SubmitException) as ex:
            self._end_without_process(job, spec, directory, JobState.FAILED, str(ex))

    def _launch(self, job: Job, spec: JobSpec, directory: Optional[Path],
                launcher: Optional[Launcher]) -> None:
        """Starts the job's process: directly, or through the launch script if `launcher`."""
        env = build_environment(spec.inherit_environment, spec.environment)
        assert spec.executable is not None
        exe = resolve_executable(spec.executable, directory, env,
                                 must_exist=spec.pre_launch is None)
        argv: List[str]
        nodefile = None
        if launcher is not None:
            pre = self._script_path(spec.pre_launch, directory, 'pre_launch')
            post = self._script_path(spec.post_launch, directory, 'post_launch')
            log = self.config.launcher_log_file
            clean = '' if spec.inherit_environment else 'clean'
            if (spec.launcher or Launcher.DEFAULT_LAUNCHER_NAME) != 'single':
                nodefile = self._write_nodefile(job, spec)
                if env is None:
                    env = dict(os.environ)
                env['PSIJ_NODEFILE'] = nodefile
            cmd = launcher.get_launch_command(job)
            if cmd and cmd[0] == spec.executable and exe.startswith('/'):
                cmd = [exe] + cmd[1:]
            argv = [_shell(), _LAUNCH_SCRIPT, pre, post, '' if log is None else str(log),
                    clean, '--'] + cmd
            exe = argv[0]
        else:
            argv = [spec.executable] + (spec.arguments or [])
        stdio = Stdio()
        try:
            stdio.open(spec.stdin_path, spec.stdout_path, spec.stderr_path, directory)
            if self._cancel_requested.pop(job.id, False):
                if nodefile is not None:
                    _unlink(nodefile)
                self._end_without_process(job, spec, directory, JobState.CANCELED,
                                          'Canceled before it started')
                return
            start = state.start_estimate()
            popen = spawn(argv, exe, directory, env, stdio)
        except BaseException:
            if nodefile is not None:
                _unlink(nodefile)
            raise
        finally:
            stdio.close()
        self._started(job, spec, popen, start, directory, nodefile, launcher)

    def _started(self, job: Job, spec: JobSpec, popen: subprocess.Popen[bytes], start: int,
                 directory: Optional[Path], nodefile: Optional[str],
                 launcher: Optional[Launcher]) -> None:
        pid = popen.pid
        # The child cannot be reaped by anyone but us, so the pid is still ours here even if
        # the process already ended.
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as ex:
            # Typically EMFILE: one descriptor per running job. Undo the start rather than
            # leave a job nobody watches.
            _killpg(pid, signal.SIGKILL)
            popen.wait()
            if nodefile is not None:
                _unlink(nodefile)
            raise SubmitException('Cannot watch the job process (%s); with many jobs running '
                                  'at once, raise the limit of open files (ulimit -n)'
                                  % (ex.strerror or ex), ex, transient=True) from ex
        native_id = state.make_native_id(pid, start)
        job._native_id = native_id
        try:
            state.record_start(self._state_dir, native_id)
        except OSError as ex:
            logger.warning('Cannot record job %s in %s: %s', native_id, self._state_dir, ex)
        run = _Run(job, spec, pid, pidfd, native_id, popen, directory)
        run.nodefile = nodefile
        run.launcher = launcher
        self._runs[job.id] = run
        self._set_job_status(job, JobStatus(JobState.ACTIVE, metadata={'nativeId': native_id}))
        # Watch only now, so that the end is never reported before ACTIVE's callbacks ran.
        Reaper.get().watch(pidfd, lambda fd: self._on_exit(run))
        if self._cancel_requested.pop(job.id, False):
            self.cancel(job)

    def _script_path(self, p: Optional[Path], directory: Optional[Path], what: str) -> str:
        if p is None:
            return ''
        full = absolute(p, directory)
        if not os.access(full, os.R_OK) or not full.is_file():
            raise InvalidJobException('JobSpec.%s: cannot read the script %s' % (what, full))
        return str(full)

    def _write_nodefile(self, job: Job, spec: JobSpec) -> str:
        res = spec.resources
        n = res.computed_process_count if isinstance(res, ResourceSpecV1) else 1
        path = os.path.join(self._state_dir, 'nodes-%s' % job.id)
        try:
            with open(path, 'w') as f:
                f.write((socket.gethostname() + '\n') * n)
        except OSError as ex:
            raise os_error('Cannot write the node file', path, ex) from ex
        return path

    # -- the end of a job ----------------------------------------------------------------------

    @staticmethod
    def _mark_exited(run: _Run) -> bool:
        """Records that the job's process ended, stops its kill timer; True if canceled."""
        with run.lock:
            run.exited = True
            canceled = run.canceled
            timer = run.kill_timer
        if timer is not None:
            Reaper.get().cancel_timer(timer)
        return canceled

    def _on_exit(self, run: _Run) -> None:
        """In the reaper thread: the job's process ended (it is a zombie until we reap it)."""
        canceled = self._mark_exited(run)
        if canceled:
            # While the zombie leader keeps its pid, the group id cannot be reused: take down
            # whatever the job left in its group, so that CANCELED means "all gone".
            _killpg(run.pid, signal.SIGKILL)
        try:
            res = os.waitid(os.P_PIDFD, run.pidfd, os.WEXITED)
        except ChildProcessError:
            res = None
        os.close(run.pidfd)
        self._runs.pop(run.job.id, None)
        if run.nodefile is not None:
            _unlink(run.nodefile)
        if res is None:
            code: Optional[int] = None
            st = JobStatus(JobState.FAILED, message='The exit status of process %d was lost '
                           '(was SIGCHLD ignored, or did other code reap it?)' % run.pid)
        else:
            code = res.si_status if res.si_code == os.CLD_EXITED else -res.si_status
            if not canceled and run.popen is not None:
                # A `cancel` from another process that attached to the job: the job may have
                # died of the signal, or trapped it and exited (143...); either way CANCELED,
                # as the cancelling process reports it, and its request file is consumed.
                canceled = state.take_cancel_request(self._state_dir, run.native_id)
            st = self._exit_status(run, code, canceled)
        if run.popen is not None:
            # Tell subprocess the child is reaped, or it may try to reap the pid again later.
            run.popen.returncode = code if code is not None else -1
        if canceled:
            self._finish_when_group_gone(run, st, 0.0, 0.0002)
        else:
            self._finish(run.job, run.spec, run.directory, run.native_id, st)

    def _finish_when_group_gone(self, run: _Run, st: JobStatus, waited: float,
                                delay: float) -> None:
        """Reports a cancelled job once the other processes of its group are gone too.

        They got SIGKILL, but dying takes them a moment. Only cancelled jobs whose group
        outlives the leader wait here.
        """
        try:
            os.killpg(run.pid, signal.SIGKILL)
            # The group still exists, but maybe only as zombies waiting for their new parent
            # (init, which may reap only now and then): those are gone for our purpose.
            alive = state.group_has_live_members(run.pid)
        except (ProcessLookupError, PermissionError):
            alive = False
        if alive and waited < _GROUP_WAIT_LIMIT:
            Reaper.get().call_later(delay, lambda: self._finish_when_group_gone(
                run, st, waited + delay, min(delay * 2, 0.05)))
            return
        if alive:
            logger.warning('Job %s: processes of group %d survive SIGKILL (zombies nobody '
                           'reaps?)', run.job.id, run.pid)
        self._finish(run.job, run.spec, run.directory, run.native_id, st)

    def _exit_status(self, run: _Run, code: int, canceled: bool) -> JobStatus:
        if canceled:
            return JobStatus(JobState.CANCELED, exit_code=code, message='Canceled')
        if code == 0:
            return JobStatus(JobState.COMPLETED, exit_code=0)
        if code < 0:
            msg = 'Killed by signal %s' % _signame(-code)
        elif run.launcher is not None and code > 128:
            msg = 'Exit code %d (the shell reports a death by signal %s this way)' % (
                code, _signame(code - 128))
        else:
            msg = 'Exit code %d' % code
        tail = _stderr_tail(run.spec, run.directory)
        launcher = run.launcher
        if tail and launcher is not None and launcher.is_launcher_failure(tail):
            msg = 'The %s launcher failed (exit code %d): %s' % (
                run.spec.launcher or 'single', code, launcher.get_launcher_failure_message(tail))
        elif tail:
            msg += '; end of standard error:\n' + tail
        return JobStatus(JobState.FAILED, exit_code=code, message=msg)

    def _finish(self, job: Job, spec: JobSpec, directory: Optional[Path],
                native_id: Optional[str], st: JobStatus) -> None:
        if spec.stage_out or spec.cleanup:
            StagingWorker.submit(lambda: self._stage_out_and_finish(job, spec, directory,
                                                                    native_id, st))
            return
        self._report_final(job, native_id, st)

    def _report_final(self, job: Job, native_id: Optional[str], st: JobStatus) -> None:
        self._cancel_requested.pop(job.id, None)
        if native_id is not None:
            try:
                state.record_end(self._state_dir, native_id, st.state.name, st.exit_code,
                                 st.message)
            except OSError as ex:
                logger.warning('Cannot record the end of job %s: %s', native_id, ex)
        self._set_job_status(job, st)

    def _stage_out_and_finish(self, job: Job, spec: JobSpec, directory: Optional[Path],
                              native_id: Optional[str], st: JobStatus) -> None:
        items = stage_out_items(spec, st.state)
        if items:
            self._set_job_status(job, JobStatus(JobState.STAGE_OUT))
            try:
                stage_out(items, directory)
            except StagingError as ex:
                if st.state is JobState.COMPLETED:
                    st = JobStatus(JobState.FAILED, exit_code=st.exit_code, message=str(ex))
                else:
                    logger.warning('Job %s: %s', job.id, ex)
        if cleanup_applies(spec, st.state):
            self._set_job_status(job, JobStatus(JobState.CLEANUP))
            cleanup(spec, directory)
        self._report_final(job, native_id, st)

    def _end_without_process(self, job: Job, spec: JobSpec, directory: Optional[Path],
                             outcome: JobState, message: str) -> None:
        # No CLEANUP state here: reporting it would make ACTIVE appear for a job that never ran.
        if cleanup_applies(spec, outcome):
            cleanup(spec, directory)
        self._set_job_status(job, JobStatus(outcome, message=message))

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        """
        Cancels the job: SIGTERM to its process group, SIGKILL after the grace period.

        The job reports ``CANCELED`` once its process has ended. Cancelling a job that already
        ended does nothing.
        """
        if job.status.state.final:
            return
        run = self._runs.get(job.id)
        if run is None:
            if job.executor is self:
                # Inside submit() (e.g. staging in) or staging out: submit() checks this flag
                # before starting the process; after the process, there is nothing to cancel.
                self._cancel_requested[job.id] = True
            return
        with run.lock:
            if run.exited or run.canceled:
                return
            run.canceled = True
            if run.popen is None:
                # Attached: not our child, so the pid could be recycled once it ends; the pidfd
                # reaches the right process whatever happens. The record tells the submitting
                # process that this death is a cancel.
                try:
                    state.record_cancel_request(self._state_dir, run.native_id)
                except OSError as ex:
                    logger.warning('Cannot record the cancel of %s: %s', run.native_id, ex)
                _pidfd_signal(run.pidfd, signal.SIGTERM)
            _killpg(run.pid, signal.SIGTERM)
        if self._grace <= 0:
            self._kill(run)
            return
        timer = Reaper.get().call_later(self._grace, lambda: self._kill(run))
        with run.lock:
            if not run.exited:
                run.kill_timer = timer
                return
        Reaper.get().cancel_timer(timer)  # it ended meanwhile

    @staticmethod
    def _kill(run: _Run) -> None:
        with run.lock:
            if run.exited:
                return
            if run.popen is None:
                _pidfd_signal(run.pidfd, signal.SIGKILL)
            _killpg(run.pid, signal.SIGKILL)

    # -- list and attach -----------------------------------------------------------------------

    def list(self) -> List[str]:
        """The native ids of this user's live local jobs (from the state directory)."""
        return state.list_live(self._state_dir)

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows a local job started by any process of this user.

        The job gets the final state and exit code its submitting process recorded. If that
        process ended without recording them, the job is ``FAILED`` with a message that says
        so.

        :raises InvalidJobException: if `job` is not ``NEW`` or `native_id` is not the id of a
            recorded local job.
        """
        if not isinstance(job, Job) or job.status.state is not JobState.NEW:
            raise InvalidJobException('Only a job in the NEW state can be attached')
        try:
            pid, start = state.parse_native_id(native_id)
        except ValueError as ex:
            raise InvalidJobException(str(ex)) from ex
        native_id = state.make_native_id(pid, start)
        record = state.read_record(self._state_dir, native_id)
        if record is None:
            raise InvalidJobException('No local job %s: it has no record in %s (was it '
                                      'submitted by another user, or long ago?)'
                                      % (native_id, self._state_dir))
        if job.executor is not None:
            raise InvalidJobException('Job %s is already bound to executor %s'
                                      % (job.id, job.executor))
        job.executor = self
        job._native_id = native_id
        pidfd: Optional[int] = None
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pass
        # Checked after opening the pidfd, so the fd surely designates the job's process.
        if pidfd is not None:
            actual = state.proc_start_time(pid)
            if actual is None or not state.start_matches(actual, start):
                os.close(pidfd)
                pidfd = None
        self._set_job_status(job, JobStatus(JobState.ACTIVE, metadata={'nativeId': native_id}))
        if pidfd is None:
            self._attached_ended(job, native_id, 0.0, 0.001)
            return
        run = _Run(job, job.spec or JobSpec(), pid, pidfd, native_id, None, None)
        self._runs[job.id] = run
        Reaper.get().watch(pidfd, lambda fd: self._on_attached_exit(run))

    def _on_attached_exit(self, run: _Run) -> None:
        canceled = self._mark_exited(run)
        os.close(run.pidfd)
        self._runs.pop(run.job.id, None)
        if canceled:
            self._set_job_status(run.job, JobStatus(JobState.CANCELED, message='Canceled'))
            return
        self._attached_ended(run.job, run.native_id, 0.0, 0.001)

    def _attached_ended(self, job: Job, native_id: str, waited: float, delay: float) -> None:
        """The process is gone: take the final state from its record, waiting (with backoff)
        while its submitting process is alive and has not written it yet."""
        record = state.read_record(self._state_dir, native_id)
        if record is not None and record.end:
            self._set_job_status(job, _status_from_record(record.end))
            return
        if record is not None and state.submitter_alive(record) \
                and waited < _ATTACH_RETRY_LIMIT:
            Reaper.get().call_later(delay, lambda: self._attached_ended(
                job, native_id, waited + delay, min(delay * 2, 1.0)))
            return
        why = 'its submitting process (%s) ended without recording it' % (
            record.submitter if record is not None else 'unknown')
        if record is not None and state.submitter_alive(record):
            why = 'its submitting process (%s) did not record it within %d s' % (
                record.submitter, _ATTACH_RETRY_LIMIT)
        self._set_job_status(job, JobStatus(
            JobState.FAILED, message='Job %s ended but its exit code is unknown: %s'
            % (native_id, why)))


def _status_from_record(end: Dict[str, Any]) -> JobStatus:
    try:
        st = JobState.from_name(str(end.get('state')))
    except ValueError:
        st = JobState.FAILED
    code = end.get('exit_code')
    return JobStatus(st, exit_code=code if isinstance(code, int) else None,
                     message=end.get('message'))


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _pidfd_signal(pidfd: int, sig: int) -> None:
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except (ProcessLookupError, OSError):
        pass


def _signame(sig: int) -> str:
    try:
        return '%s (%d)' % (signal.Signals(sig).name, sig)
    except ValueError:
        return str(sig)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _stderr_tail(spec: JobSpec, directory: Optional[Path]) -> str:
    """The last lines of the job's standard error, if it went to a regular file."""
    p = spec.stderr_path
    if p is None or str(p).startswith('/dev/'):
        return ''
    return read_tail(absolute(p, directory), _STDERR_TAIL)
