"""
How a PSI/J `Job` becomes a RADICAL-Pilot task description.

Every field of `JobSpec`, `ResourceSpecV1` and `JobAttributes` is either mapped or refused
with an `InvalidJobException` naming it:

========================================  ===============================================
PSI/J                                     RADICAL-Pilot
========================================  ===============================================
plain executable, arguments, environment  ``executable``, ``arguments``, ``environment``,
and paths (`_direct`)                     ``sandbox``, ``stdout``, ``stderr`` as they are
otherwise:
executable, arguments, environment,       one base64url argument of ``_task_main.py``, run
inherit_environment, directory,           by the task (RP pastes arguments and environment
stdin_path, stdout_path, stderr_path      values into shell scripts, values unescaped);
                                          a job too big for one argument (128 KiB) is
                                          passed as a file (`payload_file`)
resources.process_count / node_count x    ``ranks``
processes_per_node
resources.cpu_cores_per_process           ``cores_per_rank``
resources.gpu_cores_per_process           ``gpus_per_rank``
resources.memory                          ``mem_per_rank`` (MB; placed, not enforced)
pre_launch, post_launch                   ``pre_launch``, ``post_launch`` (sourced)
attributes.duration                       enforced by the executor, which cancels the task
                                          that ran that long (``FAILED``, "walltime
                                          exceeded"): RP's own ``timeout`` makes its agent
                                          spin a CPU core until the timeouts of all its
                                          tasks passed, ended or not (RP 1.103)
attributes.custom_attributes ``rp.KEY``   ``KEY`` of the task description (plain values)
launcher ``single``/``multiple``/         RP starts the ranks itself
``mpirun`` / none
========================================  ===============================================

Refused: ``stage_in``/``stage_out``/``cleanup`` (use RP's staging through ``rp.*``
attributes), ``queue_name``, ``account``/``project_name``, ``reservation_id`` (properties
of the pilot: see `RPExecutorConfig`), ``exclusive_node_use``, other launchers.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import re
import shlex
import sys
from typing import Any, Dict, List, Optional

from psij.exceptions import InvalidJobException
from psij.job_spec import JobSpec
from psij.resource_spec import ResourceSpecV1

TASK_MAIN = str(pathlib.Path(__file__).with_name('_task_main.py'))
"""The program every task runs (see its module documentation)."""

RP_STARTED = frozenset({'single', 'multiple', 'mpirun'})
"""Launchers whose meaning RP gives itself: it starts the job's ranks."""

_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
# task description keys a user may set through rp.KEY custom attributes: those that do not
# carry what this module already sets from the spec
_CUSTOM_KEYS = frozenset({'name', 'tags', 'priority', 'named_env', 'pre_exec', 'post_exec',
                          'ranks_per_node', 'threading_type', 'gpu_type', 'lfs_per_rank',
                          'partition', 'input_staging', 'output_staging', 'stage_on_error',
                          'startup_timeout', 'restartable', 'metadata', 'use_mpi'})


def _refuse(field: str, why: str) -> InvalidJobException:
    return InvalidJobException('the rp executor does not support %s: %s' % (field, why))


def _path(p: Optional[pathlib.Path], field: str) -> Optional[str]:
    if p is None:
        return None
    s = os.fsdecode(p)
    if '\0' in s:
        raise InvalidJobException('%s holds a NUL character' % field)
    return s


def _resources(spec: JobSpec) -> Dict[str, Any]:
    r = spec.resources
    if r is None:
        return {'ranks': 1}
    if not isinstance(r, ResourceSpecV1):
        raise _refuse('resources', 'only ResourceSpecV1 is understood')
    if r.exclusive_node_use:
        raise _refuse('resources.exclusive_node_use', 'a pilot shares its nodes by design')
    out: Dict[str, Any] = {'ranks': r.computed_process_count}
    if r.computed_processes_per_node and r.processes_per_node is not None:
        out['ranks_per_node'] = r.processes_per_node
    if r.cpu_cores_per_process:
        out['cores_per_rank'] = r.cpu_cores_per_process
    if r.gpu_cores_per_process:
        out['gpus_per_rank'] = r.gpu_cores_per_process
    if r.memory:
        out['mem_per_rank'] = max(1, -(-r.memory // (1024 * 1024 * out['ranks'])))
    return out


def _attributes(spec: JobSpec, out: Dict[str, Any]) -> None:
    a = spec.attributes
    for field, value, why in (
            ('attributes.queue_name', a.queue_name, 'the queue is the pilot\'s: '
                                                    'RPExecutorConfig(queue=...)'),
            ('attributes.account', a.account, 'the account is the pilot\'s: '
                                              'RPExecutorConfig(project=...)'),
            ('attributes.project_name', a.project_name, 'the project is the pilot\'s: '
                                                        'RPExecutorConfig(project=...)'),
            ('attributes.reservation_id', a.reservation_id, 'a reservation is the pilot\'s')):
        if value:
            raise _refuse(field, why)
    if a.duration is not None and a.duration.total_seconds() <= 0:
        raise InvalidJobException('attributes.duration must be positive, not %s' % a.duration)
    for key, attr_value in (a.custom_attributes or {}).items():
        scheduler, _, name = key.partition('.')
        if scheduler != 'rp':
            continue  # another scheduler's attribute: psij's rule is to ignore it
        if name not in _CUSTOM_KEYS:
            raise InvalidJobException('attributes.custom_attributes[%r]: rp.<key> must be one '
                                      'of %s' % (key, ', '.join(sorted(_CUSTOM_KEYS))))
        out[name] = attr_value


def _payload(spec: JobSpec) -> str:
    if spec.executable is None:
        raise InvalidJobException('executable is not set')
    env = spec.environment or {}
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise InvalidJobException('environment: %r is not a variable name' % name)
        if '\0' in value:
            raise InvalidJobException('environment: the value of %s holds a NUL' % name)
    args = [str(x) for x in (spec.arguments or [])]
    if any('\0' in x for x in args):
        raise InvalidJobException('arguments: an argument holds a NUL character')
    directory = _path(spec.directory, 'directory')
    scripts = _launch_scripts(spec)
    doc = {'executable': str(spec.executable), 'arguments': args,
           'pre_launch': _path(spec.pre_launch, 'pre_launch') if scripts else None,
           'post_launch': _path(spec.post_launch, 'post_launch') if scripts else None,
           'environment': list(env.items()), 'inherit': spec.inherit_environment,
           'directory': directory,
           'stdin': _path(spec.stdin_path, 'stdin_path'),
           'stdout': _path(spec.stdout_path, 'stdout_path'),
           'stderr': _path(spec.stderr_path, 'stderr_path')}
    raw = json.dumps(doc, ensure_ascii=True).encode('ascii')
    return base64.urlsafe_b64encode(raw).decode('ascii')


MAX_ARGUMENT = 64 * 1024
"""Above this, the job goes to the task in a file (Linux caps one argument at 128 KiB)."""


def task_description(spec: JobSpec, launcher: Optional[str], name: str,
                     python: str = sys.executable,
                     payload_file: Optional[pathlib.Path] = None) -> Dict[str, Any]:
    """
    The task description (as a dict for ``radical.pilot.TaskDescription``) of a job.

    :param launcher: the spec's launcher (`None`: the default).
    :param name: the task's name (the PSI/J job id).
    :param python: the interpreter the task runs `TASK_MAIN` with.
    :param payload_file: where to write the job if it is too big for one argument (a file on
        a filesystem the pilot's nodes share, in a private directory); such a job is
        refused without it.
    :raises InvalidJobException: naming the first field that cannot be honoured.
    """
    if launcher is not None and launcher not in RP_STARTED:
        raise _refuse('launcher %r' % launcher,
                      'RADICAL-Pilot starts the ranks itself (single, multiple, mpirun)')
    for field in ('stage_in', 'stage_out'):
        if getattr(spec, field, None):
            raise _refuse(field, 'use RADICAL-Pilot\'s staging (rp.input_staging, '
                                 'rp.output_staging)')
    if getattr(spec, 'cleanup', None):
        raise _refuse('cleanup', 'RADICAL-Pilot keeps the task sandbox')
    direct = _direct(spec)
    if direct is not None:
        td: Dict[str, Any] = direct
        td['name'] = name
    else:
        td = {'name': name, 'executable': python,
              'arguments': ['-I', '-S', TASK_MAIN, _large(_payload(spec), payload_file)]}
    td.update(_resources(spec))
    if direct is not None or not _launch_scripts(spec):
        for field in ('pre_launch', 'post_launch'):
            p = _path(getattr(spec, field), field)
            if p is not None:
                td[field] = ['. %s' % shlex.quote(p)]
    elif td['ranks'] > 1:
        raise _refuse('pre_launch/post_launch', 'with several ranks, their paths must be '
                      'made of plain characters (RADICAL-Pilot sources them)')
    _attributes(spec, td)
    return td


def _launch_scripts(spec: JobSpec) -> bool:
    """Whether pre/post-launch paths go to `TASK_MAIN` rather than to RP: always for a job of
    one rank (`TASK_MAIN` names a failing pre-launch script and keeps its exit code, which
    RP's launch script turns into 1), and for paths that are not plain (RP's launch script
    misreads them)."""
    scripts = [p for p in (spec.pre_launch, spec.post_launch) if p is not None]
    if not scripts:
        return False
    res = spec.resources
    one_rank = not isinstance(res, ResourceSpecV1) or res.computed_process_count == 1
    return one_rank or any(not _PLAIN.match(os.fsdecode(p)) for p in scripts)


def _large(payload: str, payload_file: Optional[pathlib.Path]) -> str:
    if len(payload) > MAX_ARGUMENT:
        if payload_file is None:
            raise InvalidJobException('arguments and environment: the job is too big (%d '
                                      'bytes encoded)' % len(payload))
        payload_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(payload_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(payload)
        payload = '@' + str(payload_file)
    return payload


_PLAIN = re.compile(r'[A-Za-z0-9_./:=+,@%-]+\Z')
"""Words that mean the same to every shell, quoted or not."""


def _direct(spec: JobSpec) -> Optional[Dict[str, Any]]:
    """
    The task description that runs the job without `TASK_MAIN` (one process fewer per task),
    when RADICAL-Pilot can be given every field as it is: executable, arguments, environment
    values and paths made of plain characters only (`_PLAIN`: RP's scripts cannot misread
    them), no ``${NAME}`` references, no standard input, the inherited environment, and
    standard output and error paths that are absolute or relative to the job's directory.
    Otherwise `None`.
    """
    if spec.stdin_path is not None or not spec.inherit_environment or _launch_scripts(spec):
        return None
    executable = str(spec.executable)
    args = [str(a) for a in (spec.arguments or [])]
    env = spec.environment or {}
    words = [executable] + args + list(env) + list(env.values())
    paths = {f: None if p is None else os.fsdecode(p) for f, p in (
        ('sandbox', spec.directory), ('stdout', spec.stdout_path),
        ('stderr', spec.stderr_path))}
    words += [p for p in paths.values() if p is not None]
    if not all(_PLAIN.match(w) for w in words):
        return None
    if paths['sandbox'] is not None and not os.path.isdir(paths['sandbox']):
        return None  # RP would create it; the job must fail instead (TASK_MAIN does that)
    if paths['sandbox'] is None and any(p is not None and not p.startswith('/')
                                        for p in (paths['stdout'], paths['stderr'])):
        return None  # RP would put them in its own task sandbox
    td: Dict[str, Any] = {'executable': executable, 'arguments': args,
                          'environment': dict(env)}
    for field, p in paths.items():
        if p is not None:
            td[field] = p
    return td


def custom_keys() -> List[str]:
    """The task description keys ``rp.KEY`` custom attributes may set."""
    return sorted(_CUSTOM_KEYS)
