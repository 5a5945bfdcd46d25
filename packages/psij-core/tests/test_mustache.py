"""
psij's Mustache renderer (psij.executors.batch.mustache) and TemplatedScriptGenerator.

The expected outputs are pystache 0.6's (psij-python's renderer, ``missing_tags='ignore'``),
written out here; and where pystache itself is at hand (psij-python's venv, see
``PSIJ_PYTHON_VENV``, or installed), every template below and psij-python's own four submit
script templates are rendered by both, with psij jobs as context, and must match byte for byte.
"""

import glob
import io
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from psij import InvalidJobException, Job, JobAttributes, JobSpec, ResourceSpecV1, StageIn
from psij.executors.batch import mustache
from psij.executors.batch.escape_functions import bash_escape
from psij.executors.batch.script_generator import TemplatedScriptGenerator, template_context
from psij.executors.batch.template_function_library import walltime_to_minutes
from psij.job_executor_config import JobExecutorConfig


class Obj:
    """An object whose attributes (and argument-less methods) templates read."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def shout(self):
        return self.word.upper()


CTX = {
    'name': 'a b', 'zero': 0, 'none': None, 'empty': [], 'flag': True, 'no': False,
    'items': [{'k': 'x', 'v': 1}, {'k': 'y', 'v': 2}], 'word': "it's",
    'obj': Obj(word='hey', inner=Obj(word='deep'), n=3), 'd': {'e': {'f': 'g'}},
    'text': 'one\ntwo', 'strs': ['p', 'q'], 'num': 4.5,
    'lam': lambda: '{{name}}!', 'wrap': lambda raw: '<' + raw + '>',
}

CASES = [
    ('plain {{name}}', "plain 'a b'"),
    ('{{{name}}} {{& name}}', 'a b a b'),
    # a missing name is empty text, which is escaped like any other
    ('{{zero}}|{{none}}|{{missing}}|{{num}}', "0|None|''|4.5"),
    ('{{#flag}}yes{{/flag}}{{#no}}no{{/no}}{{^no}}not{{/no}}{{^zero}}z{{/zero}}', 'yesnotz'),
    ('{{#items}}{{k}}={{v}};{{/items}}', 'x=1;y=2;'),
    ('{{#strs}}[{{.}}]{{/strs}}', '[p][q]'),
    ('{{obj.inner.word}} {{obj.shout}} {{#obj}}{{word}}{{n}}{{name}}{{/obj}}',
     "deep HEY hey3'a b'"),
    ('{{d.e.f}}{{d.x.f}}{{#d.e}}{{f}}{{/d.e}}', "g''g"),
    ('{{#name}}[{{.}}]{{/name}}', "['a b']"),
    ('{{^empty}}none{{/empty}}{{#empty}}x{{/empty}}', 'none'),
    ('a\n  {{#flag}}\n  in\n  {{/flag}}\nb\n', 'a\n  in\nb\n'),
    ('a {{#flag}}x{{/flag}} b\n', 'a x b\n'),
    ('x\n{{! a comment\nover lines }}\ny', 'x\ny'),
    ('  {{name}}\n', "  'a b'\n"),
    ('{{lam}}', "''\"'\"'a b'\"'\"'!'"),
    ('{{#wrap}}{{name}}{{/wrap}}', "<'a b'>"),
    ('{{=<% %>=}}<% name %> {{name}}<%={{ }}=%> {{name}}', "'a b' {{name}} 'a b'"),
    ('{{text}}', "'one\ntwo'"),
    ('{{word}}', "'it'\"'\"'s'"),
]


@pytest.mark.parametrize('template,expected', CASES)
def test_renders_as_pystache_does(template, expected):
    assert mustache.render(template, CTX, bash_escape) == expected


@pytest.mark.parametrize('template,problem', [
    ('{{#a}}x', 'never closed'), ('{{#a}}x{{/b}}', 'does not close'), ('{{/a}}', 'any section'),
    ('{{=<%=}}', 'delimiter')])
def test_bad_templates_are_refused(template, problem):
    with pytest.raises(mustache.TemplateError, match=problem):
        mustache.parse(template)


def test_partials_are_inserted_as_given_and_indented_when_standalone():
    tree = mustache.parse('a\n  {{> lib}}\nb {{>lib}} c\n{{#x}}{{> other}}{{/x}}')
    assert mustache.partial_names(tree) == ['lib', 'other']
    text = mustache.Renderer(bash_escape).render(
        tree, {'x': True}, {'lib': 'f() {\n  {{not a tag}}\n}\n', 'other': ''})
    assert text == 'a\n  f() {\n    {{not a tag}}\n  }\nb f() {\n  {{not a tag}}\n}\n c\n'
    with pytest.raises(mustache.TemplateError, match=r'\{\{>other\}\}.*may include are lib'):
        mustache.Renderer(bash_escape).render(tree, {'x': True}, {'lib': ''})


def test_generator_refuses_a_partial_psij_does_not_write(tmp_path):
    tpl = tmp_path / 't.mustache'
    tpl.write_text('{{> batch_lib}}\n{{> site_lib}}\n')
    with pytest.raises(mustache.TemplateError, match="site_lib; .* only psij-python's batch_lib"):
        TemplatedScriptGenerator(JobExecutorConfig(), tpl)


def test_psij_python_partials_for_a_job_with_and_without_staging(tmp_path):
    tpl = tmp_path / 't.mustache'
    tpl.write_text('{{> batch_lib}}\n{{> stagein}}\nrun\n_PSIJ_JOB_EC=$?\n{{> stageout}}\n'
                   '{{> cleanup}}\n')
    gen = TemplatedScriptGenerator(JobExecutorConfig(), tpl)
    assert gen.staged_fields == ['stage_in', 'stage_out', 'cleanup']
    ctx = {'psij': {'launch_command': ['/bin/true'], 'script_dir': '/x'}}
    out = io.StringIO()
    gen.generate_submit_script(Job(JobSpec('/bin/true')), ctx, out)
    assert 'stage' not in out.getvalue().replace('_psij_update_status', '')
    assert out.getvalue().endswith('run\n_PSIJ_JOB_EC=$?\n')
    out = io.StringIO()
    gen.generate_submit_script(Job(JobSpec('/bin/true', stage_in={StageIn('/a b', 'c')},
                                           cleanup={'c'})), ctx, out)
    text = out.getvalue()
    assert "_psij_stage_in copy '/a b' c" in text and '_psij_cleanups\n' in text
    assert text.index('_psij_stage_in copy') < text.index('\nrun\n') \
        < text.rindex('_psij_stage_outs ||')


def test_walltime_to_minutes():
    assert walltime_to_minutes(timedelta(hours=1, minutes=1, seconds=59)) == 61
    assert [walltime_to_minutes(x) for x in (5, '01:02:03', '01:02', '7')] == [5, 62, 62, 7]
    with pytest.raises(ValueError):
        walltime_to_minutes('a:b')


def _job(**kw):
    attrs = {'slurm.qos': 'debug', 'pbs.l': 'x=1', 'bare': 'v'}
    spec = JobSpec('/bin/echo', ['a b', "it's", '$HOME'], directory=Path('/tmp/d d'),
                   environment={'FOO': 'x y', 'BAR': '$(id)'}, stdout_path=Path('out.txt'),
                   resources=ResourceSpecV1(node_count=2, processes_per_node=2, memory=2 ** 30),
                   attributes=JobAttributes(duration=timedelta(minutes=90), queue_name='q',
                                            account='acc', custom_attributes=attrs), **kw)
    return Job(spec), attrs


def _context(job):
    return {'job': job, 'custom_attributes': {}, 'formatted_job_duration': '1:30:00',
            'psij': {'launch_command': ['/bin/echo', 'a b'], 'script_dir': '/w'}}


def test_template_context_is_psij_pythons():
    job, attrs = _job()
    attrs['slurm.comment'] = 'added later'  # the caller's dict is the spec's (item 4)
    ctx = template_context(job, _context(job))
    assert ctx['custom_attributes'] == {
        'slurm': [{'key': 'qos', 'value': 'debug'}, {'key': 'comment', 'value': 'added later'}],
        'pbs': [{'key': 'l', 'value': 'x=1'}], 'bare': 'v'}
    assert ctx['env'] == [{'name': 'FOO', 'value': 'x y'}, {'name': 'BAR', 'value': '$(id)'}]
    assert ctx['psij']['lib']['walltime_to_minutes'] is walltime_to_minutes
    cmd = ctx['psij']['launch_command']
    assert cmd[:2] == ['/bin/sh', '-c'] and cmd[-3:] == ['--', '/bin/echo', 'a b']
    assert cmd[4:7] == ['', 'out.txt', '']  # stdin, stdout, stderr


def test_values_that_would_break_out_of_a_directive_are_refused(tmp_path):
    tpl = tmp_path / 't.mustache'
    tpl.write_text('#SBATCH --job-name="{{job.spec.name}}"\necho {{job.spec.name}}\n')
    gen = TemplatedScriptGenerator(JobExecutorConfig(), tpl)
    for bad in ('x\nrm -rf ~', 'a" --uid=0 "', 'back\\slash', 'cr\r'):
        job = Job(JobSpec('/bin/true', name=bad))
        with pytest.raises(InvalidJobException, match='cannot be written into the line'):
            gen.generate_submit_script(job, _context(job), io.StringIO())
    out = io.StringIO()
    tpl.write_text('echo {{job.spec.name}}\n')  # in shell code a quoted word is safe
    job = Job(JobSpec('/bin/true', name='x\nrm -rf ~'))
    TemplatedScriptGenerator(JobExecutorConfig(), tpl).generate_submit_script(
        job, _context(job), out)
    assert out.getvalue() == "echo 'x\nrm -rf ~'\n"


# -- against pystache itself --------------------------------------------------------------------

def _pystache():
    try:
        import pystache
        return pystache
    except ImportError:
        pass
    venv = os.environ.get('PSIJ_PYTHON_VENV', '/tmp/psijpy-venv')
    for site in glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages')):
        if os.path.isdir(os.path.join(site, 'pystache')):
            sys.path.append(site)
            try:
                import pystache
                return pystache
            finally:
                sys.path.remove(site)
    pytest.skip('pystache is neither installed nor in psij-python\'s venv (%s): nothing to '
                'compare with' % venv)


def _psij_python_templates():
    venv = os.environ.get('PSIJ_PYTHON_VENV', '/tmp/psijpy-venv')
    return sorted(glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages', 'psij',
                                         'executors', 'batch', '*', '*.mustache')))


@pytest.mark.parametrize('template,expected', CASES)
def test_same_as_pystache_on_the_cases(template, expected):
    pystache = _pystache()
    assert pystache.Renderer(escape=bash_escape).render(template, CTX) == expected


def test_same_as_pystache_on_psij_pythons_templates():
    pystache = _pystache()
    templates = _psij_python_templates()
    if not templates:
        pytest.skip('psij-python\'s templates are not installed')
    jobs = [_job()[0], _job(inherit_environment=False)[0], Job(JobSpec('/bin/true'))]
    for path in templates:
        text = Path(path).read_text()
        for job in jobs:
            ctx = template_context(job, _context(job))
            ours = mustache.render(text, ctx, bash_escape)
            theirs = pystache.Renderer(escape=bash_escape).render(pystache.parse(text), ctx)
            assert ours == theirs, path
            assert '#SBATCH' in ours or '#PBS' in ours or '#BSUB' in ours or '#COBALT' in ours
