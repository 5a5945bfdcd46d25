"""
The base class of batch-scheduler executors (Slurm, PBS, LSF, ...).

A subclass supplies only what is specific to its scheduler, with psij-python's hooks, so that
executors written for psij-python keep working:

- `generate_submit_script` (or, simpler, `get_directives`, the scheduler directives for a job;
  the base writes the rest of the script),
- `get_submit_command` and `job_id_from_submit_output`,
- `get_status_command` (one command for **many** jobs) and `parse_status_output`,
- `get_cancel_command` and `process_cancel_command_output`,
- `get_list_command` and `parse_list_output`,
- optionally `get_final_status` (e.g. an accounting query for jobs gone from the queue),
  `job_id_variable` (the variable holding the job's id inside the job),
  `nodefile_commands` (shell lines that write ``$PSIJ_NODEFILE``), `command_check` with
  `command_problem` (tell this scheduler's commands from another's of the same name), and
  `native_id_pattern` (what `attach` accepts as a job id).

The submit script records the job's start and exit code in the work directory (see
:mod:`psij.executors.batch.job_files`), so a job that has left the queue still gets its true
final state and exit code. Status is followed by one shared :class:`StatusEngine` per
scheduler (see :mod:`psij.executors.batch.status_engine`).

The class is put together from one module per job, each a class the next one extends:

- :mod:`~psij.executors.batch.batch_config`: `BatchSchedulerExecutorConfig`;
- :mod:`~psij.executors.batch.scheduler_hooks`: what a subclass sets and implements
  (psij-python's hooks, with their defaults) and psij-python's helpers;
- :mod:`~psij.executors.batch.scheduler_commands`: the executor's state, configuration, work
  and command directories, and how the scheduler's commands are run;
- :mod:`~psij.executors.batch.submit_script`: the submit script;
- :mod:`~psij.executors.batch.status_engine_client`: what the status engine calls, and final
  states;
- :mod:`~psij.executors.batch.submission`: submit, cancel, attach and list.

Every name this module held before is still importable from it (executors written for
psij-python import `BatchSchedulerExecutor`, `BatchSchedulerExecutorConfig`,
`check_status_exit_code`, `InvalidJobStateError`... from here).
"""

from __future__ import annotations

# What this module held before it was split, importable from here as before.
import os  # noqa: F401
import re  # noqa: F401
import subprocess  # noqa: F401
import threading  # noqa: F401
import time  # noqa: F401
from datetime import timedelta  # noqa: F401
from pathlib import Path  # noqa: F401
from typing import (  # noqa: F401
    IO,
    Any,
    Collection,
    Dict,
    Iterable,
    List,
    Optional,
    Pattern,
    Tuple,
    Union,
    cast,
)

from psij._log import get_logger as get_logger
from psij.exceptions import InvalidJobException as InvalidJobException
from psij.exceptions import SubmitException as SubmitException
from psij.executors.batch import arrays as arrays
from psij.executors.batch import job_files as job_files
from psij.executors.batch import staging_script as staging_script
from psij.executors.batch.batch_config import (
    BatchSchedulerExecutorConfig as BatchSchedulerExecutorConfig,
)
from psij.executors.batch.commands import is_transient as is_transient
from psij.executors.batch.commands import run_command as run_command
from psij.executors.batch.scheduler_hooks import _ONE_OF_HOOKS as _ONE_OF_HOOKS
from psij.executors.batch.scheduler_hooks import _REQUIRED_HOOKS as _REQUIRED_HOOKS
from psij.executors.batch.scheduler_hooks import UNKNOWN_ERROR as UNKNOWN_ERROR
from psij.executors.batch.scheduler_hooks import InvalidJobStateError as InvalidJobStateError
from psij.executors.batch.scheduler_hooks import _check_hooks as _check_hooks
from psij.executors.batch.scheduler_hooks import (
    _check_native_id_pattern as _check_native_id_pattern,
)
from psij.executors.batch.scheduler_hooks import _checked_classes as _checked_classes
from psij.executors.batch.scheduler_hooks import _pattern_text as _pattern_text
from psij.executors.batch.scheduler_hooks import (
    check_status_exit_code as check_status_exit_code,
)
from psij.executors.batch.script_writer import custom_attribute_key as custom_attribute_key
from psij.executors.batch.script_writer import directive_value as directive_value
from psij.executors.batch.script_writer import env_assignment as env_assignment
from psij.executors.batch.script_writer import quote as quote
from psij.executors.batch.script_writer import quote_all as quote_all
from psij.executors.batch.script_writer import quote_code as quote_code
from psij.executors.batch.status_engine import StatusEngine as StatusEngine
from psij.executors.batch.submission import _UNSAFE_ID_CHARACTER as _UNSAFE_ID_CHARACTER
from psij.executors.batch.submission import Submission
from psij.executors.batch.submit_script import _LOGIN_VARIABLES as _LOGIN_VARIABLES
from psij.executors.batch.submit_script import SCHEDULER_FIELDS as SCHEDULER_FIELDS
from psij.executors.batch.submit_script import (
    _drop_inherited_environment as _drop_inherited_environment,
)
from psij.executors.batch.submit_script import fields_set as fields_set
from psij.job import Job as Job
from psij.job_executor import JobExecutor as JobExecutor
from psij.job_executor_config import JobExecutorConfig as JobExecutorConfig
from psij.job_spec import JobSpec as JobSpec
from psij.job_state import JobState as JobState
from psij.job_status import JobStatus as JobStatus
from psij.launchers.launch_wrapper import launch_script_text as launch_script_text
from psij.launchers.script_based_launcher import ScriptBasedLauncher as ScriptBasedLauncher
from psij.resource_spec import ResourceSpecV1 as ResourceSpecV1

logger = get_logger(__name__)


class BatchSchedulerExecutor(Submission):
    """A generic executor for batch schedulers; see the module documentation."""

    @classmethod
    def check_class(cls) -> None:
        """
        Checks that this class is a complete executor: every hook implemented,
        `job_id_variable` set, `native_id_pattern` valid and matched by `native_id_example`.
        Run when the class is loaded by name (``psij plugins`` reports it) and when it is first
        instantiated.

        :raises TypeError: naming each missing hook, or the attribute that is wrong.
        """
        _check_hooks(cls)
