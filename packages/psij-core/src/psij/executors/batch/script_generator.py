"""
Submit scripts from Mustache templates, as psij-python's batch executors write them.

An executor written for psij-python keeps its template under its package and its
``generate_submit_script`` unchanged::

    from psij.executors.batch.script_generator import TemplatedScriptGenerator

    class MyExecutor(BatchSchedulerExecutor):
        def __init__(self, url=None, config=None):
            super().__init__(url=url, config=config)
            self.generator = TemplatedScriptGenerator(
                self.config, Path(__file__).parent / 'mysched' / 'mysched.mustache')

        def generate_submit_script(self, job, context, submit_file):
            self.generator.generate_submit_script(job, context, submit_file)

The template sees psij-python's context: ``job``, ``custom_attributes`` (``{'slurm':
[{'key': 'qos', 'value': 'debug'}, ...]}``, one list per prefix), ``env`` (``[{'name': ...,
'value': ...}]``), ``psij.launch_command``, ``psij.script_dir``, ``psij.lib`` (the
:mod:`~psij.executors.batch.template_function_library`) and ``formatted_job_duration``.
Values are escaped with `bash_escape` (or the function given), and rendered by psij's own
renderer (:mod:`psij.executors.batch.mustache`), which renders as psij-python's pystache does.

One thing differs, on purpose: a value that would break out of a ``#`` line (a scheduler
directive or comment) - a line break, a double quote, a backslash or another control
character in, say, the job's name or a custom attribute - makes `generate_submit_script`
raise `InvalidJobException`: with psij-python's templates it would become the next line of
the script, i.e. shell code or another directive.

The script such a template writes records its exit code in ``<script_dir>/<native id>.ec``
(without the submission token the base's own scripts add), which the framework reads.

A template may include psij-python's partials (``{{> batch_lib}}``, ``{{> stagein}}``,
``{{> stageout}}``, ``{{> cleanup}}``): psij writes them for each job
(:mod:`psij.executors.batch.psij_python_partials`). A template that includes any other partial
is refused when the generator is made.
"""

from __future__ import annotations

import pathlib
import re
from typing import IO, Any, Callable, Dict, List, Optional

from psij.exceptions import InvalidJobException
from psij.executors.batch import mustache, psij_python_partials
from psij.executors.batch.escape_functions import bash_escape
from psij.executors.batch.template_function_library import ALL as FUNCTION_LIBRARY
from psij.job import Job
from psij.job_executor_config import JobExecutorConfig
from psij.launchers.launch_wrapper import launch_script_text

_BREAKS_OUT = re.compile(r'[\x00-\x1f\x7f"\\]')


class SubmitScriptGenerator:
    """Writes the submit script of a job (psij-python's base class of generators)."""

    def __init__(self, config: JobExecutorConfig) -> None:
        """:param config: the configuration of the executor using this generator."""
        self.config = config

    def generate_submit_script(self, job: Job, context: Dict[str, object], out: IO[str]) -> None:
        """Writes the submit script of `job` to `out`; `context` is the executor's."""
        raise NotImplementedError


class TemplatedScriptGenerator(SubmitScriptGenerator):
    """Renders a Mustache template into the submit script (see the module documentation)."""

    def __init__(self, config: JobExecutorConfig, template_path: pathlib.Path,
                 escape: Callable[[object], str] = bash_escape) -> None:
        """
        :param config: the executor's configuration.
        :param template_path: the Mustache template.
        :param escape: turns a value into what the script holds for ``{{value}}``.
        :raises mustache.TemplateError: if the template cannot be parsed.
        """
        super().__init__(config)
        with pathlib.Path(template_path).open('r') as f:
            self.template = mustache.parse(f.read())
        unknown = [n for n in mustache.partial_names(self.template)
                   if n not in psij_python_partials.NAMES]
        if unknown:
            raise mustache.TemplateError(
                '%s includes the partial(s) %s; a submit script template may include only '
                "psij-python's %s" % (template_path, ', '.join(unknown),
                                      ', '.join(psij_python_partials.NAMES)))
        self.template_path = template_path
        self.renderer = mustache.Renderer(escape, _refuse_break_out)

    @property
    def staged_fields(self) -> List[str]:
        """The staging fields of `JobSpec` the template's partials carry out (``stage_in``
        with ``{{> stagein}}``, ``stage_out`` with ``{{> stageout}}``, ``cleanup`` with
        ``{{> cleanup}}``): an executor refuses a job with one it does not."""
        names = mustache.partial_names(self.template)
        return [field for field, partial in (('stage_in', 'stagein'), ('stage_out', 'stageout'),
                                             ('cleanup', 'cleanup')) if partial in names]

    def generate_submit_script(self, job: Job, context: Dict[str, object], out: IO[str]) -> None:
        """
        Renders the template with psij-python's context for `job`.

        :raises InvalidJobException: for a value that would break out of a ``#`` line.
        """
        ctx = template_context(job, context, self.config.launcher_log_file)
        assert job.spec is not None
        out.write(self.renderer.render(self.template, ctx,
                                       psij_python_partials.partials(job.spec)))


# Opens the job's streams, then runs the launch wrapper's text ($4) with the other arguments:
# psij-python's launch command is the whole job, its redirections included.
_STDIO_THEN_LAUNCH = (
    'in=$1 out=$2 err=$3 text=$4; shift 4; exec <"${in:-/dev/null}" || exit 1; '
    'if [ -n "$out" ]; then exec >"$out" || exit 1; fi; '
    'if [ -n "$err" ]; then if [ "$err" = "$out" ]; then exec 2>&1; '
    'else exec 2>"$err" || exit 1; fi; fi; exec /bin/sh -c "$text" launch.sh "$@"')


def launch_command(job: Job, command: List[str], log: Optional[pathlib.Path]) -> List[str]:
    """
    The argv that runs `job` whole, as psij-python's templates expect of
    ``psij.launch_command``: its streams opened, pre-launch, the launcher's `command`,
    post-launch, through the launch wrapper (whose text it carries, so that the job needs
    nothing from the submitting host's installation).
    """
    spec = job.spec
    assert spec is not None
    streams = ['' if p is None else str(p) for p in (spec.stdin_path, spec.stdout_path,
                                                     spec.stderr_path)]
    return ['/bin/sh', '-c', _STDIO_THEN_LAUNCH, 'psij-job', *streams, launch_script_text(),
            str(spec.pre_launch or ''), str(spec.post_launch or ''), str(log or ''),
            '' if spec.inherit_environment else '1', '--', *command]


def template_context(job: Job, context: Dict[str, Any],
                     log: Optional[pathlib.Path] = None) -> Dict[str, Any]:
    """`context` in psij-python's shape: its ``custom_attributes`` and ``env`` lists,
    ``psij.lib``, and ``psij.launch_command`` running the whole job (see `launch_command`;
    `log` is the launcher log file); the executor's other entries kept."""
    spec = job.spec
    assert spec is not None
    ctx = dict(context)
    ctx['custom_attributes'] = _custom_attributes(spec.attributes.custom_attributes or {})
    ctx['env'] = [{'name': k, 'value': v} for k, v in (spec.environment or {}).items()]
    psij = dict(context.get('psij') or {})
    psij.setdefault('lib', FUNCTION_LIBRARY)
    if 'launch_command' in psij:
        psij['launch_command'] = launch_command(job, list(psij['launch_command']), log)
    ctx['psij'] = psij
    return ctx


def _custom_attributes(attrs: Dict[str, object]) -> Dict[str, object]:
    out: Dict[str, object] = {}
    for k, v in attrs.items():
        prefix, dot, rest = k.partition('.')
        if dot:
            group = out.setdefault(prefix.lower(), [])
            if isinstance(group, list):
                group.append({'key': rest, 'value': v})
        else:
            out[k] = v
    return out


def _refuse_break_out(raw: str, escaped: str, line: str) -> None:
    if not line.lstrip().startswith('#'):
        return  # in shell code, the escaped word is safe whatever it holds
    m = _BREAKS_OUT.search(raw)
    if m:
        raise InvalidJobException(
            '%r cannot be written into the line %r of the submit script: the character %r '
            'would end it and start a line of shell code or another directive'
            % (raw, line.strip(), m.group()))


__all__: List[str] = ['SubmitScriptGenerator', 'TemplatedScriptGenerator', 'launch_command',
                      'template_context']
