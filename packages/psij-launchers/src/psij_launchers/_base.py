"""What all launchers of this package share: reading the job, building argv, spotting failures."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, List, Optional, Tuple

from psij.exceptions import InvalidJobException
from psij.job_launcher import Launcher
from psij.launchers.script_based_launcher import LAUNCHER_FAILURE_MARKER
from psij.resource_spec import ResourceSpecV1

if TYPE_CHECKING:
    from psij.job import Job


@dataclass(frozen=True)
class Placement:
    """
    The counts a launcher may turn into flags.

    A field is `None` when the job did not ask for it, so that the launcher adds no flag for it;
    `process_count` is always set (PSI/J's default is one process).
    """

    process_count: int
    """Ranks to start: ``computed_process_count``."""
    node_count: Optional[int]
    """Nodes, if the job gave ``node_count`` or ``processes_per_node``."""
    processes_per_node: Optional[int]
    """Ranks per node, if the job gave ``node_count`` or ``processes_per_node``."""
    cpu_cores_per_process: Optional[int]
    """CPU cores per rank, if the job asked for them."""
    gpu_cores_per_process: Optional[int]
    """GPUs per rank, if the job asked for at least one."""
    explicit_count: bool
    """Whether the job gave any of ``process_count``, ``node_count``, ``processes_per_node``."""


def placement(job: Job) -> Placement:
    """
    Reads the resources of `job`.

    Nodes and processes per node are reported only when the job named either of them: a job
    that gives only ``process_count`` leaves the arrangement on nodes to the launcher's own
    defaults and the executor's allocation.

    :raises InvalidJobException: if the job has no spec or a resource spec other than V1.
    """
    spec = job.spec
    if spec is None:
        raise InvalidJobException('The job has no specification')
    res = spec.resources
    if res is None:
        res = ResourceSpecV1()
    if not isinstance(res, ResourceSpecV1):
        raise InvalidJobException('Launchers understand ResourceSpecV1 only, not %s'
                                  % type(res).__name__)
    shaped = res.node_count is not None or res.processes_per_node is not None
    gpus = res.gpu_cores_per_process
    return Placement(
        process_count=res.computed_process_count,
        node_count=res.computed_node_count if shaped else None,
        processes_per_node=res.computed_processes_per_node if shaped else None,
        cpu_cores_per_process=res.cpu_cores_per_process,
        gpu_cores_per_process=gpus if gpus else None,
        explicit_count=shaped or res.process_count is not None)


def command(job: Job, dash_ok: bool = False) -> List[str]:
    """
    The job's executable and arguments, unchanged.

    :param dash_ok: `True` if the launcher ends its options with ``--`` (or otherwise cannot
        mistake the executable for an option); else an executable starting with ``-`` is
        refused, since the launcher would read it as one of its own options.
    :raises InvalidJobException: if the job has no executable, or one the launcher would
        misread.
    """
    spec = job.spec
    if spec is None or not spec.executable:
        raise InvalidJobException('The job has no executable')
    if spec.executable.startswith('-') and not dash_ok:
        raise InvalidJobException('The executable %r starts with "-", which the launcher would '
                                  'read as an option; use "./%s" or an absolute path'
                                  % (spec.executable, spec.executable))
    return [spec.executable] + list(spec.arguments or [])


UNWRAP = 'for a do shift; set -- "$@" "${a#x}"; done; exec "$@"'
"""Run by each rank as ``sh -c UNWRAP psij-rank xEXE xARG...``: drops the ``x`` before each
word and executes the command."""


def rank_command(cmd: List[str]) -> List[str]:
    """
    What a parallel launcher (``srun``, ``mpirun``, ``aprun``...) runs on each rank for the
    job's command `cmd`: a shell that drops an ``x`` put before each word. ``srun`` (even after
    ``--``), Open MPI, MPICH and ``aprun`` read an argument ``:`` anywhere on their command
    line as the start of another program (heterogeneous or MPMD jobs), so a user's argument
    ``:`` would run the words after it as a second program; with the prefix no word the
    launcher sees is one of its own, and the ranks still receive every word unchanged.
    """
    return ['/bin/sh', '-c', UNWRAP, 'psij-rank'] + ['x' + w for w in cmd]


def rank_argv(job: Job, dash_ok: bool = False) -> List[str]:
    """`command` wrapped by `rank_command`: what a parallel launcher is given to run."""
    return rank_command(command(job, dash_ok))


@functools.cache
def script(name: str) -> str:
    """
    The text of one of the package's shell scripts (read once), without its comment lines.

    The text is passed to ``sh -c``, so it travels in the job's argv: dropping comments keeps
    that short. The scripts have no here-documents, so this cannot change their meaning.
    """
    text = resources.files('psij_launchers').joinpath('scripts', name).read_text('utf-8')
    return ''.join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith('#'))


def opt(flag: str, value: Optional[int]) -> List[str]:
    """``[flag, str(value)]``, or nothing if `value` is `None`."""
    return [] if value is None else [flag, str(value)]


class ArgvLauncher(Launcher):
    """
    A launcher whose command is a plain argv, run by the executor's launch wrapper.

    Subclasses implement :meth:`get_launch_command` and name, in `FAILURE_MARKERS`, the
    beginnings of lines by which their tool reports its own failures (as opposed to the job's).
    The package's scripts report theirs with psij's
    :data:`~psij.launchers.script_based_launcher.LAUNCHER_FAILURE_MARKER`, recognized too.
    """

    FAILURE_MARKERS: Tuple[str, ...] = ()
    """Line prefixes that show the launcher itself failed."""

    RANK_FAILURE: Optional[re.Pattern[str]] = None
    """Lines that match a marker but report a rank's failure (the job's, not the launcher's)."""

    def _failure_lines(self, output: str) -> List[str]:
        markers = (LAUNCHER_FAILURE_MARKER,) + self.FAILURE_MARKERS
        rank = self.RANK_FAILURE
        return [line.strip() for line in output.splitlines()
                if line.lstrip().startswith(markers)
                and not (rank is not None and rank.search(line))]

    def is_launcher_failure(self, output: str) -> bool:
        """`True` if a line of `output` is one of the launcher's own error messages."""
        return bool(self._failure_lines(output))

    def get_launcher_failure_message(self, output: str) -> str:
        """The launcher's own error lines from `output` (all of `output` if none is found)."""
        lines = [line[len(LAUNCHER_FAILURE_MARKER):].strip()
                 if line.startswith(LAUNCHER_FAILURE_MARKER) else line
                 for line in self._failure_lines(output)]
        return '\n'.join(lines) if lines else output.strip()
