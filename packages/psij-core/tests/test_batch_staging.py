"""Staging in batch jobs (psij.executors.batch.staging_script), run by real bash through the
fake scheduler of test_batch_framework: every mode, flag and awkward path, and nothing a user
path holds ever runs as shell code."""

import os

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobSpec,
    JobState,
    StageIn,
    StageOut,
    StageOutFlags,
    StagingMode,
)
from test_batch_framework import make_executor, run, sched  # noqa: F401 (fixture)

S = JobState
EVERY_STATE = [S.QUEUED, S.STAGE_IN, S.ACTIVE, S.STAGE_OUT, S.CLEANUP]
# names that break careless quoting; "$(touch pwned)" and "`touch pwned`" would create it
AWKWARD = ['a b', "it's", 'say "hi"', '$HOME', '$(touch pwned)', '`touch pwned`',
           'new\nline', 'gr\u00fc\u00dfe', '*', '-n', 'semi;colon', 'q?x#y', 'tab\there']


def sh(script, directory, **kw):
    return JobSpec('/bin/sh', ['-c', script], directory=directory, **kw)


@pytest.fixture
def d(tmp_path):
    work = tmp_path / 'job'
    work.mkdir()
    return work


@pytest.mark.parametrize('name', AWKWARD)
def test_awkward_paths_are_data(sched, tmp_path, d, name):  # noqa: F811
    src = tmp_path / ('src ' + name)
    src.write_text('payload\n')
    dest = tmp_path / ('dest ' + name)
    spec = JobSpec('/bin/sh', ['-c', 'cat "sub dir/$1" > "$1.out"; echo x > "$1.tmp"', 'sh',
                               name],
                   directory=d, stage_in={StageIn(src, 'sub dir/' + name)},
                   stage_out={StageOut(name + '.out', dest)}, cleanup={name + '.tmp'})
    job, st, states = run(make_executor(tmp_path), spec)
    assert st.state is S.COMPLETED, st
    assert dest.read_text() == 'payload\n'
    assert not (d / (name + '.tmp')).exists()
    assert states == EVERY_STATE + [S.COMPLETED]
    for where in (tmp_path, d, d / 'sub dir', sched, tmp_path / 'work'):
        assert not (where / 'pwned').exists(), 'a path ran as shell code'


def test_modes_copy_link_move_and_directories(sched, tmp_path, d):  # noqa: F811
    a, b, tree = tmp_path / 'a.txt', tmp_path / 'b.txt', tmp_path / 'tree'
    a.write_text('A')
    b.write_text('B')
    (tree / 'inner').mkdir(parents=True)
    (tree / 'inner' / 'f').write_text('F')
    out_tree, moved = tmp_path / 'out-tree', tmp_path / 'moved.txt'
    job, st, _ = run(make_executor(tmp_path), sh(
        'test -L linked && cat linked copied/inner/f > result && mkdir -p res/x && '
        'echo R > res/x/r', d,
        stage_in={StageIn(a, 'linked', StagingMode.LINK), StageIn(b, 'moved-in', StagingMode.MOVE),
                  StageIn(tree, 'copied')},
        stage_out={StageOut('res', out_tree), StageOut('result', moved, mode=StagingMode.MOVE)}))
    assert st.state is S.COMPLETED, st
    assert os.readlink(d / 'linked') == str(a)
    assert not b.exists() and (d / 'moved-in').read_text() == 'B'
    assert moved.read_text() == 'AF' and not (d / 'result').exists()
    assert (out_tree / 'x' / 'r').read_text() == 'R\n'


def test_missing_stage_in_fails_without_running(sched, tmp_path, d):  # noqa: F811
    marker = tmp_path / 'ran'
    job, st, _ = run(make_executor(tmp_path), sh(
        ': > "%s"' % marker, d, stage_in={StageIn(tmp_path / 'missing', 'in.txt')},
        cleanup={'in.txt'}))
    assert st.state is S.FAILED and st.exit_code == 1, st
    assert 'stage-in of %s failed' % (tmp_path / 'missing') in (st.message or '')
    assert not marker.exists()


@pytest.mark.parametrize('code', [0, 3])
def test_stage_out_flags_select_by_outcome(sched, tmp_path, d, code):  # noqa: F811
    ok, err, anyway = tmp_path / 'ok', tmp_path / 'err', tmp_path / 'anyway'
    job, st, _ = run(make_executor(tmp_path), sh(
        'echo o > o.txt; exit %d' % code, d,
        stage_out={StageOut('o.txt', ok, StageOutFlags.ON_SUCCESS),
                   StageOut('o.txt', err, StageOutFlags.ON_ERROR),
                   StageOut('o.txt', anyway, StageOutFlags.IF_PRESENT),
                   StageOut('absent', tmp_path / 'never', StageOutFlags.IF_PRESENT)}))
    assert st.exit_code == code
    assert ok.exists() is (code == 0) and err.exists() is (code != 0)
    assert anyway.read_text() == 'o\n' and not (tmp_path / 'never').exists()


def test_missing_stage_out_fails_a_completed_job(sched, tmp_path, d):  # noqa: F811
    job, st, _ = run(make_executor(tmp_path), sh(
        'exit 0', d, stage_out={StageOut('absent.txt', tmp_path / 'x')}))
    assert st.state is S.FAILED and st.exit_code == 1, st
    assert 'stage-out of absent.txt failed' in (st.message or '')


@pytest.mark.parametrize('code,flags,removed', [
    (0, StageOutFlags.ON_SUCCESS, True), (0, StageOutFlags.ON_ERROR, False),
    (4, StageOutFlags.ON_ERROR, True), (4, StageOutFlags.NONE, False)])
def test_cleanup_flags(sched, tmp_path, d, code, flags, removed):  # noqa: F811
    job, st, states = run(make_executor(tmp_path), sh(
        'mkdir -p t/u && echo > t/u/f; exit %d' % code, d, cleanup={'t'}, cleanup_flags=flags))
    assert st.exit_code == code
    assert (d / 't').exists() is not removed
    assert states == EVERY_STATE + [st.state]


@pytest.mark.parametrize('url', ['gsiftp://host/data', 'file://otherhost/data',
                                 'https://example.org/x', 'file:relative/path'])
def test_unsupported_scheme_refused_at_submit(sched, tmp_path, url):  # noqa: F811
    job = Job(JobSpec('/bin/true', stage_in={StageIn(url, 'x')}))
    with pytest.raises(InvalidJobException, match=r'JobSpec\.stage_in\[.*\]\.source'):
        make_executor(tmp_path).submit(job)
    assert job.status.state is S.NEW and job.executor is None
    assert not [n for n in os.listdir(sched) if n.endswith('.state')]
    job = Job(JobSpec('/bin/true', stage_out={StageOut('x', url)}))
    with pytest.raises(InvalidJobException, match=r'JobSpec\.stage_out\[.*\]\.target'):
        make_executor(tmp_path).submit(job)


def test_link_stage_out_of_a_relative_source_points_at_its_absolute_path(
        sched, tmp_path, d):  # noqa: F811
    # psij-python's public test: a relative source linked into the job's own directory made
    # "out.txt -> out.txt", a link to itself, and the job still COMPLETED
    for target in (tmp_path / 'linked.txt', d / 'out.txt'):
        job, st, _ = run(make_executor(tmp_path), sh(
            'echo data > out.txt', d,
            stage_out={StageOut('out.txt', target, mode=StagingMode.LINK)}))
        if target == d / 'out.txt':
            # staging a file onto itself by a link leaves nothing readable: a failed stage-out
            assert st.state is S.FAILED and st.exit_code == 1, st
            assert 'stage-out of out.txt' in (st.message or '')
            continue
        assert st.state is S.COMPLETED, st
        assert os.readlink(target) == str(d / 'out.txt')
        assert target.read_text() == 'data\n'


def test_link_stage_in_points_at_the_absolute_source(sched, tmp_path, d):  # noqa: F811
    src = tmp_path / 'rel-src.txt'
    src.write_text('S')
    job, st, _ = run(make_executor(tmp_path), sh(
        'cat in.txt > seen', d, stage_in={StageIn(src, 'in.txt', StagingMode.LINK)}))
    assert st.state is S.COMPLETED, st
    assert os.path.isabs(os.readlink(d / 'in.txt')) and (d / 'seen').read_text() == 'S'


@pytest.mark.parametrize('state, how', [(S.COMPLETED, '_psij_finish 0'),
                                        (S.FAILED, '_psij_finish 1'),
                                        (S.CANCELED, '_psij_canceled'),
                                        (S.FAILED, '_psij_stage_in copy ./missing x')])
def test_the_shell_selects_by_the_outcome_flags_of_the_python_side(tmp_path, state, how):
    # The outcome the job-side shell selects stage-out and cleanup entries by must be the
    # flag psij._staging_rules gives for that final state: a number retyped in the shell
    # (or a flag's value changed in StageOutFlags alone) fails here.
    import re
    import subprocess

    from psij import _staging_rules as rules
    from psij.executors.batch import staging_script
    spec = JobSpec('/bin/true', stage_out={StageOut('x', tmp_path / 'y',
                                                    flags=StageOutFlags.ALWAYS)})
    text = '\n'.join(staging_script.stage_in_lines(spec))
    assert all(v.startswith('$_psij_ON_') for v in re.findall(r'_psij_outcome=(\S+)', text))
    probe = '\n'.join([text, '_psij_stage_outs() { :; }',
                       '_psij_cleanups() { echo "outcome=$_psij_outcome"; }',
                       '_psij_end() { exit 0; }', how])
    p = subprocess.run(['/bin/sh', '-c', probe], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert 'outcome=%d' % int(rules.outcome_flag(state)) in p.stdout.splitlines(), (p.stdout,
                                                                                   p.stderr)
