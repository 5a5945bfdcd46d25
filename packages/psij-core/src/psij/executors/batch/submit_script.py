"""The submit script a batch-scheduler executor writes for a job."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import IO, Any, Collection, Dict, List

from psij.exceptions import InvalidJobException
from psij.executors.batch import job_files, staging_script
from psij.executors.batch.scheduler_commands import SchedulerCommands
from psij.executors.batch.script_generator import TemplatedScriptGenerator
from psij.executors.batch.script_writer import (
    custom_attribute_key,
    directive_value,
    env_assignment,
    quote,
    quote_all,
    quote_code,
)
from psij.job import Job
from psij.job_spec import JobSpec
from psij.launchers.launch_wrapper import launch_script_text
from psij.launchers.script_based_launcher import ScriptBasedLauncher
from psij.resource_spec import ResourceSpecV1

_LOGIN_VARIABLES = frozenset({'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TERM', 'TZ',
                              'TMPDIR', 'PWD', 'OLDPWD', 'SHLVL', '_'})


def _drop_inherited_environment() -> List[str]:
    """Shell lines that unset each variable still holding the submitting process's value."""
    lines = []
    for name, value in sorted(os.environ.items()):
        if name in _LOGIN_VARIABLES or not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', name):
            continue
        lines.append('[ "${%s-}" != %s ] || unset %s' % (name, quote(value), name))
    return lines


SCHEDULER_FIELDS = frozenset({
    'queue_name', 'account', 'reservation_id', 'duration', 'custom_attributes', 'node_count',
    'process_count', 'processes_per_node', 'cpu_cores_per_process', 'gpu_cores_per_process',
    'memory', 'exclusive_node_use'})
"""Fields of `JobAttributes` and `ResourceSpecV1` whose meaning depends on the scheduler."""


def fields_set(spec: Any, scheduler: str) -> List[tuple[str, str]]:
    """(field, its full name) of each of `SCHEDULER_FIELDS` that `spec` sets: not left at its
    default (a ``duration`` of 10 minutes, PSI/J's default, counts as not set; counts above 1
    count as set; custom attributes count if one is for `scheduler`)."""
    from psij.job_attributes import JobAttributes
    out = []
    attrs = spec.attributes
    for name in ('queue_name', 'account', 'reservation_id'):
        if getattr(attrs, name, None) is not None:
            out.append((name, 'JobAttributes.' + name))
    if attrs.duration != JobAttributes().duration:
        out.append(('duration', 'JobAttributes.duration'))
    if any(k.startswith(scheduler + '.') for k in (attrs.custom_attributes or {})):
        out.append(('custom_attributes', 'JobAttributes.custom_attributes'))
    res = spec.resources
    if isinstance(res, ResourceSpecV1):
        for name, value in (('node_count', res.computed_node_count),
                            ('process_count', res.computed_process_count),
                            ('processes_per_node', res.computed_processes_per_node)):
            if value > 1:
                out.append((name, 'ResourceSpecV1.' + name))
        if res.cpu_cores_per_process is not None:
            out.append(('cpu_cores_per_process', 'ResourceSpecV1.cpu_cores_per_process'))
        if res.gpu_cores_per_process:
            out.append(('gpu_cores_per_process', 'ResourceSpecV1.gpu_cores_per_process'))
        if res.memory is not None:
            out.append(('memory', 'ResourceSpecV1.memory'))
        if res.exclusive_node_use:
            out.append(('exclusive_node_use', 'ResourceSpecV1.exclusive_node_use'))
    return out


class SubmitScript(SchedulerCommands):
    """Writes submit scripts: the directives of `get_directives`, then the common body."""

    def generate_submit_script(self, job: Job, context: Dict[str, Any],
                               submit_file: IO[str]) -> None:
        """
        Writes the submit script: ``#!/bin/bash``, `get_directives`, then the common body that
        records the job's start and exit code, sets its environment and directory, writes the
        node file, and runs the launcher through the launch wrapper with the job's streams.
        """
        submit_file.write('#!/bin/bash\n')
        for d in self.get_directives(job, context):
            if '\n' in d or '\r' in d:
                raise InvalidJobException('A scheduler directive cannot contain a line break: '
                                          '%r' % d)
            submit_file.write(d + '\n')
        submit_file.write('\n'.join(self._script_body(job, context)) + '\n')

    def _script_body(self, job: Job, context: Dict[str, Any]) -> List[str]:
        spec = job.spec
        assert spec is not None
        wd = quote(str(self.work_directory))
        idv = self.job_id_variable
        lines = [
            '_psij_wd=%s' % wd,
            '_psij_id="${%s}"' % idv,
            '_psij_token=%s' % quote(context['psij'].get('token', '')),
            'exec >>"$_psij_wd/%s" 2>&1' % job_files.output_name(
                '$_psij_id', context['psij'].get('token')),
            'printf "%%s\\n" "$_psij_token" >"$_psij_wd/$_psij_id%s"' % job_files.ACTIVE_SUFFIX,
            '_psij_end() {',
            '    printf "%%s %%s\\n" "$1" "$_psij_token" >"$_psij_wd/$_psij_id%s.tmp"'
            % job_files.EXIT_CODE_SUFFIX,
            '    mv -f "$_psij_wd/$_psij_id%s.tmp" "$_psij_wd/$_psij_id%s"'
            % (job_files.EXIT_CODE_SUFFIX, job_files.EXIT_CODE_SUFFIX),
            '    exit "$1"',
            '}',
        ]
        lines.extend(self.script_setup_commands(job))
        if spec.directory is not None:
            lines.append('cd -- %s || { echo "psij: cannot change to the job directory"; '
                         '_psij_end 1; }' % quote(str(spec.directory)))
        lines.extend(staging_script.stage_in_lines(spec))
        if not spec.inherit_environment and not self.scheduler_isolates_environment:
            lines.extend(_drop_inherited_environment())
        for name, value in (spec.environment or {}).items():
            lines.append(env_assignment(name, value))
        node_lines = self.nodefile_commands(job)
        if node_lines:
            lines.append('export PSIJ_NODEFILE="$_psij_wd/$_psij_id.nodes"')
            lines.extend(node_lines)
        redirects = []
        for path, op in ((spec.stdin_path, '<'), (spec.stdout_path, '>'),
                         (spec.stderr_path, '2>')):
            if path is not None:
                redirects.append('%s%s' % (op, quote(str(path))))
        if spec.stdin_path is None:
            redirects.insert(0, '</dev/null')
        if spec.stdout_path is not None and spec.stdout_path == spec.stderr_path:
            # two opens of one file would truncate and overwrite each other
            redirects[-1] = '2>&1'
        launch = context['psij']['launch_command']
        log = self.config.launcher_log_file
        # the wrapper's text, not its path: the job needs nothing from this host's installation
        lines.append('/bin/sh -c %s launch.sh %s %s %s %s -- %s %s' % (
            quote_code(launch_script_text()), quote(str(spec.pre_launch or '')),
            quote(str(spec.post_launch or '')), quote(str(log or '')),
            quote('' if spec.inherit_environment else '1'), quote_all(launch),
            ' '.join(redirects)))
        lines.extend(staging_script.end_lines(spec))
        return lines

    def _create_script_context(self, job: Job) -> Dict[str, Any]:
        spec = job.spec
        assert spec is not None
        launcher = self._get_launcher_from_job(job)
        try:
            launch_command = launcher.get_launch_command(job)
        except (ValueError, InvalidJobException) as ex:
            raise InvalidJobException('Launcher %s cannot start this job: %s'
                                      % (launcher.name, ex), ex) from ex
        ctx: Dict[str, Any] = {
            'job': job,
            'custom_attributes': self._custom_attributes(job),
            'psij': {'launch_command': launch_command, 'script_dir': str(self.work_directory),
                     'token': job_files.new_token(),
                     'launcher': launcher, 'is_script_launcher': isinstance(
                         launcher, ScriptBasedLauncher)},
        }
        duration = spec.attributes.duration
        if duration is not None:
            ctx['formatted_job_duration'] = self._format_duration(duration)
        return ctx

    custom_attribute_prefixes: tuple[str, ...] = ()
    """Prefixes of this executor's custom attributes besides its name (e.g. its aliases):
    ``JobAttributes.custom_attributes['<prefix>.<key>']`` is for this executor."""

    def custom_attribute_items(self, job: Job) -> List[tuple[str, object, str]]:
        """
        (key, value as given, field name for messages) of each of this executor's custom
        attributes (``<name>.<key>`` or ``<prefix>.<key>``, see `custom_attribute_prefixes`).

        :raises InvalidJobException: for a key that cannot be an option name.
        """
        assert job.spec is not None
        attrs = job.spec.attributes.custom_attributes or {}
        prefixes = {self._scheduler(), *self.custom_attribute_prefixes}
        out = []
        for k, v in attrs.items():
            prefix, dot, rest = k.partition('.')
            if dot and prefix in prefixes:
                field = 'JobAttributes.custom_attributes[%r]' % k
                out.append((custom_attribute_key(field, rest), v, field))
        return out

    def _custom_attributes(self, job: Job) -> Dict[str, str]:
        """This executor's custom attributes by key, values validated for a directive."""
        return {k: directive_value(f, v) for k, v, f in self.custom_attribute_items(job)}

    def _format_duration(self, d: timedelta) -> str:
        secs = int(d.total_seconds())
        if d.total_seconds() > secs:
            secs += 1  # never ask for less than the user did
        return '%d:%02d:%02d' % (secs // 3600, secs // 60 % 60, secs % 60)

    def _refuse_fields_not_passed(self, spec: Any) -> None:
        """
        :raises InvalidJobException: for staging without `supports_staging`, or a field
            set that is not one of `honoured_fields`.
        """
        self._check_staging(spec)
        honoured = type(self).honoured_fields
        if honoured is not None:
            for field, full in fields_set(spec, self._scheduler()):
                if field not in honoured:
                    raise InvalidJobException(
                        '%s: the %s executor does not pass it to its scheduler; it refuses the '
                        'job rather than run it without it' % (full, self._scheduler()))

    def script_for(self, job: Job) -> str:
        """
        The submit script `job` would get, without submitting it (for reviews, e.g. ``psij
        script``); the job is left unsubmitted and unbound.

        :raises InvalidJobException: for a job that `submit` would refuse before writing it.
        """
        import io
        spec = self._check_job(job)
        try:
            self._refuse_fields_not_passed(spec)
            if not isinstance(spec.resources, ResourceSpecV1):
                raise InvalidJobException('Only ResourceSpecV1 resources are supported')
            buf = io.StringIO()
            self.generate_submit_script(job, self._create_script_context(job), buf)
            return buf.getvalue()
        finally:
            job.executor = None

    def _base_writes_script(self) -> bool:
        return type(self).generate_submit_script is SubmitScript.generate_submit_script

    def _check_staging(self, spec: JobSpec) -> None:
        stages = self.supports_staging
        staged: Collection[str] = ()
        if stages is None:
            stages = self._base_writes_script()
            # a psij-python template stages what its partials ({{> stagein}}...) stage
            staged = {f for g in vars(self).values() if isinstance(g, TemplatedScriptGenerator)
                      for f in g.staged_fields}
        if stages or staged:
            staging_script.check(spec, self._scheduler())
        if stages:
            return
        for field in ('stage_in', 'stage_out', 'cleanup'):
            if getattr(spec, field, None) and field not in staged:
                raise InvalidJobException(
                    'JobSpec.%s: the %s executor does not stage files; it refuses the job '
                    'rather than run it without its files' % (field, self._scheduler()))
