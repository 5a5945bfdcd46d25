"""A batch-scheduler executor as the client of its scheduler's shared status engine
(:mod:`psij.executors.batch.status_engine`): status queries and final states.
"""

from __future__ import annotations

import subprocess
import time
from typing import Dict, List, Optional

from psij._log import get_logger
from psij.executors.batch import arrays, exit_codes, job_files
from psij.executors.batch.commands import run_command
from psij.executors.batch.scheduler_commands import SchedulerCommands
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.launchers.launch_wrapper import pre_launch_failure

logger = get_logger(__name__)


class StatusEngineClient(SchedulerCommands):
    """What the status engine calls (`status_engine.StatusClient`; threads documented
    there), and how a job's final state is made of its exit code and the
    scheduler's verdict."""

    def status_group(self) -> str:
        """Executors with the same scheduler commands share one status command."""
        return str(self.command_directory)

    def recorded_exit_code(self, native_id: str) -> Optional[int]:
        """The exit code the job recorded in the work directory, if any."""
        return self._read_exit_code(native_id)

    def recorded_start(self, native_id: str) -> bool:
        """Whether the job recorded its start in the work directory."""
        return self._is_active(native_id)

    def absence_is_end(self, native_id: str) -> bool:
        """Whether the job's absence from the scheduler's answer is its end: this executor
        canceled it (the cancel command succeeded) before it started."""
        with self._cancel_lock:
            return native_id in self._canceled_queued

    def query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        """The scheduler's statuses of `native_ids` (status commands in chunks); repeats the
        cancels that are due (see `RECANCEL_AFTER`)."""
        statuses = self._query_status(native_ids)
        if self._recancel:
            self._repeat_cancels(native_ids, statuses)
        return statuses

    RECANCEL_AFTER: tuple[float, ...] = (3.0, 15.0)
    """Seconds after a cancel at which it is sent again while the scheduler still shows the
    job not finished. A scheduler may lose a cancel that comes while it starts the job: seen
    on OpenPBS, whose mom signals the job before its processes exist, so that only the
    SIGKILL of the job's process group follows ``kill_delay`` later, which MPI ranks (in
    groups of their own) escape. A second cancel reaches the running job."""

    def _repeat_cancels(self, asked: List[str], statuses: Dict[str, JobStatus]) -> None:
        now = time.monotonic()
        due = []
        with self._cancel_lock:
            for native_id in asked:
                entry = self._recancel.get(native_id)
                if entry is None:
                    continue
                when, done = entry
                st = statuses.get(native_id)
                if st is None or st.state.final:
                    del self._recancel[native_id]  # ended, or gone from the queue
                elif when <= now:
                    due.append(native_id)
                    if done + 1 < len(self.RECANCEL_AFTER):
                        self._recancel[native_id] = (
                            now + self.RECANCEL_AFTER[done + 1] - self.RECANCEL_AFTER[done],
                            done + 1)
                    else:
                        del self._recancel[native_id]
            # the status command runs at the next repeat (at the latest) whatever the polling
            # interval, and soon after a repeat, to report the end it brings
            nxt = min((when for when, _ in self._recancel.values()), default=None)
        for native_id in due:
            logger.debug('Job %s: sending its cancel again', native_id)
            try:
                run_command(self._resolve(self.get_cancel_command(native_id)),
                            self._config.command_timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass  # the next poll reports what happened
        if due:
            self._engine.request_poll(1.0)
        if nxt is not None:
            self._engine.request_poll(max(0.0, nxt - now))

    def report_status(self, job: Job, status: JobStatus) -> None:
        """A new non-final status of `job`."""
        self._set_job_status(job, status)

    def report_final(self, job: Job, exit_code: Optional[int],
                     status: Optional[JobStatus]) -> None:
        """The end of `job` (see `_finish`)."""
        self._finish(job, exit_code, status)

    def _query_status(self, native_ids: List[str]) -> Dict[str, JobStatus]:
        n = self._config.ids_per_status_command
        result: Dict[str, JobStatus] = {}
        for i in range(0, len(native_ids), n):
            cmd = self._resolve(self.get_status_command(native_ids[i:i + n]))
            res = run_command(cmd, self._config.command_timeout)
            result.update(self.parse_status_result(res.returncode, res.stdout, res.stderr))
        return result

    def _read_exit_code(self, native_id: str) -> Optional[int]:
        return job_files.read_exit_code(self.work_directory, native_id,
                                        self._tokens.get(native_id))

    def _is_active(self, native_id: str) -> bool:
        return job_files.is_active(self.work_directory, native_id, self._tokens.get(native_id))

    def _finish(self, job: Job, code: Optional[int], st: Optional[JobStatus]) -> None:
        """Reports a job's final state from its exit code and/or the scheduler's verdict."""
        native_id = job.native_id or ''
        with self._cancel_lock:
            cancel_requested = native_id in self._cancel_requested
            self._cancel_requested.discard(native_id)
            self._canceled_queued.discard(native_id)
            self._recancel.pop(native_id, None)
        if cancel_requested and (st is None or st.state is not JobState.CANCELED) and \
                (code is None or (st is None and (code < 0 or code > 128))):
            # the job was killed before it could record an exit code (whatever the scheduler
            # makes of a job killed while starting, e.g. OpenPBS: "finished", Exit_status 0),
            # or it died of a signal (143: the shell's SIGTERM) and the scheduler's status
            # missed its end: it was canceled
            st = JobStatus(JobState.CANCELED, message='Canceled (%s)' % (
                st.message if st is not None and st.message else 'at the user\'s request'),
                exit_code=st.exit_code if st is not None else None,
                metadata=st.metadata if st is not None else None)
        if st is not None and st.state is JobState.CANCELED:
            final = JobStatus(JobState.CANCELED, message=st.message, exit_code=code,
                              metadata=st.metadata)
        elif st is not None and st.state is JobState.FAILED and st.message:
            # the scheduler knows why (time limit, memory, node failure, ...); a limit's kill
            # signal is the scheduler's, not the job's exit
            final = JobStatus(JobState.FAILED, message=st.message,
                              exit_code=None if exit_codes.is_limit_exceeded(st)
                              else code if code is not None else st.exit_code,
                              metadata=st.metadata)
        elif code is None and st is not None:
            final = st
        elif code == 0:
            final = JobStatus(JobState.COMPLETED, exit_code=0)
        else:
            stderr = job.spec.stderr_path if job.spec is not None else None
            tail = job_files.output_tail(self.work_directory, native_id, stderr,
                                         token=self._tokens.get(native_id))
            pre = job.spec is not None and job.spec.pre_launch is not None
            msg = (pre_launch_failure(tail) if pre else None) or \
                'The job exited with code %s' % code
            final = JobStatus(JobState.FAILED, exit_code=code,
                              message=msg + (': ' + tail if tail else ''))
        if job.status.state is JobState.QUEUED and final.state is not JobState.CANCELED and \
                (code is not None or self._is_active(native_id)):
            self._set_job_status(job, JobStatus(JobState.ACTIVE))
        if not self._config.keep_files:
            # before the final state is reported: whoever waits for it finds the files gone
            job_files.remove(self.work_directory, native_id, job.id,
                             self._tokens.get(native_id))
            self._clean_submit_script(job)
            arrays.job_ended(job)
        with self._cancel_lock:
            self._tokens.pop(native_id, None)
        self._set_job_status(job, final)
