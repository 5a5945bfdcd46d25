"""Submitting, cancelling, attaching and listing the jobs of a batch-scheduler executor."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Iterable, List, Optional, Tuple, cast

from psij._log import get_logger
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch import arrays, job_files
from psij.executors.batch.commands import run_command
from psij.executors.batch.scheduler_hooks import InvalidJobStateError, _pattern_text
from psij.executors.batch.status_engine_client import StatusEngineClient
from psij.executors.batch.submit_script import SubmitScript
from psij.job import Job
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

if TYPE_CHECKING:
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

logger = get_logger(__name__)


_UNSAFE_ID_CHARACTER = re.compile(r'[\s,\x00-\x1f\x7f]')


class Submission(SubmitScript, StatusEngineClient):
    """The `JobExecutor` methods of a batch-scheduler executor."""

    def submit(self, job: Job) -> None:
        """
        Writes the job's submit script and submits it (after `check_commands`).

        :raises InvalidJobException: for a specification the scheduler cannot be given safely
            or that the scheduler rejects as invalid.
        :raises SubmitException: if the scheduler cannot be reached or refuses the job;
            ``transient`` is `True` for time-outs and "try again" kinds of errors.
        """
        self.check_commands()
        spec = self._check_job(job)
        try:
            self._refuse_fields_not_passed(spec)
        except InvalidJobException:
            job.executor = None
            raise
        script = self.work_directory / (job.id + job_files.SCRIPT_SUFFIX)
        created = False
        with self._cancel_lock:
            self._submitting.add(job.id)
        try:
            if not isinstance(spec.resources, ResourceSpecV1):
                raise InvalidJobException('Only ResourceSpecV1 resources are supported')
            if not self._work_directory_ready:
                job_files.ensure_private_dir(self.work_directory)
                self._work_directory_ready = True
            context = self._create_script_context(job)
            # never overwrite another job's script (ids are unique per process, forks included)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                try:
                    fd = os.open(script, flags, 0o600)
                except FileNotFoundError:  # the work directory was removed since
                    job_files.ensure_private_dir(self.work_directory)
                    fd = os.open(script, flags, 0o600)
            except FileExistsError as ex:
                raise SubmitException('The submit script %s already exists: another process '
                                      'uses the job id %s' % (script, job.id), ex) from ex
            except OSError as ex:
                raise SubmitException('Cannot write the submit script %s: %s' % (script, ex),
                                      ex) from ex
            created = True
            try:
                with os.fdopen(fd, 'w') as f:
                    self.generate_submit_script(job, context, f)
            except OSError as ex:  # a full disk, a quota
                raise SubmitException('Cannot write the submit script %s: %s' % (script, ex),
                                      ex) from ex
            cmd = self.get_submit_command(job, script)
            submitted = time.time()
            out = self._run_command(cmd, submitting=True)
            native_id = self.job_id_from_submit_output(out).strip()
            if not native_id:
                raise SubmitException('%s printed no job id: %r' % (cmd[0], out))
            self._check_submitted_id(native_id, out)
        except BaseException:
            with self._cancel_lock:
                self._submitting.discard(job.id)
                self._cancel_after_submit.discard(job.id)
            job.executor = None
            if created and not self._config.keep_files:
                job_files.remove(self.work_directory, None, job.id)
            raise
        job._native_id = native_id
        if self._base_writes_script():
            # a script of the subclass's own (psij-python's templates) writes no token
            token = context['psij']['token']
            with self._cancel_lock:
                self._tokens[native_id] = token
            # files an earlier job with the same id left hold another token: they are ignored
            job_files.write_token(self.work_directory, native_id, token)
        self._set_job_status(job, JobStatus(JobState.QUEUED, metadata={'native_id': native_id}))
        self._engine.register(job, self, submitted)
        with self._cancel_lock:
            self._submitting.discard(job.id)
            cancel = job.id in self._cancel_after_submit
            self._cancel_after_submit.discard(job.id)
        if cancel:
            self.cancel(job)

    array_scheme: Optional[arrays.ArrayScheme] = None
    """The scheduler's job arrays, used by `submit_many` (see
    :mod:`psij.executors.batch.arrays`); `None`: jobs are submitted one by one."""

    def submit_many(self, jobs: Iterable[Job]) -> List[Job]:
        """
        Submits jobs as native job arrays where they differ only in arguments, environment,
        name and stdio paths (see :mod:`psij.executors.batch.arrays`), the others one by one;
        see :meth:`psij.JobExecutor.submit_many` for what happens to refused jobs.
        """
        from psij import _bulk
        # (only BatchSchedulerExecutor, the whole executor, extends this class)
        return arrays.submit_many(cast('BatchSchedulerExecutor', self), _bulk.check_list(jobs))

    def cancel(self, job: Job) -> None:
        """
        Cancels the job; one that already ended is left alone. A job whose `submit` is under
        way (in another thread) is canceled as soon as the scheduler has given its id.
        """
        if job.status.state.final:
            return
        native_id = job.native_id
        if native_id is None:
            with self._cancel_lock:
                if job.id in self._submitting:
                    self._cancel_after_submit.add(job.id)
                    return
            raise SubmitException('Job %s has no native id: it was not submitted' % job.id)
        cmd = self._resolve(self.get_cancel_command(native_id))
        queued = job.status.state is JobState.QUEUED
        with self._cancel_lock:
            self._cancel_requested.add(native_id)
            if self.RECANCEL_AFTER:
                self._recancel[native_id] = (time.monotonic() + self.RECANCEL_AFTER[0], 0)
        try:
            res = run_command(cmd, self._config.command_timeout)
        except subprocess.TimeoutExpired as ex:
            raise SubmitException('%s timed out' % cmd[0], ex, transient=True) from ex
        except OSError as ex:
            raise SubmitException(self._cannot_run(cmd[0], ex), ex) from ex
        if res.returncode == 0 and queued:
            # a scheduler may delete a job canceled before it started without a trace
            # (Slurm's pending array elements): from now on its absence is the cancel
            with self._cancel_lock:
                self._canceled_queued.add(native_id)
        if res.returncode != 0:
            try:
                self.process_cancel_command_output(res.returncode,
                                                   (res.stdout + res.stderr).strip())
            except InvalidJobStateError:
                pass
        self._engine.request_poll(0.2)

    def attach(self, job: Job, native_id: str) -> None:
        """
        Follows an existing job by native id; its real status is known when this returns
        (even for a job that already left the queue).

        :raises InvalidJobException: for an id that is not one of the scheduler's, or that
            neither the queue nor the accounting knows and this executor did not submit
            (see `_follow_attached`); the job is left ``NEW`` and unbound.
        """
        self._bind(job, native_id)
        for _, ex in self._follow_attached([(job, native_id)]):
            raise ex

    def attach_many(self, pairs: Iterable[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """
        `attach` for many jobs with one status command for all of them (split in commands
        of `ids_per_status_command` ids), where `attach` runs one per job; see
        :meth:`psij.JobExecutor.attach_many`.
        """
        from psij import _bulk
        refused: List[Tuple[Job, Exception]] = []
        bound: List[Tuple[Job, str]] = []
        for job, native_id in _bulk.check_pairs(pairs):
            try:
                self._bind(job, native_id)
            except InvalidJobException as ex:
                refused.append((job, ex))
            else:
                bound.append((job, native_id))
        if bound:
            refused.extend(self._follow_attached(bound))
        return refused

    def _bind(self, job: Job, native_id: str) -> None:
        """Makes `job` this executor's job `native_id`, with the job's token if it has one."""
        self.check_native_id(native_id)
        if job.status.state is not JobState.NEW:
            raise InvalidJobException('Job %s must be NEW to be attached' % job.id)
        if job.executor is not None:
            raise InvalidJobException('Job %s already belongs to %s' % (job.id, job.executor))
        job.executor = self
        job._native_id = native_id
        token = job_files.read_token(self.work_directory, native_id)
        if token is not None:
            with self._cancel_lock:
                self._tokens[native_id] = token

    def check_native_id(self, native_id: str) -> None:
        """
        Refuses what cannot be one of this scheduler's job ids (see `native_id_pattern`).

        :raises InvalidJobException: naming the id and what the scheduler's ids look like.
        """
        if not isinstance(native_id, str):
            raise InvalidJobException('A native id is a string, not %r' % (native_id,))
        pattern = self.native_id_pattern
        if pattern is not None:
            if re.fullmatch(pattern, native_id) is None:
                raise InvalidJobException('%r is not a %s job id (they look like %s: they match '
                                          '%r)' % (native_id, self._scheduler(),
                                                   self.native_id_example,
                                                   _pattern_text(pattern)))
        elif not native_id or native_id.startswith('-') or \
                _UNSAFE_ID_CHARACTER.search(native_id) is not None:
            raise InvalidJobException('%r is not a %s job id: a job id does not start with '
                                      '"-" and holds no blanks, control characters or commas'
                                      % (native_id, self._scheduler()))

    def _check_submitted_id(self, native_id: str, out: str) -> None:
        """
        :raises SubmitException: if the id `job_id_from_submit_output` read from `out` does not
            match `native_id_pattern`: one of the two is wrong (the job was submitted, but
            could never be followed, attached or canceled by that id).
        """
        pattern = self.native_id_pattern
        if pattern is None or re.fullmatch(pattern, native_id) is not None:
            return
        cls = type(self)
        raise SubmitException(
            'Bug in %s.%s: job_id_from_submit_output returned %r, which does not match its '
            'native_id_pattern %r (the submit command printed %r); the scheduler may hold '
            'that job: cancel it by hand' % (cls.__module__, cls.__qualname__, native_id,
                                            _pattern_text(pattern), out.strip()[:200]))

    def _follow_attached(self, bound: List[Tuple[Job, str]]) -> List[Tuple[Job, Exception]]:
        """
        Gives jobs just bound their status now (final ones end here) and follows the others:
        one status query for all, then accounting for those the queue no longer knows.

        Returns the jobs refused, unbound again: those whose id neither the queue nor the
        accounting knows, that recorded nothing in the work directory and that this
        executor's work directory holds no submission of (a job this executor submitted may
        not be listed yet). When the status command fails, nothing is refused (a transient
        failure says nothing about the job).
        """
        ids = list(dict.fromkeys(native_id for _, native_id in bound))
        codes = {native_id: self._read_exit_code(native_id) for native_id in ids}
        queried = True
        try:
            statuses = self._query_status(ids)
        except (subprocess.SubprocessError, OSError, RuntimeError) as ex:
            logger.warning('Status of %s not available yet: %s', ', '.join(ids[:10]), ex)
            statuses = {}
            queried = False
        unknown = [i for i in ids if statuses.get(i) is None and codes[i] is None]
        n = self._config.ids_per_status_command
        for i in range(0, len(unknown), n):
            statuses.update(self.get_final_status(unknown[i:i + n]))
        refused: List[Tuple[Job, Exception]] = []
        for job, native_id in bound:
            code = codes[native_id]
            st = statuses.get(native_id)
            if queried and st is None and code is None and not self._submitted_here(native_id):
                job.executor = None
                job._native_id = None
                refused.append((job, InvalidJobException(
                    'No %s job %r: neither the queue nor the accounting knows it, and it was '
                    'not submitted from the work directory %s' % (
                        self._scheduler(), native_id, self.work_directory))))
                continue
            if (st is not None and st.state.final) or (st is None and code is not None):
                self._finish(job, code, st)
                continue
            if st is not None:
                self._set_job_status(job, st)
            elif self._is_active(native_id):
                self._set_job_status(job, JobStatus(JobState.ACTIVE))
            else:
                self._set_job_status(job, JobStatus(JobState.QUEUED))
            self._engine.register(job, self)
        return refused

    def _submitted_here(self, native_id: str) -> bool:
        """Whether the work directory holds a submission of `native_id` (its token, written
        at submit) or a record of its start: a job the scheduler may not list yet."""
        return native_id in self._tokens or self._is_active(native_id)

    def list(self) -> List[str]:
        """The native ids of this user's jobs that have not ended (see
        :meth:`psij.JobExecutor.list`)."""
        return self.parse_list_output(self._run_command(self.get_list_command()))
