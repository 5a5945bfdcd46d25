"""
How a :class:`~psij.JobSpec` becomes a Flux jobspec (RFC 14, version 1).

The result is a plain ``dict``, built without the Flux bindings, so that the same jobspec is
sent through the bindings (``flux.job.submit``) or the command line (``flux job submit``).

Fields
------
==========================================  =====================================================
field                                       jobspec
==========================================  =====================================================
``name`` (default: the executable)          ``attributes.system.job.name``
``directory`` (default: the current one)    ``attributes.system.cwd``; the job also checks that it
                                            can enter it and otherwise fails with a Flux
                                            exception saying so (Flux itself would run the job
                                            in ``/tmp``)
``environment`` / ``inherit_environment``   ``attributes.system.environment``: the submitting
                                            process's environment plus `environment`
                                            (inherit), or `environment` alone; ``${NAME}`` in a
                                            value is replaced by NAME's value at that point
``stdin_path`` / ``stdout_path`` /          shell options ``input.stdin`` / ``output.stdout`` /
``stderr_path``                             ``output.stderr`` (files, relative to the job
                                            directory; ``/dev/null`` when not given)
node / process counts                       ``node[N] > slot[PPN] > core[C]`` when the job gave
                                            ``node_count``, ``processes_per_node`` or
                                            ``exclusive_node_use``, else ``slot[P] > core[C]``
``cpu_cores_per_process``                   ``core`` count per slot (default 1)
``gpu_cores_per_process``                   ``gpu`` count per slot
``exclusive_node_use``                      ``exclusive`` on the node level
``memory``                                  not expressible in jobspec V1 (sched-simple has no
                                            memory): ignored
``duration``                                ``attributes.system.duration`` (seconds)
``queue_name`` / ``account``                ``attributes.system.queue`` / ``attributes.system.bank``
``reservation_id``                          refused: Flux has no advance reservations
``stage_in`` / ``stage_out`` / ``cleanup``  done in the job, on the lead node, once, around
                                            all ranks (see "Staging" below)
``flux.*`` custom attributes                see :func:`apply_custom_attributes`
==========================================  =====================================================

Launchers: who starts the ranks
-------------------------------
Flux starts the ranks of a job itself (its job shell, with PMI for MPI programs), so:

* ``single`` (the default): one task, on the lead node, in an allocation of all the requested
  resources. Flux's job shell fails a job one of whose nodes has no task ("terminated before
  first barrier"), so a job of several nodes gets one task per node (`LEAD_ONLY_SH`): the lead
  node's runs the command, the others end at once, and the job ends with the command.
* ``multiple``, ``mpirun`` and ``srun`` (`FLUX_STARTED`): Flux starts ``process_count`` tasks
  placed as the resources say (several nodes included): no ``mpirun`` or ``srun`` runs; an MPI
  program gets its ranks through Flux's PMI. Each task gets ``FLUX_TASK_RANK``; with more than
  one task each also gets ``PSIJ_NODEFILE`` (one line per node of the job).
* any other launcher (``jsrun``, ``aprun``, a plugin's...): its command runs once, as one task
  on the lead node holding the whole allocation, with ``PSIJ_NODEFILE``.

``pre_launch`` / ``post_launch`` are sourced once, on the lead node, around the command: by a
small wrapper in the single task, or, when Flux starts several ranks, by the initial program of
a nested Flux instance (``flux broker``) over the job's allocation, which starts the ranks with
``flux run`` (so what the pre-launch script exports reaches every rank, and the post-launch
script runs after they all ended).

Staging
-------
A job with ``stage_in``, ``stage_out`` or ``cleanup`` runs under one more wrapper, made by
`stage_script` from the lines of :mod:`psij.executors.batch.staging_script` (the batch
executors' staging: copy/link/move, directories, ``IF_PRESENT``, the outcome flags, a failed
stage-in fails the job without running it, a failed stage-out fails a successful one, an
``ON_CANCEL`` stage-out and the cleanup of a canceled job from a trap: Flux's ``SIGTERM`` to
the single task, the nested instance's ``SIGHUP`` to its initial program). It runs once, on
the lead node, in the job's directory, around everything else: around the single task
(``single`` and the other launchers), or, when Flux starts several ranks, as the initial
program of the nested instance (the ranks are then always started by ``flux run`` inside it,
as for pre/post-launch scripts), so that all ranks find the staged-in files and have ended
before the stage-out. A job whose
directory cannot be entered skips staging and fails as it would without it. Only ``file://``
URLs and plain paths are staged; other schemes are refused at submit. The executor reports
``STAGE_IN``, ``STAGE_OUT`` and ``CLEANUP`` as the batch executors do (on the way to
``ACTIVE`` and to the final state). Jobs without staging run exactly as before, unwrapped.

No user string ever becomes shell code: the wrappers are fixed scripts and everything reaches
them as arguments (``sh -c SCRIPT psij-flux ARG...``); the staging wrapper holds the staged
paths as single-quoted words (as the batch executors' submit scripts do).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from psij.exceptions import InvalidJobException
from psij.executors.batch import staging_script
from psij.executors.batch.script_writer import custom_attribute_key, directive_value
from psij.job_spec import JobSpec
from psij.resource_spec import ResourceSpecV1

from psij_flux.results import (
    MISSING_DIRECTORY_EXCEPTION,
    MISSING_DIRECTORY_EXIT_CODE,
    PRE_LAUNCH_EXCEPTION,
)

FLUX_STARTED = frozenset({'multiple', 'mpirun', 'srun'})
"""Launchers whose ranks Flux starts itself (see the module documentation)."""

SINGLE = 'single'

def _render(script: str) -> str:
    """`script` with the exception types and exit code of :mod:`psij_flux.results` in place
    of ``@CWD_TYPE@``, ``@CWD_CODE@`` and ``@PRE_TYPE@``."""
    return script.replace('@CWD_TYPE@', MISSING_DIRECTORY_EXCEPTION).replace(
        '@CWD_CODE@', str(MISSING_DIRECTORY_EXIT_CODE)).replace(
        '@PRE_TYPE@', PRE_LAUNCH_EXCEPTION)


_VAR_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
_PATH_PART = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')

LEAD_ONLY_SH = 'if [ "${FLUX_TASK_RANK:-0}" = 0 ]; then exec "$@"; fi'
"""The task of each node of a one-task job of several nodes: only the lead node's runs the
command (its arguments)."""

# What the task wrapper and the nested instance's initial program share, each after its own
# _psij_raise TYPE MESSAGE (raise an exception on the job). A job whose directory cannot be
# entered raises CWD_TYPE and exits CWD_CODE; a failing pre-launch script (a non-zero status,
# or an exit in it: the EXIT trap) raises PRE_TYPE with a message naming it and its code
# (results.final_status reads the code back), then exits with that code; the post-launch
# script's failure only replaces a command's 0.
_CD = r'''if [ -n "$d" ] && ! cd "$d" 2>/dev/null; then
    msg="psij: cannot enter the job directory $d (missing or not accessible)"
    echo "$msg" >&2
    _psij_raise @CWD_TYPE@ "$msg"
    exit @CWD_CODE@
fi
'''
_AROUND = r'''_psij_pre_failed() {
    msg="psij: the pre-launch script $pre failed with exit code $1"
    echo "$msg" >&2
    _psij_raise @PRE_TYPE@ "$msg"
}
if [ -n "$pre" ]; then
    trap 'rc=$?; [ "$rc" -eq 0 ] || _psij_pre_failed "$rc"' EXIT
    . "$pre"
    rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        _psij_pre_failed "$rc"
        exit "$rc"
    fi
fi
"$@"
rc=$?
if [ -n "$post" ]; then
    . "$post"
    prc=$?
    if [ "$prc" -ne 0 ] && [ "$rc" -eq 0 ]; then
        echo "psij: the post-launch script $post failed with exit code $prc" >&2
        rc=$prc
    fi
fi
exit "$rc"'''

# The task wrapper: runs in every task Flux starts when the job needs more than its argv.
#   sh -c TASK_SH psij-flux DIR FLUX NODEFILE PRE POST COMMAND [ARG...]
# DIR: the directory to check ('' = none); FLUX: the flux command (to raise an exception on
# the job); NODEFILE: non-empty = write and export PSIJ_NODEFILE; PRE/POST: scripts to source
# ('' = none). Exit code: the command's; a failing pre-launch script's; else a failing
# post-launch script's.
TASK_SH = _render(r'''d=$1 flux=$2 nf=$3 pre=$4 post=$5
shift 5
_psij_raise() {
    if [ -n "${FLUX_JOB_ID:-}" ]; then
        "$flux" job raise --type="$1" "$FLUX_JOB_ID" -- "$2" 2>/dev/null
    fi
}
''' + _CD + r'''if [ -n "$nf" ]; then
    PSIJ_NODEFILE=${FLUX_JOB_TMPDIR:-/tmp}/psij-nodefile.${FLUX_TASK_RANK:-0}
    "$flux" hostlist -e -d '
' local > "$PSIJ_NODEFILE" 2>/dev/null || uname -n > "$PSIJ_NODEFILE"
    export PSIJ_NODEFILE
fi
if [ -z "$pre$post" ]; then
    exec "$@"
fi
''' + _AROUND)

# The initial program of the nested instance used when Flux starts several ranks and the job
# has pre/post-launch scripts:
#   flux broker sh -c LEAD_SH psij-flux DIR FLUX PRE POST COMMAND [ARG...]
# COMMAND is `flux run ...` for the ranks.
LEAD_SH = _render(r'''d=$1 flux=$2 pre=$3 post=$4
shift 4
_psij_raise() {
    id=$("$flux" getattr jobid 2>/dev/null) && puri=$("$flux" getattr parent-uri 2>/dev/null) &&
        FLUX_URI=$puri "$flux" job raise --type="$1" "$id" -- "$2" 2>/dev/null
}
''' + _CD + _AROUND)


# Around the job's (wrapped) command when it stages:
#   sh -c STAGE_SH psij-flux DIR HAS_PATH STDOUT STDERR COMMAND [ARG...]
# HAS_PATH: '1' if the job's environment has PATH (sh gives itself a default PATH when there
# is none, so the script cannot tell). STDOUT, STDERR: the job's output files ('' for
# /dev/null), which the script appends to itself (Flux's shell opened, and truncated, them
# before the task started): what the command wrote is then in them when the stage-out copies
# them, instead of still on its way through Flux's shell. The staging lines of
# psij.executors.batch.staging_script go between the head and the tail; they run with
# PATH=/usr/bin:/bin (cp, mv, ln, rm, mkdir), as the job's environment may have no PATH, or
# one without them.
_STAGE_HEAD = '''_psij_end() { exit "$1"; }
_psij_d=$1 _psij_had_path=$2
if [ -n "$3" ]; then exec >>"$3"; fi
if [ -n "$4" ]; then exec 2>>"$4"; fi
shift 4
if [ -n "$_psij_d" ] && ! cd "$_psij_d" 2>/dev/null; then
    exec "$@"
fi
_psij_path=${PATH-}
PATH=/usr/bin:/bin'''
# the command gets the job's own PATH (or none), whatever the staging commands were found with;
# a nested instance canceled by Flux sends its initial program SIGHUP, not SIGTERM
_STAGE_TAIL = '''trap '_psij_canceled' HUP
if [ -n "$_psij_had_path" ]; then
    PATH=$_psij_path "$@"
else
    (unset PATH; exec "$@")
fi'''


def stage_script(spec: JobSpec, directory: str, has_path: bool, stdout: str,
                 stderr: str) -> List[str]:
    """
    The argv prefix (``/bin/sh -c SCRIPT psij-flux DIRECTORY HAS_PATH STDOUT STDERR``) that
    stages `spec`'s files around the command that follows it, or ``[]`` if `spec` stages
    nothing. SCRIPT appends its output and the command's to `stdout` and `stderr` itself (so
    that a stage-out of the job's output copies all of it), enters
    `directory` ('' = stay) and runs the staging lines of
    :mod:`psij.executors.batch.staging_script`; if `directory` cannot be entered it runs the
    command alone (which fails saying so). Exit code: the command's, 1 for a failed stage-in
    (the command does not run) or a failed stage-out of a successful command. The command
    gets PATH only if `has_path` (the job's environment has one).
    """
    if not staging_script.stages(spec):
        return []
    text = '\n'.join([_STAGE_HEAD] + staging_script.stage_in_lines(spec) + [_STAGE_TAIL]
                     + staging_script.end_lines(spec))
    return ['/bin/sh', '-c', text, 'psij-flux', directory, '1' if has_path else '',
            '' if stdout == os.devnull else stdout, '' if stderr == os.devnull else stderr]


@dataclass
class Submission:
    """What is sent to Flux for one job."""

    jobspec: Dict[str, Any]
    """The jobspec, ready for ``json.dumps``."""
    urgency: int = 16
    """Flux's urgency (0 = held, 16 = default, 31 = expedite)."""
    mode: str = 'direct'
    """``direct`` (Flux runs the argv), ``wrapped`` (through `TASK_SH`) or ``nested``
    (through `LEAD_SH` in a nested instance); for tests and logs."""
    notes: List[str] = field(default_factory=list)


def job_environment(inherit: bool, spec_env: Optional[Mapping[str, str]],
                    base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """
    The job's whole environment: `base` (default: this process's environment) if `inherit`,
    plus `spec_env`, applied in order; ``${NAME}`` in a value is replaced by NAME's value at
    that point (empty if unset). Nothing else is expanded.
    """
    env: Dict[str, str] = dict(os.environ if base is None else base) if inherit else {}
    for name, value in (spec_env or {}).items():
        if '${' in value:
            value = _VAR_REF.sub(lambda m: env.get(m.group(1), ''), value)
        env[name] = value
    return env


def _absolute(path: Path, directory: str) -> str:
    p = str(path)
    return p if p.startswith('/') else os.path.join(directory, p)


def _io_path(what: str, path: Optional[Path], directory: str) -> str:
    if path is None:
        return os.devnull
    p = _absolute(path, directory)
    if '{{' in p:
        raise InvalidJobException('JobSpec.%s=%r: Flux reads "{{" in an I/O path as the start of '
                                  'a template, so this path cannot be passed to Flux' % (what, p))
    return p


def _set_path(root: Dict[str, Any], dotted: str, value: Any, what: str) -> None:
    parts = dotted.split('.')
    for p in parts:
        if not _PATH_PART.fullmatch(p):
            raise InvalidJobException('%s: %r is not a valid Flux attribute path' % (what, dotted))
    d = root
    for p in parts[:-1]:
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = d[p] = {}
        d = nxt
    d[parts[-1]] = value


def _value(v: object) -> Any:
    """A custom attribute's value as Flux's ``--setattr`` reads it: JSON if it parses."""
    if v is True:
        return 1
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _flux_name(field: str, value: str) -> str:
    """A queue or bank name: what a directive may hold, at most 255 characters (Flux cuts
    longer ones short in its refusal)."""
    text = directive_value(field, value)
    if len(text) > 255:
        raise InvalidJobException('%s: %d characters is too long for a Flux queue or bank name'
                                  % (field, len(text)))
    return text


def apply_custom_attributes(attrs: Mapping[str, object], jobspec: Dict[str, Any],
                            sub: Submission) -> None:
    """
    Applies the ``flux.*`` custom attributes (others are for other executors and ignored):

    =============================  =========================================================
    key                            effect (like the ``flux submit`` option)
    =============================  =========================================================
    ``flux.setattr.KEY``           ``--setattr=KEY=VALUE``: ``attributes.KEY`` when KEY
                                   starts with ``system.`` or ``user.``, else
                                   ``attributes.system.KEY``
    ``flux.setopt.OPT``            ``--setopt=OPT=VALUE``: shell option OPT (e.g.
                                   ``flux.setopt.pmi=pmix``, ``flux.setopt.cpu-affinity=off``)
    ``flux.urgency``               ``--urgency`` (0-31; 0 holds the job)
    ``flux.dependency``            ``--dependency=SCHEME:VALUE`` (e.g. ``afterok:ƒ2aaaaaaa``)
    ``flux.KEY`` (anything else)   same as ``flux.setattr.KEY``
    =============================  =========================================================

    A string VALUE is read as JSON when it parses (``"3"`` is the number 3), else as a string,
    as Flux's command line does; ``True`` is 1; ``False`` leaves the key out.
    """
    for key, raw in attrs.items():
        if not key.startswith('flux.') or raw is False or raw is None:
            continue
        name = key[len('flux.'):]
        what = 'JobAttributes.custom_attributes[%r]' % key
        value = _value(raw)
        if name == 'urgency':
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 31:
                raise InvalidJobException('%s: the urgency must be an integer from 0 to 31, '
                                          'not %r' % (what, raw))
            sub.urgency = value
        elif name == 'dependency':
            deps = jobspec['attributes']['system'].setdefault('dependencies', [])
            for item in (raw if isinstance(raw, (list, tuple)) else [raw]):
                scheme, sep, target = str(item).partition(':')
                if not sep or not scheme or not target:
                    raise InvalidJobException('%s: %r is not SCHEME:VALUE (e.g. afterok:ID)'
                                              % (what, item))
                deps.append({'scheme': scheme, 'value': target})
        elif name.startswith('setopt.'):
            opt = name[len('setopt.'):]
            _set_path(jobspec['attributes']['system'].setdefault('shell', {})
                      .setdefault('options', {}), opt, value, what)
        else:
            if name.startswith('setattr.'):
                name = name[len('setattr.'):]
            custom_attribute_key(what, name.split('.')[0])
            if not (name.startswith('system.') or name.startswith('user.')):
                name = 'system.' + name
            _set_path(jobspec['attributes'], name, value, what)


def _shaped(res: ResourceSpecV1) -> bool:
    """Whether the resources name nodes (else they are slots Flux places as it likes)."""
    return res.node_count is not None or res.processes_per_node is not None \
        or bool(res.exclusive_node_use)


def _resources(res: ResourceSpecV1) -> List[Dict[str, Any]]:
    children: List[Dict[str, Any]] = [{'type': 'core',
                                       'count': res.cpu_cores_per_process or 1}]
    if res.gpu_cores_per_process:
        children.append({'type': 'gpu', 'count': res.gpu_cores_per_process})
    if not _shaped(res):
        return [{'type': 'slot', 'count': res.computed_process_count, 'label': 'task',
                 'with': children}]
    node: Dict[str, Any] = {'type': 'node', 'count': res.computed_node_count,
                            'with': [{'type': 'slot', 'count': res.computed_processes_per_node,
                                      'label': 'task', 'with': children}]}
    if res.exclusive_node_use:
        node['exclusive'] = True
    return [node]


def _flux_run_options(res: ResourceSpecV1) -> List[str]:
    opts = ['-n', str(res.computed_process_count)]
    if res.node_count is not None or res.processes_per_node is not None:
        opts += ['-N', str(res.computed_node_count)]
    if res.cpu_cores_per_process:
        opts += ['-c', str(res.cpu_cores_per_process)]
    if res.gpu_cores_per_process:
        opts += ['-g', str(res.gpu_cores_per_process)]
    return opts


def build_submission(spec: JobSpec, launcher: str, launch_command: Optional[List[str]],
                     flux_command: str, job_name: Optional[str] = None,
                     cwd: Optional[str] = None,
                     environ: Optional[Mapping[str, str]] = None) -> Submission:
    """
    The jobspec for `spec` (see the module documentation).

    :param launcher: the launcher's name.
    :param launch_command: for a launcher Flux does not replace (not ``single`` and not in
        `FLUX_STARTED`), the argv its ``get_launch_command`` gave.
    :param flux_command: the ``flux`` command on the nodes (absolute path preferred).
    :param job_name: the name if `spec` has none.
    :param cwd: the directory relative paths refer to when `spec` has none (default: the
        current directory).
    :param environ: the submitting environment (default: ``os.environ``).
    :raises InvalidJobException: for a spec Flux cannot run as given.
    """
    if not spec.executable:
        raise InvalidJobException('JobSpec.executable is not set: nothing to run')
    res = spec.resources if spec.resources is not None else ResourceSpecV1()
    if not isinstance(res, ResourceSpecV1):
        raise InvalidJobException('Only ResourceSpecV1 resources are supported, not %s'
                                  % type(res).__name__)
    staging = staging_script.stages(spec)
    if staging:
        staging_script.check(spec, 'flux')
    attrs = spec.attributes
    if attrs.reservation_id is not None:
        raise InvalidJobException('JobAttributes.reservation_id=%r: Flux has no advance '
                                  'reservations' % attrs.reservation_id)
    base = os.getcwd() if cwd is None else cwd
    directory = _absolute(spec.directory, base) if spec.directory is not None else None
    workdir = directory or base
    pre = _absolute(spec.pre_launch, workdir) if spec.pre_launch is not None else ''
    post = _absolute(spec.post_launch, workdir) if spec.post_launch is not None else ''
    argv = [spec.executable] + list(spec.arguments or [])
    flux_started = launcher in FLUX_STARTED
    nprocs = res.computed_process_count

    system: Dict[str, Any] = {
        'duration': attrs.duration.total_seconds(),
        'cwd': workdir,
        'environment': job_environment(spec.inherit_environment, spec.environment, environ),
        'job': {'name': spec.name or job_name or spec.executable},
        'shell': {'options': {'output': {
            'stdout': {'type': 'file', 'path': _io_path('stdout_path', spec.stdout_path,
                                                        workdir)},
            'stderr': {'type': 'file', 'path': _io_path('stderr_path', spec.stderr_path,
                                                        workdir)}}}},
    }
    if spec.stdin_path is not None:
        system['shell']['options']['input'] = {
            'stdin': {'type': 'file', 'path': _io_path('stdin_path', spec.stdin_path, workdir)}}
    # names, not text: refused (naming the field) rather than passed to Flux to refuse
    if attrs.queue_name is not None:
        system['queue'] = _flux_name('JobAttributes.queue_name', attrs.queue_name)
    if attrs.account is not None:
        system['bank'] = _flux_name('JobAttributes.account', attrs.account)
    jobspec: Dict[str, Any] = {'version': 1, 'resources': _resources(res),
                               'attributes': {'system': system}}
    sub = Submission(jobspec)
    task_count: Dict[str, int] = {'per_slot': 1} if flux_started else {'total': 1}
    shell = '/bin/bash' if (pre or post) and os.path.exists('/bin/bash') else '/bin/sh'
    d = directory or ''
    has_path = 'PATH' in system['environment']
    outputs = system['shell']['options']['output']
    stager = stage_script(spec, d, has_path, outputs['stdout']['path'],
                          outputs['stderr']['path'])

    if flux_started and nprocs > 1 and (pre or post or staging):
        sub.mode = 'nested'
        ranks = [flux_command, 'run'] + _flux_run_options(res) + [
            '--', '/bin/sh', '-c', TASK_SH, 'psij-flux', '', flux_command, 'nodefile', '', '']
        command = [flux_command, 'broker'] + stager + [
            shell, '-c', LEAD_SH, 'psij-flux', d, flux_command, pre, post] + ranks + argv
        opts = system['shell']['options']
        opts['per-resource'] = {'type': 'node'}
        opts['mpi'] = 'none'
        opts['exit-timeout'] = 'none'
        task_count = {'per_slot': 1}
    else:
        if not flux_started and launcher != SINGLE:
            if not launch_command:
                raise InvalidJobException('launcher %r gave no command' % launcher)
            argv = list(launch_command)
        nodefile = (flux_started and nprocs > 1) or (not flux_started and launcher != SINGLE)
        if not d and not nodefile and not pre and not post and not staging:
            sub.mode = 'direct'
            command = argv
        else:
            sub.mode = 'wrapped'
            command = stager + [
                shell, '-c', TASK_SH, 'psij-flux', d, flux_command,
                'nodefile' if nodefile else '', pre, post] + argv
        if not flux_started and _shaped(res) and res.computed_node_count > 1:
            # a task on every node (see the module documentation), the job's end the lead's
            opts = system['shell']['options']
            opts['per-resource'] = {'type': 'node'}
            opts['exit-timeout'] = 'none'
            task_count = {'per_slot': 1}
            command = ['/bin/sh', '-c', LEAD_ONLY_SH, 'psij-flux'] + command
    jobspec['tasks'] = [{'command': command, 'slot': 'task', 'count': task_count}]
    apply_custom_attributes(attrs.custom_attributes or {}, jobspec, sub)
    return sub
