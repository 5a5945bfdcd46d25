"""
The ``pbs_classic`` executor (alias ``torque``): Torque and other PBS servers that take the
classic ``-l nodes=N:ppn=P`` request and have no JSON ``qstat``.

Everything is as for the ``pbs`` executor (:mod:`psij_pbs.executor`: script, names, values,
``qsub``/``qdel``/``qselect``, custom attributes ``pbs.*``/``torque.*``), except:

==========================================  ===============================================
field                                       directive
==========================================  ===============================================
``ResourceSpecV1`` counts                   ``-l nodes=N:ppn=P x cpu_cores_per_process``
``gpu_cores_per_process`` (if > 0)          ``:gpus=P x G``
``memory`` (bytes, for the whole job)       ``-l mem=<KiB>kb``, rounded up
``exclusive_node_use``                      ``-n`` (node-exclusive)
==========================================  ===============================================

Status: one ``qstat -f ID...`` (text) per polling cycle. Torque keeps an ended job for
``keep_completed`` seconds in state ``C`` with a lower-case ``exit_status`` (same encoding as PBS
Pro: 256 + N for a kill by signal N; ``qdel`` of a running job gives 271, reported CANCELED);
after that the exit code the job recorded in the work directory tells how it ended.
"""

from __future__ import annotations

import math
import re
from typing import Collection, Dict, List, Optional

from psij.executors.batch.exit_codes import limit_exceeded
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

from psij_pbs.executor import PbsExecutorBase, PBSExecutorConfig, pbs_to_job_status
from psij_pbs.pbs_status import HISTORY_EXIT, UNKNOWN_JOB_EXIT, PbsJob, parse_qstat_text

__all__ = ['PBSClassicExecutorConfig', 'PBSClassicJobExecutor']

_DELETED_BY_SIGNAL = (256 + 15, 256 + 9)


class PBSClassicExecutorConfig(PBSExecutorConfig):
    """Configuration of the ``pbs_classic`` executor (see :class:`PBSExecutorConfig`)."""


class PBSClassicJobExecutor(PbsExecutorBase):
    """Runs jobs on Torque / classic PBS; see the module documentation."""

    _NAME_ = 'pbs_classic'
    custom_attribute_prefixes = ('pbs', 'torque')

    def resource_directives(self, res: ResourceSpecV1) -> List[str]:
        """``-l nodes=N:ppn=C[:gpus=G]``, ``-l mem=``, ``-n``."""
        nodes = res.computed_node_count
        ppn = res.computed_processes_per_node
        req = '%d:ppn=%d' % (nodes, ppn * (res.cpu_cores_per_process or 1))
        if res.gpu_cores_per_process:
            req += ':gpus=%d' % (ppn * res.gpu_cores_per_process)
        lines = ['#PBS -l nodes=%s' % req]
        if res.memory is not None:
            lines.append('#PBS -l mem=%dkb' % max(1, math.ceil(res.memory / 1024)))
        if res.exclusive_node_use:
            lines.append('#PBS -n')
        return lines

    def command_problem(self, path: str, output: str) -> Optional[str]:
        """Torque's ``qstat --version`` prints ``Version: N``, and no other scheduler's name."""
        text = output.strip()
        if re.search(r'^\s*Version:\s*\d', text, re.MULTILINE | re.IGNORECASE) and \
                not re.search(r'slurm|grid ?engine|\bSGE\b|\bGE \d', text, re.IGNORECASE):
            return None
        return ('%s is not the qstat of Torque (`qstat --version` printed %r; PBS Pro, Grid '
                'Engine and Slurm\'s Torque wrappers also install a qstat). Set '
                'PSIJ_PBS_CLASSIC_COMMAND_DIR (or the command_directory of the executor\'s '
                'config) to the directory of the Torque commands'
                % (path, text[:200]))

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        """``qstat -f ID...`` (text)."""
        return ['qstat', '-f'] + list(native_ids)

    def parse_status_result(self, exit_code: int, stdout: str,
                            stderr: str) -> Dict[str, JobStatus]:
        """
        The jobs qstat printed; with exit code 153 (some ids unknown) the known jobs are still
        on stdout.

        :raises RuntimeError: if qstat failed otherwise (the engine retries later).
        """
        if exit_code not in (0, UNKNOWN_JOB_EXIT, HISTORY_EXIT):
            raise RuntimeError('qstat failed (exit code %d): %s'
                               % (exit_code, (stderr or stdout).strip()))
        jobs = parse_qstat_text(stdout)
        if not jobs and stdout.strip() and exit_code == 0:
            raise RuntimeError('%s printed no "Job Id:" record: is it Torque\'s qstat? %r'
                               % (self.command_path('qstat'), stdout.strip()[:200]))
        return {job_id: classic_to_job_status(j) for job_id, j in jobs.items()}

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        """psij-python's hook: `out` is qstat's stdout (see `parse_status_result`)."""
        return self.parse_status_result(exit_code, out, '')


def classic_to_job_status(job: PbsJob) -> JobStatus:
    """
    The PSI/J status of a Torque job: as for PBS Pro, except that Torque marks neither a
    deletion nor a walltime kill with a code of its own: a job ended by SIGTERM/SIGKILL at the
    top (``exit_status`` 271/265) is FAILED "walltime exceeded" (no exit code) when it used its
    whole walltime, else CANCELED (what ``qdel`` does).
    """
    if job.final and job.exit_status in _DELETED_BY_SIGNAL and \
            job.walltime_used is not None and job.walltime_limit is not None and \
            job.walltime_used >= job.walltime_limit:
        st = pbs_to_job_status(job, 'Torque')
        return limit_exceeded('walltime', job.walltime_limit, 'Torque killed the job '
                              '(exit_status %d)' % job.exit_status, st.metadata)
    if job.final and job.exit_status in _DELETED_BY_SIGNAL:
        st = pbs_to_job_status(job, 'Torque')
        return JobStatus(JobState.CANCELED, message='The job was deleted (qdel): Torque '
                         'exit_status %d' % job.exit_status, exit_code=st.exit_code,
                         metadata=st.metadata)
    return pbs_to_job_status(job, 'Torque')
