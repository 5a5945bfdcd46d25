"""
Hostile input: the strings of :mod:`psij.conformance.hostile_corpus` in every field of a job.

Arguments and environment values must reach the job byte-exact; paths (directory, stdio,
pre/post-launch) must work exactly; a value the executor cannot pass safely must be refused at
submit with `InvalidJobException` naming the field. Job names are sanitised (always accepted);
queues, accounts, reservations and custom attributes are passed unchanged or refused. Never a
different value, never a shell line run (the corpus's payloads would create a file named
``psij-hostile-pwned``), never an extra scheduler directive.

Many strings share one job (many arguments in one job, many variables in one job, a path made
of many corpus strings as its components), and the jobs of a check run side by side, so the
whole class runs a handful of jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from psij import InvalidJobException, Job, JobSpec, JobState
from psij.conformance import capabilities as cap
from psij.conformance import hostile_corpus as corpus
from psij.conformance.base import KitBase
from psij.conformance.harness import ARGS_SCRIPT, Kit, env_dump_script, read_nul_list

PWNED = 'psij-hostile-pwned'
"""The file every shell payload of the corpus would create in the job's directory."""

# limits per job: far below Linux's 2 MiB for a command line and its environment
_ARG_BYTES, _ARG_ITEMS = 300_000, 600
_PATH_BYTES = 900  # one path; PATH_MAX is 4096

# the nastiest strings, for checks that need one job per string
NASTY_NAMES: List[str] = ['a\n#SBATCH --wrap="touch %s"\n#PBS -N x\n#BSUB -J x\n#$ -N x\n'
                          '#flux: -N 9' % PWNED, 'x\ry\r\n', '$(touch %s)`touch %s`' % (PWNED,
                                                                                       PWNED),
                          '%j%J%x%u%%', '-n \U0001f680 e\u0301 \u202e', 'x' * 10000]

SCHEDULER_FIELDS = ('JobAttributes.queue_name', 'JobAttributes.account',
                    'JobAttributes.reservation_id', 'custom attribute value',
                    'custom attribute name')


def _accepted_or_refused(kit: Kit, jobs: Sequence[Tuple[Job, str]]) -> List[Tuple[Job, str]]:
    """Submits each (job, field); a refusal must be an InvalidJobException naming the field.
    Returns the submitted ones."""
    submitted = []
    for job, field in jobs:
        try:
            kit.submit(job)
        except InvalidJobException as ex:
            short = _FIELD_WORDS.get(field, field)
            assert short in str(ex), ('submit() refused a %s with a message that does not name '
                                      'the field: %s' % (field, ex))
            assert job.status.state is JobState.NEW
            continue
        submitted.append((job, field))
    return submitted


def _no_pwned(root: Path) -> None:
    found = [str(p) for p in root.rglob(PWNED)]
    assert not found, 'a hostile string ran as shell code: %s exists' % found


def _mkdirs(base: Path, parts: Sequence[str]) -> Path:
    p = base
    for part in parts:
        p = p / part
    p.mkdir(parents=True, exist_ok=True)
    return p


def _path_groups(strings: List[str]) -> List[List[str]]:
    """`strings` in groups whose joined path stays under `_PATH_BYTES`."""
    groups = corpus.chunks(strings, _PATH_BYTES, 10_000)
    return groups


class HostileInputChecks(KitBase):
    """The hostile-string corpus in arguments, environment, paths, names and attributes."""

    def test_hostile_arguments(self, kit: Kit) -> None:
        """Every corpus string is an argument that reaches the program byte-exact (or the
        job is refused at submit naming ``arguments``)."""
        groups = corpus.chunks(corpus.CORPUS, _ARG_BYTES, _ARG_ITEMS)
        runs = []
        for group in groups:
            out = kit.unique('args')
            runs.append((Job(kit.sh_spec(ARGS_SCRIPT, out, *group, stderr_path=out.with_suffix(
                '.err'))), 'JobSpec.arguments', out, group))
        submitted = _accepted_or_refused(kit, [(r[0], r[1]) for r in runs])
        bad = []
        for job, _, out, group in runs:
            if (job, 'JobSpec.arguments') not in submitted:
                continue
            st = kit.wait(job)
            assert st.state is JobState.COMPLETED, (st, _tail(out.with_suffix('.err')))
            got = read_nul_list(out)
            if got != group:
                bad.extend(_differences(group, got))
        _no_pwned(kit.dir)
        assert not bad, '%d of %d arguments changed:\n%s' % (len(bad), len(corpus.CORPUS),
                                                             '\n'.join(bad[:40]))

    def test_hostile_environment(self, kit: Kit) -> None:
        """Every corpus string is an environment value that reaches the job byte-exact, its
        ``${NAME}`` references substituted (or the job is refused naming ``environment``)."""
        ref_name, ref_value = 'PSIJ_HOSTILE_REF', 'r"e\'f $x\n'
        groups = corpus.chunks(corpus.CORPUS, _ARG_BYTES // 2, _ARG_ITEMS)
        runs = []
        n = 0
        for group in groups:
            env = {ref_name: ref_value}
            for value in group:
                env['PSIJ_H_%04d' % n] = value
                n += 1
            out = kit.unique('env')
            names = list(env) + ['HOME']
            job = Job(kit.sh_spec(env_dump_script(names), out, environment=dict(env),
                                  stderr_path=out.with_suffix('.err')))
            runs.append((job, out, env))
        submitted = _accepted_or_refused(kit, [(r[0], 'JobSpec.environment') for r in runs])
        bad = []
        for job, out, env in runs:
            if (job, 'JobSpec.environment') not in submitted:
                continue
            st = kit.wait(job)
            assert st.state is JobState.COMPLETED, (st, _tail(out.with_suffix('.err')))
            got: Dict[str, str] = {}
            for item in read_nul_list(out):
                k, eq, v = item.partition('=')
                if eq:
                    got[k] = v
            known = {ref_name: ref_value}
            if 'HOME' in got:
                known['HOME'] = got['HOME']
            expected = {k: corpus.substituted(v, known) for k, v in env.items()}
            bad.extend(_differences(list(expected.values()),
                                    [got.get(k, '<unset>') for k in expected]))
        _no_pwned(kit.dir)
        assert not bad, '%d of %d values changed:\n%s' % (len(bad), n, '\n'.join(bad[:40]))

    def test_hostile_paths(self, kit: Kit) -> None:
        """Directories, stdin/stdout/stderr and pre/post-launch scripts (unless declared
        unsupported) whose paths are made of corpus strings work exactly (or the job is
        refused naming the field)."""
        groups = _path_groups(corpus.PATH_CORPUS)
        slots: Tuple[str, ...] = ('directory', 'stdin_path', 'stdout_path', 'stderr_path')
        if cap.PRE_POST_LAUNCH not in kit.unsupported:
            slots += ('pre_launch', 'post_launch')
        runs: List[Tuple[Job, str, Dict[str, Path]]] = []
        data = b'in \xc3\xa9\r\n%j $(x)\n'
        # job j gives slot i the group j + i: every group goes through every slot, and the
        # jobs are as many as the groups
        for start in range(len(groups)):
            paths: Dict[str, Path] = {}
            rotated = [groups[(start + i) % len(groups)] for i in range(len(slots))]
            for slot, group in zip(slots, rotated, strict=False):
                base = kit.unique(slot)
                if slot == 'directory':
                    paths[slot] = _mkdirs(base, group)
                else:
                    paths[slot] = _mkdirs(base, group[:-1]) / group[-1]
            d = paths.get('directory') or _mkdirs(kit.unique('directory'), [])
            if 'stdin_path' in paths:
                paths['stdin_path'].write_bytes(data)
            for slot, marker in (('pre_launch', 'pre-ran'), ('post_launch', 'post-ran')):
                if slot in paths:
                    paths[slot].write_text(': > %s\n' % marker)
            script = 'cat; printf err >&2; : > job-ran'
            kwargs = {k: v for k, v in paths.items() if k != 'directory'}
            job = Job(kit.sh_spec(script, directory=d, **kwargs))
            runs.append((job, 'JobSpec', dict(paths, directory=d)))
        submitted = _accepted_or_refused(kit, [(r[0], r[1]) for r in runs])
        for job, _, paths in runs:
            if (job, 'JobSpec') not in submitted:
                continue
            st = kit.wait(job)
            assert st.state is JobState.COMPLETED, (st, paths)
            d = paths['directory']
            assert (d / 'job-ran').exists(), 'the job did not run in %r' % str(d)
            if 'stdin_path' in paths and 'stdout_path' in paths:
                assert paths['stdout_path'].read_bytes() == data, paths['stdout_path']
            if 'stderr_path' in paths:
                assert paths['stderr_path'].read_bytes() == b'err', paths['stderr_path']
            for slot, marker in (('pre_launch', 'pre-ran'), ('post_launch', 'post-ran')):
                if slot in paths:
                    assert (d / marker).exists(), '%s %r did not run' % (slot, str(paths[slot]))
        _no_pwned(kit.dir)

    def test_hostile_job_names(self, kit: Kit) -> None:
        """Job names are sanitised: any corpus string is accepted as a name; the submit script
        (where the executor has one) changes only on its name line; the nastiest names run."""
        script_for = _script_function(kit)
        if script_for is not None:
            problems = _script_problems(kit, script_for, 'JobSpec.name', corpus.CORPUS,
                                        _set_name, refusals_allowed=False)
            assert not problems, '\n'.join(problems[:40])
        jobs = []
        for name in NASTY_NAMES:
            spec = kit.sh_spec('exit 0')
            spec.name = name
            jobs.append(kit.submit(spec))
        for job in jobs:
            st = kit.wait(job)
            assert st.state is JobState.COMPLETED, (job.spec.name if job.spec else None, st)
        _no_pwned(kit.dir)

    def test_hostile_scheduler_fields(self, kit: Kit) -> None:
        """Queue, account, reservation and custom attributes holding corpus strings are
        passed unchanged or refused with InvalidJobException naming the field; nothing that
        was not asked for runs."""
        script_for = _script_function(kit)
        if script_for is not None:
            problems: List[str] = []
            for field in SCHEDULER_FIELDS:
                problems += _script_problems(kit, script_for, field, corpus.CORPUS,
                                             _setter(kit, field), refusals_allowed=True)
            assert not problems, '%d problems:\n%s' % (len(problems), '\n'.join(problems[:40]))
            return
        # no submit script to look at: submit the nastiest strings in each field
        jobs = []
        for field in SCHEDULER_FIELDS:
            for s in NASTY_NAMES:
                spec = kit.sh_spec('exit 0')
                _setter(kit, field)(spec, s)
                jobs.append((Job(spec), field))
        for job, _ in _accepted_or_refused(kit, jobs):
            kit.wait(job)  # accepted: it ends like any job (the scheduler may fail it)
        _no_pwned(kit.dir)


# -- helpers --------------------------------------------------------------------------------------

def _differences(expected: List[str], got: List[str]) -> List[str]:
    out = []
    if len(got) != len(expected):
        out.append('expected %d strings, the job received %d' % (len(expected), len(got)))
    for e, g in zip(expected, got, strict=False):
        if e != g:
            out.append('%s became %s' % (corpus.describe(e), corpus.describe(g)))
    return out


def _tail(path: Path) -> str:
    try:
        return path.read_bytes()[-2000:].decode('utf-8', 'replace')
    except OSError as ex:
        return '(no standard error: %s)' % ex


def _script_function(kit: Kit) -> Optional[Callable[[Job], str]]:
    f = getattr(kit.executor, 'script_for', None)
    return f if callable(f) else None


def _set_name(spec: JobSpec, value: str) -> None:
    spec.name = value


def _custom_prefix(kit: Kit) -> str:
    return kit.executor.name


def _setter(kit: Kit, field: str) -> Callable[[JobSpec, str], None]:
    prefix = _custom_prefix(kit)

    def setter(spec: JobSpec, value: str) -> None:
        attrs = spec.attributes
        if field == 'JobAttributes.queue_name':
            attrs.queue_name = value
        elif field == 'JobAttributes.account':
            attrs.account = value
        elif field == 'JobAttributes.reservation_id':
            attrs.reservation_id = value
        elif field == 'custom attribute value':
            attrs.set_custom_attribute('%s.comment' % prefix, value)
        else:
            attrs.set_custom_attribute('%s.%s' % (prefix, value), 'psijvalue')
    return setter


_FIELD_WORDS = {'JobAttributes.queue_name': 'queue_name', 'JobAttributes.account': 'account',
                'JobAttributes.reservation_id': 'reservation_id',
                'custom attribute value': 'custom_attributes',
                'custom attribute name': 'custom_attributes', 'JobSpec.name': 'name'}


def _script_lines(script_for: Callable[[Job], str], spec: JobSpec) -> List[str]:
    return script_for(Job(spec)).split('\n')


def _script_problems(kit: Kit, script_for: Callable[[Job], str], field: str,
                     values: Sequence[str], setter: Callable[[JobSpec, str], None],
                     refusals_allowed: bool) -> List[str]:
    """
    What is wrong with the scripts the executor writes for jobs whose `field` holds each of
    `values`: compared with the scripts for two benign values, a hostile value may change
    only the lines the benign values change (its own directive, the job's random token), and
    an accepted value must appear unchanged in the script. No script may hold a carriage
    return (sbatch refuses "DOS line breaks"), and a refusal must name the field.
    """
    def spec_with(value: str) -> JobSpec:
        spec = kit.sh_spec('exit 0')
        setter(spec, value)
        return spec

    try:
        base1 = _script_lines(script_for, spec_with('psijbenignA'))
        base2 = _script_lines(script_for, spec_with('psijbenignB'))
    except InvalidJobException as ex:
        if refusals_allowed:
            return []  # the executor refuses this field altogether: nothing to compare
        return ['a benign %s was refused: %s' % (field, ex)]
    word = _FIELD_WORDS[field]
    if refusals_allowed:
        text = '\n'.join(base1)
        shown = 'psijbenignA'
        if field == 'custom attribute name':
            shown = 'psijvalue'
        if shown not in text:
            # the field was accepted (not refused as one the executor does not pass) and
            # then dropped: say so once, not as a quoting problem of every corpus string
            declared = getattr(type(kit.executor), 'honoured_fields', None)
            why = ('is declared honoured (honoured_fields)' if declared and word in declared
                   else 'is accepted')
            return ['%s %s but never appears in the script: a benign value (%r) is not in '
                    'it; write it (get_directives) or leave it out of honoured_fields, so '
                    'that a job setting it is refused' % (field, why, shown)]
    changing = {i for i, (a, b) in enumerate(zip(base1, base2, strict=False)) if a != b}
    problems = []
    for value in values:
        try:
            lines = _script_lines(script_for, spec_with(value))
        except InvalidJobException as ex:
            if not refusals_allowed:
                problems.append('%s %s was refused (it must be sanitised): %s'
                                % (field, corpus.describe(value), ex))
            elif word not in str(ex):
                problems.append('%s %s was refused without naming %s: %s'
                                % (field, corpus.describe(value), word, ex))
            continue
        what = '%s %s' % (field, corpus.describe(value))
        if any('\r' in line for line in lines):
            problems.append('%s: the script holds a carriage return' % what)
        if len(lines) != len(base1):
            problems.append('%s: the script has %d lines instead of %d (a value became a line '
                            'of its own)' % (what, len(lines), len(base1)))
            continue
        moved = [i for i, (a, b) in enumerate(zip(base1, lines, strict=True))
                 if a != b and i not in changing]
        if moved:
            problems.append('%s changed script lines it does not own: %r' % (
                what, [lines[i][:120] for i in moved[:3]]))
        # a reservation may be named by its queue (PBS: R123.server runs in queue R123)
        shown = value.split('.')[0] if field == 'JobAttributes.reservation_id' else value
        if refusals_allowed and shown not in '\n'.join(lines):
            problems.append('%s was accepted but does not appear unchanged in the script'
                            % what)
    return problems


__all__ = ['HostileInputChecks', 'NASTY_NAMES', 'PWNED']
