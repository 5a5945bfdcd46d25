"""`LocalJobExecutor` and its configuration (the package's docstring describes the design)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from psij._bulk import SUBMIT_EXCEPTION
from psij._files import ensure_private_dir, read_tail
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.local import _local_state as state
from psij.executors.local._keeper import unlink
from psij.executors.local._keeper_client import KeeperClient, KeeperError, KeeperGone, StartReply
from psij.executors.local._keeper_messages import JobInfo
from psij.executors.local._lifecycle import CancelAction, LocalJob
from psij.executors.local._local_spawn import (
    Stdio,
    absolute,
    build_environment,
    os_error,
    resolve_executable,
    spawn_error,
)
from psij.executors.local._local_staging import (
    StagingError,
    StagingWorker,
    check_urls,
    cleanup,
    cleanup_applies,
    stage_in,
    stage_out,
    stage_out_items,
)
from psij.executors.local._reaper import Reaper
from psij.job import Job, PendingNativeId
from psij.job_executor import JobExecutor
from psij.job_executor_config import JobExecutorConfig
from psij.job_launcher import Launcher
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import LAUNCH_SCRIPT_PATH, pre_launch_failure
from psij.resource_spec import ResourceSpecV1

logger = logging.getLogger(__name__)

_LAUNCH_SCRIPT = str(LAUNCH_SCRIPT_PATH)
_STDERR_TAIL = 2048
_ATTACH_RETRY_LIMIT = 300.0


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


class _PendingNativeId(PendingNativeId):
    """The native id of a job whose start the keeper has not answered yet."""

    __slots__ = ('run',)

    def __init__(self, run: LocalJob) -> None:
        self.run = run

    def resolve(self) -> Optional[str]:
        """Waits for the keeper's answer (reading it if no other thread does)."""
        run = self.run
        keeper, key = run.keeper, run.key
        if keeper is not None and key is not None:
            keeper.wait_started(key)
        n = run.job._native_id
        return None if n is None or isinstance(n, PendingNativeId) else str(n)


class LocalJobExecutor(JobExecutor):
    """
    Runs jobs as processes on the local machine.

    Native ids have the form ``<pid>-<start time>@<host>``. `attach` works from any process of
    the same user on the same machine as long as the job's record exists in the state
    directory, also after the submitting process has ended; `list` returns the native ids of
    the live jobs recorded there.

    `submit` returns once the keeper has the job, with the job ``QUEUED``; the keeper starts
    it while the caller goes on (so a loop of submits keeps both busy), and the job becomes
    ``ACTIVE`` with its native id when the keeper answers. `Job.native_id` waits for that
    answer when asked earlier. What the keeper cannot start (an executable exec refuses
    although it looked runnable, no process slots or descriptors left) ends the job
    ``FAILED`` with the exception `submit` would have raised in its status metadata under
    ``'submit_exception'``, as `submit_many` reports refusals; what can be checked before
    (missing or non-executable files, scripts without a usable ``#!`` line, bad paths)
    raises from `submit` as before.

    Callbacks are delivered from the thread that calls `submit` (``QUEUED``, and
    ``STAGE_IN`` for a job with stage-in), from the shared reaper thread, and for ``ACTIVE``
    possibly from a thread that waits in `Job.native_id`: they must return quickly and must
    not wait for other jobs.
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
        # absolute: the keeper, which writes the records, runs in another directory
        self._state_dir = (Path(sd) if sd is not None
                           else state.default_state_directory()).absolute()
        self._grace = float(getattr(cfg, 'cancel_grace_period', 1.0))
        # The jobs of this executor that have not ended, by job id: only to find a job's own
        # object (which has its own lock) in cancel().
        self._jobs: Dict[str, LocalJob] = {}
        self._jobs_lock = threading.Lock()
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
        Reaper.get().call_later(0, partial(state.remove_old_records, self._state_dir))

    def _track(self, job: Job, run: LocalJob) -> None:
        with self._jobs_lock:
            self._jobs[job.id] = run

    def _forget(self, job: Job) -> None:
        with self._jobs_lock:
            self._jobs.pop(job.id, None)

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
        # stage-out or cleanup may change the final state (only a COMPLETED one): the keeper
        # records the end the submitter sends after them, or says that they were missed
        run = LocalJob(job, spec, defer=bool(stage_out_items(spec, JobState.COMPLETED))
                       or cleanup_applies(spec, JobState.COMPLETED))
        self._track(job, run)
        try:
            self._submit(run)
        except BaseException:
            self._forget(job)
            if job.status.state is JobState.NEW:
                job.executor = None  # not submitted: the job may be fixed and submitted again
            raise

    def _submit(self, run: LocalJob) -> None:
        self._ensure_state_dir()
        spec = _spec(run)
        if spec.directory is not None:
            run.directory = absolute(spec.directory, None)
            if not run.directory.is_dir():
                raise InvalidJobException('The job directory %s does not exist or is not a '
                                          'directory' % run.directory)
        if spec.stage_in or spec.stage_out:
            check_urls(spec)
        launcher_name = spec.launcher or Launcher.DEFAULT_LAUNCHER_NAME
        if launcher_name != 'single' or spec.pre_launch is not None \
                or spec.post_launch is not None:
            run.launcher = self._get_launcher_from_job(run.job)
        if not spec.stage_in:
            self._launch(run)
            return
        # Staged-in files may be what the job runs or reads, so the remaining checks come
        # after the stage-in, and their failures are the job's failures.
        self._set_job_status(run.job, JobStatus(JobState.QUEUED))
        self._set_job_status(run.job, JobStatus(JobState.STAGE_IN))
        try:
            stage_in(spec, run.directory)
            self._launch(run)
        except (StagingError, InvalidJobException, SubmitException) as ex:
            self._end_without_process(run, JobState.FAILED, str(ex))
        except Exception as ex:  # the job is past NEW: it must end, whatever went wrong
            self._end_without_process(run, JobState.FAILED, 'Stage-in failed: %r' % ex)

    def _argv(self, run: LocalJob, exe: str) -> List[str]:
        """The job's argv: its own, or the launch script's with the launcher's command."""
        spec = _spec(run)
        launcher = run.launcher
        if launcher is None:
            return [spec.executable or exe] + (spec.arguments or [])
        pre = self._script_path(spec.pre_launch, run.directory, 'pre_launch')
        post = self._script_path(spec.post_launch, run.directory, 'post_launch')
        log = self.config.launcher_log_file
        clean = '' if spec.inherit_environment else 'clean'
        cmd = launcher.get_launch_command(run.job)
        if cmd and cmd[0] == spec.executable and exe.startswith('/'):
            cmd = [exe] + cmd[1:]
        return [_shell(), _LAUNCH_SCRIPT, pre, post, '' if log is None else str(log), clean,
                '--'] + cmd

    def _launch(self, run: LocalJob) -> None:
        """Has the keeper start the job's process: directly, or through the launch script."""
        spec = _spec(run)
        # None: this process's environment at this moment (see KeeperClient.start).
        env = build_environment(spec.inherit_environment, spec.environment)
        # the keeper's own directory is not the job's
        cwd = str(run.directory) if run.directory is not None else os.getcwd()
        assert spec.executable is not None
        exe = resolve_executable(spec.executable, run.directory, env,
                                 must_exist=spec.pre_launch is None)
        nodefile = ''
        if run.launcher is not None and (spec.launcher or Launcher.DEFAULT_LAUNCHER_NAME) \
                != 'single':
            nodefile = self._write_nodefile(run.job, spec)
            env = dict(os.environ) if env is None else env
            env['PSIJ_NODEFILE'] = nodefile
        stdio = Stdio()
        try:
            argv = self._argv(run, exe)
            if run.launcher is not None:
                exe = argv[0]
            stdio.open(spec.stdin_path, spec.stdout_path, spec.stderr_path, run.directory)
            if run.is_canceled():
                if nodefile:
                    unlink(nodefile)
                self._end_without_process(run, JobState.CANCELED, 'Canceled before it started')
                return
            self._start(run, argv, exe, cwd, env, stdio, nodefile)
        except BaseException:
            if nodefile:
                unlink(nodefile)
            raise
        finally:
            stdio.close()
        if run.start_sent():  # cancel() came while the request was being sent
            assert run.keeper is not None and run.key is not None
            run.keeper.cancel(run.key, self._grace)
        # ACTIVE comes with the keeper's answer, unless it came already
        self._set_job_status(run.job, JobStatus(JobState.QUEUED))

    def _start(self, run: LocalJob, argv: List[str], exe: str, cwd: str,
               env: Optional[Dict[str, str]], stdio: Stdio, nodefile: str) -> None:
        """Asks the keeper to start the job. The submitter does not wait for the keeper's
        answer (`_started`): `Job.native_id` does, when asked."""
        stderr = ''
        p = _spec(run).stderr_path
        if p is not None and not str(p).startswith('/dev/'):
            stderr = str(absolute(p, run.directory))
        job = JobInfo(str(self._state_dir), stderr, run.launcher is not None, run.defer,
                      nodefile)
        try:
            keeper = run.keeper = KeeperClient.get()
            run.key = keeper.new_key()
            run.job._native_id = _PendingNativeId(run)
            keeper.start_async(run.key, argv, exe, cwd, env, stdio.passed(), job,
                               partial(self._started, run, exe, cwd, nodefile),
                               partial(self._on_end, run), partial(self._keeper_lost, run))
        except KeeperGone as ex:
            run.job._native_id = None
            raise SubmitException(str(ex), ex, transient=True) from ex

    def _started(self, run: LocalJob, exe: str, cwd: str, nodefile: str,
                 reply: StartReply) -> None:
        """The keeper's answer to the start of the job (in whichever thread read it)."""
        if not isinstance(reply, KeeperError):
            native_id = reply[1]
            run.job._native_id = native_id
            self._set_job_status(run.job, JobStatus(JobState.ACTIVE,
                                                    metadata={'nativeId': native_id}))
            deferred = run.activated()
            if deferred is not None:
                deferred()
            return
        run.job._native_id = None
        if nodefile:
            unlink(nodefile)
        error: Exception
        if reply.during == 'invalid':
            error = InvalidJobException('Cannot run executable %s: %s' % (exe, reply.strerror),
                                        reply)
        elif reply.during == 'watch':
            error = SubmitException('Cannot watch the job process (%s); with many jobs '
                                    'running at once, raise the limit of open files '
                                    '(ulimit -n)' % (reply.strerror or reply), reply,
                                    transient=True)
        elif reply.during == 'gone':
            error = SubmitException(str(reply.strerror), reply, transient=True)
        else:
            error = spawn_error(reply, exe, cwd)
        self._end_without_process(run, JobState.FAILED, str(error),
                                  {SUBMIT_EXCEPTION: error})

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

    def _on_end(self, run: LocalJob, state_name: str, code: Optional[int],
                message: Optional[str]) -> None:
        """In the reaper thread: the keeper reports the job's end (before ACTIVE's callbacks
        ran, the end waits for them)."""
        if run.process_ended(partial(self._on_end, run, state_name, code, message)):
            self._finish(run, _status(state_name, code, message))

    def _finish(self, run: LocalJob, st: JobStatus) -> None:
        """The job's process ended with `st` (ENDING): its stage-out and cleanup, then its
        end."""
        spec = _spec(run)
        launcher = run.launcher
        code = st.exit_code
        if st.state is JobState.FAILED and code and launcher is not None:
            tail = _stderr_tail(spec, run.directory)
            pre_launch = pre_launch_failure(tail) if spec.pre_launch is not None else None
            if pre_launch is not None:
                st = JobStatus(JobState.FAILED, exit_code=code, message=pre_launch)
            elif tail and launcher.is_launcher_failure(tail):
                st = JobStatus(JobState.FAILED, exit_code=code, message='The %s launcher '
                               'failed (exit code %d): %s' % (
                                   spec.launcher or 'single', code,
                                   launcher.get_launcher_failure_message(tail)))
        if spec.stage_out or spec.cleanup:
            StagingWorker.submit(partial(self._stage_out_and_finish, run, st))
            return
        self._report_final(run, st)

    def _keeper_lost(self, run: LocalJob, why: str) -> None:
        """The keeper died while the job ran (in the thread that found out). The job's
        process runs on in its own session, so the job is not over: follow its process by
        pidfd, as `attach` does (cancel included); its end is what the keeper's journal
        says, else FAILED with the exit code unknown (or CANCELED if cancelled)."""
        if not run.keeper_lost(partial(self._keeper_lost, run, why)):
            return
        native_id = run.job._native_id
        assert isinstance(native_id, str)
        pid, start = state.parse_native_id(native_id)
        pidfd = _open_pidfd(pid, start)
        canceled = run.follow(native_id, pid, pidfd)
        if canceled is None:
            if pidfd is not None:
                os.close(pidfd)
            return
        logger.warning('Job %s: %s; following its process %d', run.job.id, why, pid)
        self._follow(run)
        if canceled:  # the keeper's SIGKILL timer died with it
            self._signal_cancel(run)

    def _follow(self, run: LocalJob) -> None:
        """Watches the process of a job that is not our keeper's child (any more)."""
        if run.pidfd is None:
            self._check_record(run)
        else:
            Reaper.get().watch(run.pidfd, partial(self._on_followed_exit, run))

    def _stage_out_and_finish(self, run: LocalJob, st: JobStatus) -> None:
        """In the staging worker: stage-out and cleanup, then the final state. Whatever
        happens here, the job ends (a job left in STAGE_OUT would never end anywhere: the
        keeper waits for its final state)."""
        try:
            st = self._stage_out_and_cleanup(run, st)
        except BaseException as ex:
            st = JobStatus(JobState.FAILED, exit_code=st.exit_code,
                           message='Stage-out or cleanup failed: %r' % ex)
            raise
        finally:
            self._report_final(run, st)

    def _stage_out_and_cleanup(self, run: LocalJob, st: JobStatus) -> JobStatus:
        """The job's final status after its stage-out and cleanup: a failure of either
        makes a COMPLETED job FAILED with the cause (it is logged for a job that failed or
        was cancelled anyway)."""
        spec = _spec(run)
        items = stage_out_items(spec, st.state)
        if items:
            self._set_job_status(run.job, JobStatus(JobState.STAGE_OUT))
            try:
                stage_out(items, run.directory)
            except StagingError as ex:
                st = _staging_failed(run, st, ex)
        if cleanup_applies(spec, st.state):
            self._set_job_status(run.job, JobStatus(JobState.CLEANUP))
            try:
                cleanup(spec, run.directory)
            except StagingError as ex:
                st = _staging_failed(run, st, ex)
        return st

    def _report_final(self, run: LocalJob, st: JobStatus) -> None:
        """ENDING -> ENDED: reports the final state `st`."""
        if not run.finished():
            return
        if run.defer and run.keeper is not None and run.key is not None:
            # the keeper records the end only now, as the final state may have changed
            run.keeper.final(run.key, (st.state.name, st.exit_code, st.message))
        self._forget(run.job)
        self._set_job_status(run.job, st)

    def _end_without_process(self, run: LocalJob, outcome: JobState, message: str,
                             metadata: Optional[Dict[str, Any]] = None) -> None:
        """-> ENDED for a job that has no process (cancelled before it started, a failed
        stage-in, a start the keeper refused)."""
        if not run.ended_unstarted():
            return
        # No CLEANUP state here: reporting it would make ACTIVE appear for a job that never ran.
        spec = _spec(run)
        if cleanup_applies(spec, outcome):
            try:
                cleanup(spec, run.directory)
            except StagingError as ex:
                logger.warning('Job %s: %s', run.job.id, ex)
        self._forget(run.job)
        self._set_job_status(run.job, JobStatus(outcome, message=message, metadata=metadata))

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        """
        Cancels the job: SIGTERM to its process group, SIGKILL after the grace period.

        The job reports ``CANCELED`` once its process has ended. Cancelling a job that already
        ended does nothing.
        """
        if job.status.state.final:
            return
        with self._jobs_lock:
            run = self._jobs.get(job.id)
        if run is None:
            return
        action = run.request_cancel()
        # LATER: before the start request went, _launch sees the flag: it starts nothing, or
        # cancels right after. KEEPER: the keeper gets the cancel after the start (requests
        # are served in order).
        if action is CancelAction.KEEPER and run.keeper is not None and run.key is not None:
            run.keeper.cancel(run.key, self._grace)
        elif action is CancelAction.SIGNAL:
            self._signal_cancel(run)

    def _signal_cancel(self, run: LocalJob) -> None:
        """Cancels a followed process: SIGTERM now, SIGKILL after the grace period. The
        request file tells the keeper (if it lives) that this death is a cancel, so that it
        records CANCELED."""
        try:
            state.record_cancel_request(self._state_dir, run.native_id)
        except OSError as ex:
            logger.warning('Cannot record the cancel of %s: %s', run.native_id, ex)
        if not run.signal(signal.SIGTERM):
            return
        if self._grace <= 0:
            run.signal(signal.SIGKILL)
            return
        reaper = Reaper.get()
        timer = reaper.call_later(self._grace, partial(_kill_followed, run))
        if not run.set_kill_timer(timer):
            reaper.cancel_timer(timer)

    # -- list and attach -----------------------------------------------------------------------

    def list(self) -> List[str]:
        """The native ids of this user's live local jobs (from the state directory)."""
        return state.list_live(self._state_dir)

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows a local job started by any process of this user on this machine.

        The job gets the final state and exit code the keeper that started it recorded, also
        if the submitting process has ended since. If the keeper was killed before it could
        record them, the job is ``FAILED`` with a message that says so.

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
        run = LocalJob.attached(job, native_id, pid,
                                _open_pidfd(pid, start) if record.end is None else None, record)
        self._track(job, run)
        if record.end is None:  # a job that ended reports its final state alone
            self._set_job_status(job, JobStatus(JobState.ACTIVE,
                                                metadata={'nativeId': native_id}))
        self._follow(run)

    def _on_followed_exit(self, run: LocalJob, fd: int) -> None:
        timer = run.process_gone()
        if timer is not None:
            Reaper.get().cancel_timer(timer)
        os.close(fd)
        self._check_record(run)

    def _check_record(self, run: LocalJob) -> None:
        """The followed process is gone: the final state is the keeper's record. While the
        keeper lives and has not written it yet, look again later (the delay doubles)."""
        record = run.record = state.read_record(self._state_dir, run.native_id, run.record)
        canceled = run.is_canceled()
        if record is not None and record.end:
            st = _status_from_record(record.end)
        elif record is not None and state.submitter_alive(record) \
                and run.waited < _ATTACH_RETRY_LIMIT:
            run.waited += run.delay
            Reaper.get().call_later(run.delay, partial(self._check_record, run))
            run.delay = min(run.delay * 2, 1.0)
            return
        elif canceled:
            st = JobStatus(JobState.CANCELED, message='Canceled')
        else:
            keeper = record.submitter if record is not None else 'unknown'
            why = 'the psij keeper process (%s) that started it ended without recording it' \
                % keeper
            if record is not None and state.submitter_alive(record):
                why = 'the psij keeper process (%s) did not record it within %d s' % (
                    keeper, _ATTACH_RETRY_LIMIT)
            st = JobStatus(JobState.FAILED, message='Job %s ended but its exit code is '
                           'unknown: %s' % (run.native_id, why))
        if canceled:
            state.take_cancel_request(self._state_dir, run.native_id)  # if it ended first
        if not run.process_ended(partial(self._check_record, run)):
            return
        if run.spec is not None:  # ours, its keeper gone: stage-out and cleanup apply
            self._finish(run, st)
        else:
            self._report_final(run, st)


def _kill_followed(run: LocalJob) -> None:
    """The grace period of a followed process's cancel is over."""
    run.clear_kill_timer()
    run.signal(signal.SIGKILL)


def _spec(run: LocalJob) -> JobSpec:
    """The spec of a job this executor submitted (only attached jobs have none)."""
    assert run.spec is not None
    return run.spec


def _staging_failed(run: LocalJob, st: JobStatus, ex: StagingError) -> JobStatus:
    if st.state is JobState.COMPLETED:
        return JobStatus(JobState.FAILED, exit_code=st.exit_code, message=str(ex))
    logger.warning('Job %s: %s', run.job.id, ex)
    return st


def _status(state_name: str, code: Optional[int], message: Optional[str]) -> JobStatus:
    try:
        st = JobState.from_name(state_name)
    except ValueError:
        st = JobState.FAILED
    return JobStatus(st, exit_code=code, message=message)


def _status_from_record(end: Dict[str, Any]) -> JobStatus:
    code = end.get('exit_code')
    return _status(str(end.get('state')), code if isinstance(code, int) else None,
                   end.get('message'))


def _open_pidfd(pid: int, start: int) -> Optional[int]:
    """A pidfd of the job process `pid` that started at `start`, or `None` if it is gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    # Checked after opening the pidfd, so the fd surely designates the job's process.
    actual = state.proc_start_time(pid)
    if actual is None or not state.start_matches(actual, start):
        os.close(pidfd)
        return None
    return pidfd


def _stderr_tail(spec: JobSpec, directory: Optional[Path]) -> str:
    """The last lines of the job's standard error, if it went to a regular file."""
    p = spec.stderr_path
    if p is None or str(p).startswith('/dev/'):
        return ''
    return read_tail(absolute(p, directory), _STDERR_TAIL)
