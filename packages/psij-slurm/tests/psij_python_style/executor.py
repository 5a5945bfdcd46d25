"""
A Slurm executor written as psij-python's are: psij-python's hooks, a Mustache template under
its package rendered by `TemplatedScriptGenerator`, `check_status_exit_code`, squeue for
status. Nothing here is specific to psij: the same file runs on psij-python 0.9.11.
"""

from pathlib import Path
from typing import IO, Collection, Dict, List, Optional

from psij import Job, JobState, JobStatus, SubmitException
from psij.executors.batch.batch_scheduler_executor import (
    BatchSchedulerExecutor,
    BatchSchedulerExecutorConfig,
    check_status_exit_code,
)
from psij.executors.batch.script_generator import TemplatedScriptGenerator

_STATES = {'PD': JobState.QUEUED, 'CF': JobState.QUEUED, 'R': JobState.ACTIVE,
           'CG': JobState.ACTIVE, 'CD': JobState.COMPLETED, 'CA': JobState.CANCELED,
           'F': JobState.FAILED, 'TO': JobState.FAILED, 'NF': JobState.FAILED,
           'OOM': JobState.FAILED, 'BF': JobState.FAILED, 'PR': JobState.FAILED}


class StyleExecutorConfig(BatchSchedulerExecutorConfig):
    """Its configuration class, as psij-python asks each executor to have."""


class SlurmStyleExecutor(BatchSchedulerExecutor):
    """psij-python-style Slurm executor."""

    TEMPLATE = 'slurm_style.mustache'

    def __init__(self, url: Optional[str] = None,
                 config: Optional[StyleExecutorConfig] = None) -> None:
        if not config:
            config = StyleExecutorConfig()
        super().__init__(config=config)
        self.generator = TemplatedScriptGenerator(
            config, Path(__file__).parent / 'templates' / self.TEMPLATE)

    def generate_submit_script(self, job: Job, context: Dict[str, object],
                               submit_file: IO[str]) -> None:
        self.generator.generate_submit_script(job, context, submit_file)

    def get_submit_command(self, job: Job, submit_file_path: Path) -> List[str]:
        return ['sbatch', str(submit_file_path.absolute())]

    def job_id_from_submit_output(self, out: str) -> str:
        return out.strip().split()[-1]

    def get_cancel_command(self, native_id: str) -> List[str]:
        return ['scancel', '-Q', native_id]

    def process_cancel_command_output(self, exit_code: int, out: str) -> None:
        raise SubmitException('Failed to cancel job: %s' % out)

    def get_status_command(self, native_ids: Collection[str]) -> List[str]:
        return ['squeue', '-O', 'JobArrayID,StateCompact,Reason', '-t', 'all', '--me']

    def parse_status_output(self, exit_code: int, out: str) -> Dict[str, JobStatus]:
        check_status_exit_code('squeue', exit_code, out)
        r = {}
        for line in out.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 2:
                state = _STATES.get(cols[1], JobState.ACTIVE)
                r[cols[0]] = JobStatus(state, message=cols[2] if state is JobState.FAILED
                                       and len(cols) > 2 else None)
        return r

    def get_list_command(self) -> List[str]:
        return ['squeue', '--me', '-o', '%i', '-h', '-r', '-t', 'all']


class SlurmPartialsStyleExecutor(SlurmStyleExecutor):
    """The same, with a template that includes psij-python's staging partials."""

    TEMPLATE = 'slurm_style_partials.mustache'
