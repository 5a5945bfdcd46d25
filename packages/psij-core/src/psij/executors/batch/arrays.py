"""
Bulk submission as native job arrays, for batch-scheduler executors.

`BatchSchedulerExecutor.submit_many` groups the jobs whose specifications differ only in
arguments, environment, name and stdio paths (and the executable, which is part of the launch
command). Each group becomes one native array per chunk of at most the scheduler's maximum array
size (`ArrayScheme.max_size`), submitted with one scheduler command. Jobs that group with no
other, ask for staging, or that an executor cannot put in an array are submitted one by one.

One submit script serves every element of a chunk: the base's script, with the element's
native id taken from the scheduler's array variables, and the element's own values read from
a file the executor wrote for it in the private work directory (``TAG.INDEX.vals``): its name,
stdio paths, launch command (argv) and environment, as NUL-terminated strings read with
``mapfile -d ''`` into a bash array. No user string is ever part of the script's code:
arguments are passed as ``"${argv[@]}"``, environment values are assigned with ``export
"NAME=VALUE"`` after the specification's ``${NAME}`` references (and only those) are expanded,
exactly as the single-job script does, and stdio paths are only opened.

The scheduler shows the whole array under the first job's name; each element's own name stays
in its values file. Each element is a job of its own: its own native id (`ArrayScheme.
element_id`, e.g. ``1234_7``, ``12[7].server``), start and exit-code files, status (through the
one bulk status command per cycle), cancel and attach.

A refused chunk (the scheduler refuses the command) fails only its own jobs, each ``FAILED``
with the refusal (see :mod:`psij._bulk`); the other chunks run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from psij import _bulk
from psij._fork import after_fork_in_child
from psij.exceptions import InvalidJobException, SubmitException
from psij.executors.batch import job_files
from psij.executors.batch.commands import run_command
from psij.executors.batch.script_writer import env_assignment, quote
from psij.job import Job
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

if TYPE_CHECKING:
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor

VALUES_SUFFIX = '.vals'
VALUES_FORMAT = 'psij-array-1'
"""The first string of a values file (its layout, checked by the script)."""

_ARGV_SENTINEL = '__psij_array_argv__'
_VARYING = ('arguments', 'environment', 'name', 'stdin_path', 'stdout_path', 'stderr_path',
            'executable')

_values_lock = threading.Lock()
_values_files: Dict[str, Path] = {}
"""`Job.id` -> the values file of an array element submitted by this process."""


@after_fork_in_child
def _forget_values_files() -> None:
    # a forked child follows only its own jobs (see psij._fork); the lock may be held
    global _values_lock, _values_files
    _values_lock = threading.Lock()
    _values_files = {}


class ArrayScheme:
    """
    What one scheduler's job arrays look like. A batch executor sets its `array_scheme` to an
    instance of a subclass to have `submit_many` use arrays.
    """

    first_index = 0
    """The index of an array's first element."""

    min_size = 2
    """The fewest elements worth (or allowed in) an array; smaller groups go one by one."""

    index_variable = ''
    """The variable holding the element's index inside the job (e.g. ``SLURM_ARRAY_TASK_ID``)."""

    element_id_expression = ''
    """A shell expression, in double quotes, of the element's native id inside the job (e.g.
    ``"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"``); it must equal `element_id`."""

    default_max_size = 1000
    """The most elements one array may have when the site does not say (see `max_size`)."""

    max_size_command: List[str] = []
    """The command asking the scheduler for its largest array (e.g. ``scontrol show config``),
    whose output `parse_max_size` reads; none if empty."""

    def __init__(self) -> None:
        """The site's largest array is asked for once per command directory."""
        self._sizes: Dict[str, int] = {}
        self._lock = threading.Lock()

    def parse_max_size(self, out: str) -> Optional[int]:
        """The largest array in the output of `max_size_command`, if it says."""
        return None

    def max_size(self, executor: BatchSchedulerExecutor) -> int:
        """The most elements one array may have at this site: asked with `max_size_command`
        on first use (per command directory), `default_max_size` if that fails."""
        key = str(executor.command_directory)
        with self._lock:
            size = self._sizes.get(key)
        if size is not None:
            return size
        size = self.default_max_size
        if self.max_size_command:
            try:
                res = run_command(executor._resolve(list(self.max_size_command)),
                                  executor._config.command_timeout)
                if res.returncode == 0:
                    size = self.parse_max_size(res.stdout) or size
            except (OSError, subprocess.SubprocessError):
                pass
        with self._lock:
            self._sizes[key] = size
        return size

    def submit_command(self, executor: BatchSchedulerExecutor, job: Job, script: Path,
                       first: int, last: int, token: str) -> List[str]:
        """The command submitting `script` as an array of elements `first` to `last`."""
        raise NotImplementedError

    def array_id(self, executor: BatchSchedulerExecutor, out: str) -> str:
        """The array's id in the submit command's output."""
        return executor.job_id_from_submit_output(out)

    def element_id(self, array_id: str, index: int) -> str:
        """The native id of element `index` of array `array_id`."""
        raise NotImplementedError


class _NotAnArray(Exception):
    """The executor's script cannot be turned into an array script."""


# -- grouping -----------------------------------------------------------------------------------

def group_key(job: Job) -> Optional[str]:
    """What jobs of one array share, as a string; `None` for a job that goes on its own."""
    from psij.serialize import JSONSerializer
    spec = job.spec
    if not isinstance(spec, JobSpec) or job.executor is not None or \
            job.status.state is not JobState.NEW or spec.stage_in or spec.stage_out or \
            spec.cleanup or not isinstance(spec.resources, (ResourceSpecV1, type(None))):
        return None
    try:
        d = JSONSerializer(indent=None).to_dict(spec)
    except Exception:
        return None
    for f in _VARYING:
        d.pop(f, None)
    d['launcher'] = spec.launcher or 'single'
    return json.dumps(d, sort_keys=True, default=str)


def submit_many(executor: BatchSchedulerExecutor, jobs: List[Job]) -> List[Job]:
    """`submit_many` of a batch executor (see the module documentation)."""
    scheme = executor.array_scheme
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutor as Base
    if scheme is None or \
            type(executor).generate_submit_script is not Base.generate_submit_script:
        return _bulk.submit_each(executor, jobs)
    groups: Dict[str, List[Job]] = {}
    singles: List[Job] = []
    for job in jobs:
        key = group_key(job)
        if key is None:
            singles.append(job)
        else:
            groups.setdefault(key, []).append(job)
    refused: List[Job] = []
    for group in groups.values():
        if len(group) < scheme.min_size:
            singles.extend(group)
            continue
        rest = _submit_group(executor, scheme, group, refused)
        singles.extend(rest)
    refused.extend(_bulk.submit_each(executor, singles))
    return refused


def _unhonoured(executor: BatchSchedulerExecutor, spec: JobSpec) -> Optional[str]:
    from psij.executors.batch.batch_scheduler_executor import fields_set
    honoured = type(executor).honoured_fields
    if honoured is None:
        return None
    for field, full in fields_set(spec, executor._scheduler()):
        if field not in honoured:
            return ('%s: the %s executor does not pass it to its scheduler; it refuses the job '
                    'rather than run it without it' % (full, executor._scheduler()))
    return None


def _launch_command(executor: BatchSchedulerExecutor, job: Job) -> List[str]:
    """Checks an element as `submit` would (binding it) and returns its launch command."""
    spec = executor._check_job(job)
    argv: List[str] = executor._create_script_context(job)['psij']['launch_command']
    for name, value in (spec.environment or {}).items():
        env_assignment(name, value)  # the same names the single-job script accepts
    return argv


def _submit_group(executor: BatchSchedulerExecutor, scheme: ArrayScheme, group: List[Job],
                  refused: List[Job]) -> List[Job]:
    """Submits a group as arrays; returns the jobs to submit one by one instead."""
    assert group[0].spec is not None
    problem = _unhonoured(executor, group[0].spec)
    if problem is not None:
        for job in group:
            _bulk.refuse(executor, job, InvalidJobException(problem))
        refused.extend(group)
        return []
    argvs: Dict[str, List[str]] = {}
    ok: List[Job] = []
    for job in group:
        try:
            argvs[job.id] = _launch_command(executor, job)
            ok.append(job)
        except Exception as ex:
            job.executor = None
            _bulk.refuse(executor, job, ex)
            refused.append(job)
    size = max(1, scheme.max_size(executor))
    singles: List[Job] = []
    for i in range(0, len(ok), size):
        chunk = ok[i:i + size]
        if len(chunk) < scheme.min_size:
            for job in chunk:
                job.executor = None
            singles.extend(chunk)
            continue
        try:
            refused.extend(_submit_chunk(executor, scheme, chunk, argvs))
        except _NotAnArray:
            for job in chunk:
                job.executor = None
            singles.extend(chunk)
    return singles


# -- one chunk ----------------------------------------------------------------------------------

def _values(job: Job, argv: List[str]) -> bytes:
    spec = job.spec
    assert spec is not None
    env = spec.environment or {}
    fields = [VALUES_FORMAT, spec.name or '']
    fields += [str(p) if p is not None else '' for p in (spec.stdin_path, spec.stdout_path,
                                                         spec.stderr_path)]
    fields += [str(len(argv))] + argv + [str(len(env))]
    for k, v in env.items():
        fields += [k, v]
    for f in fields:
        if '\0' in f:
            raise InvalidJobException('Job %s: a NUL character cannot be passed to a job: %r'
                                      % (job.id, f[:80]))
    return b''.join(f.encode('utf-8', 'surrogateescape') + b'\0' for f in fields)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def _element_block(tag: str, scheme: ArrayScheme) -> str:
    """Shell lines that read the element's values and set its environment and streams."""
    values = '"$_psij_wd/"%s".${%s}%s"' % (quote(tag), scheme.index_variable, VALUES_SUFFIX)
    return '\n'.join([
        '_psij_setenv() {',
        "    local _psij_r='' _psij_v=$2 _psij_n",
        "    while [[ $_psij_v == *'${'* ]]; do",
        "        _psij_r+=${_psij_v%%'${'*}",
        "        _psij_v=${_psij_v#*'${'}",
        r'        if [[ $_psij_v =~ ^([A-Za-z_][A-Za-z0-9_]*)\}(.*)$ ]]; then',
        '            _psij_n=${BASH_REMATCH[1]}',
        '            _psij_v=${BASH_REMATCH[2]}',
        '            _psij_r+=${!_psij_n}',
        '        else',
        "            _psij_r+='${'",
        '        fi',
        '    done',
        '    export "$1=$_psij_r$_psij_v"',
        '}',
        '_psij_element() {',
        '    local _psij_f=%s _psij_i _psij_k' % values,
        '    local -a _psij_e',
        '    mapfile -d "" -t _psij_e <"$_psij_f" || return 1',
        '    if [ "${_psij_e[0]-}" != %s ]; then' % VALUES_FORMAT,
        '        echo "psij: $_psij_f is not a values file of psij"; return 1',
        '    fi',
        '    _psij_argv=("${_psij_e[@]:6:_psij_e[5]}")',
        '    _psij_i=$((6 + _psij_e[5]))',
        '    _psij_k=${_psij_e[_psij_i]}',
        '    _psij_i=$((_psij_i + 1))',
        '    while [ "$_psij_k" -gt 0 ]; do',
        '        _psij_setenv "${_psij_e[_psij_i]}" "${_psij_e[_psij_i + 1]}" || return 1',
        '        _psij_i=$((_psij_i + 2))',
        '        _psij_k=$((_psij_k - 1))',
        '    done',
        '    exec 7</dev/null 8>&1 9>&2',
        '    if [ -n "${_psij_e[2]}" ]; then exec 7<"${_psij_e[2]}" || return 1; fi',
        '    if [ -n "${_psij_e[3]}" ]; then exec 8>"${_psij_e[3]}" || return 1; fi',
        '    if [ -n "${_psij_e[4]}" ]; then',
        '        if [ "${_psij_e[4]}" = "${_psij_e[3]}" ]; then exec 9>&8',
        '        else exec 9>"${_psij_e[4]}" || return 1; fi',
        '    fi',
        '}',
        '_psij_element || _psij_end 1',
        '',
    ])


def array_script(executor: BatchSchedulerExecutor, scheme: ArrayScheme, template: Job,
                 context: Dict[str, Any], tag: str) -> str:
    """
    The submit script of an array: the executor's script for `template` without environment,
    streams or command, whose element reads those from its values file.

    :raises _NotAnArray: if the executor's script is not the base's.
    """
    import copy
    spec = copy.copy(template.spec)
    assert spec is not None
    spec.environment = None
    spec.stdin_path = spec.stdout_path = spec.stderr_path = None
    probe = Job(spec)
    ctx = dict(context)
    ctx['job'] = probe
    ctx['psij'] = dict(context['psij'], launch_command=[_ARGV_SENTINEL])
    buf = io.StringIO()
    executor.generate_submit_script(probe, ctx, buf)
    lines = buf.getvalue().split('\n')
    ids = [i for i, line in enumerate(lines) if line.startswith('_psij_id=')]
    text_end = ' -- %s </dev/null' % _ARGV_SENTINEL
    runs = [i for i, line in enumerate(lines) if line.endswith(text_end)]
    starts = [i for i, line in enumerate(lines) if line.startswith('/bin/sh -c ')]
    if len(ids) != 1 or len(runs) != 1 or not starts or starts[-1] > runs[0]:
        raise _NotAnArray()
    lines[ids[0]] = '_psij_id=%s' % scheme.element_id_expression
    lines[runs[0]] = lines[runs[0]][:-len(text_end)] + \
        ' -- "${_psij_argv[@]}" <&7 >&8 2>&9 7<&- 8>&- 9>&-'
    start = [i for i in starts if i <= runs[0]][-1]
    lines.insert(start, _element_block(tag, scheme))
    return '\n'.join(lines)


def _submit_chunk(executor: BatchSchedulerExecutor, scheme: ArrayScheme, chunk: List[Job],
                  argvs: Dict[str, List[str]]) -> List[Job]:
    """Submits one array; returns the refused jobs (all of the chunk, or none)."""
    wd = executor.work_directory
    template = chunk[0]
    tag = template.id
    first = scheme.first_index
    written: List[Path] = []
    with executor._cancel_lock:
        executor._submitting.update(j.id for j in chunk)
    try:
        if not executor._work_directory_ready:
            job_files.ensure_private_dir(wd)
            executor._work_directory_ready = True
        context = executor._create_script_context(template)
        token = context['psij']['token']
        text = array_script(executor, scheme, template, context, tag)
        script = wd / (tag + '.array' + job_files.SCRIPT_SUFFIX)
        for i, job in enumerate(chunk):
            path = wd / ('%s.%d%s' % (tag, first + i, VALUES_SUFFIX))
            data = _values(job, argvs[job.id])
            _write_private(path, data)
            written.append(path)
        _write_private(script, text.encode())
        written.append(script)
        executor.check_commands()
        cmd = scheme.submit_command(executor, template, script, first, first + len(chunk) - 1,
                                    token)
        submitted = time.time()
        out = executor._run_command(cmd, submitting=True)
        array_id = scheme.array_id(executor, out).strip()
        if not array_id:
            raise SubmitException('%s printed no job id: %r' % (cmd[0], out))
    except _NotAnArray:
        _unmark(executor, chunk)
        _remove(written)
        raise
    except Exception as ex:
        _unmark(executor, chunk)
        _remove(written)
        for job in chunk:
            job.executor = None
            _bulk.refuse(executor, job, ex)
        return list(chunk)
    keep = executor._config.keep_files
    if not keep:
        _remove([script])  # the scheduler keeps its own copy
    with _values_lock:
        for i, job in enumerate(chunk):
            _values_files[job.id] = written[i]
    for i, job in enumerate(chunk):
        native_id = scheme.element_id(array_id, first + i)
        job._native_id = native_id
        with executor._cancel_lock:
            executor._tokens[native_id] = token
        job_files.write_token(wd, native_id, token)
        executor._set_job_status(job, JobStatus(JobState.QUEUED, metadata={
            'native_id': native_id, 'array_id': array_id}))
        executor._engine.register(job, executor, submitted)
    cancel = []
    with executor._cancel_lock:
        for job in chunk:
            executor._submitting.discard(job.id)
            if job.id in executor._cancel_after_submit:
                executor._cancel_after_submit.discard(job.id)
                cancel.append(job)
    for job in cancel:
        executor.cancel(job)
    return []


def _unmark(executor: BatchSchedulerExecutor, chunk: List[Job]) -> None:
    with executor._cancel_lock:
        for job in chunk:
            executor._submitting.discard(job.id)
            executor._cancel_after_submit.discard(job.id)


def _remove(paths: List[Path]) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def job_ended(job: Job) -> None:
    """Deletes the values file of `job` if it was an array element (its files are done)."""
    with _values_lock:
        path = _values_files.pop(job.id, None)
    if path is not None:
        _remove([path])
