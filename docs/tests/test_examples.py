"""Every code block of the site's pages and of the READMEs runs (on the local executor, or on
the real scheduler its page is about: ``<!-- run on: NAME -->``) and prints the output the page
shows, or says in the page source why it cannot run here."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import List, Tuple

import pytest
from code_blocks import ROOT, RUNNABLE, SCHEDULERS, Block, blocks, matches, sources

TIMEOUT = 120


def _run(block: Block, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    # the interpreter's bin directory first, so that `psij` and `python3` are the ones this
    # interpreter has installed
    env = dict(os.environ, PATH='%s:%s' % (pathlib.Path(sys.executable).parent,
                                           os.environ.get('PATH', '')))
    if RUNNABLE[block.language] == 'python':
        return subprocess.run([sys.executable, '-c', block.code], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=TIMEOUT)
    return subprocess.run(['bash', '-c', block.code], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)


def _files_with_blocks() -> List[pathlib.Path]:
    return [p for p in sources() if blocks(p)]


@pytest.mark.parametrize('path', _files_with_blocks(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The file's blocks, in order, in one fresh directory."""
    problems = []
    for block in blocks(path):
        if block.scheduler is not None:
            if block.scheduler not in SCHEDULERS:
                problems.append('%s: "run on: %s": not a scheduler CI runs (%s)'
                                % (block.where, block.scheduler, ', '.join(SCHEDULERS)))
            continue  # test_scheduler_blocks runs it
        if block.not_run is not None:
            if not block.not_run.strip():
                problems.append('%s: "not run" without a reason' % block.where)
            continue
        if block.language not in RUNNABLE:
            problems.append('%s: a %r block cannot run here: mark it <!-- not run: REASON -->'
                            % (block.where, block.language or 'plain'))
            continue
        problems.extend(_check(block, tmp_path))
    assert not problems, '\n\n'.join(problems)


def _check(block: Block, cwd: pathlib.Path) -> List[str]:
    """Runs `block`; what is wrong with its run (nothing: an empty list)."""
    r = _run(block, cwd)
    shown = r.stdout + (r.stderr or '')
    if r.returncode != 0:
        return ['%s: exit code %d\n%s' % (block.where, r.returncode, shown[-3000:])]
    if block.output is not None and not matches(block.output, r.stdout):
        return ['%s: the page shows\n%s\nbut the block printed\n%s'
                % (block.where, block.output, shown[-3000:])]
    return []


def _scheduler_files() -> List[Tuple[str, pathlib.Path]]:
    return sorted({(b.scheduler, p) for p in sources() for b in blocks(p)
                   if b.scheduler in SCHEDULERS})


@pytest.mark.parametrize('scheduler, path', _scheduler_files(),
                         ids=['%s-%s' % (s, p.relative_to(ROOT)) for s, p in _scheduler_files()])
def test_scheduler_blocks(scheduler: str, path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The file's blocks marked ``run on: SCHEDULER``, in order, in one fresh directory,
    against the real scheduler: in the session that has it (PSIJ_DOCS_SCHEDULER names it)."""
    if os.environ.get('PSIJ_DOCS_SCHEDULER') != scheduler:
        pytest.skip('runs against a real %s, in nox -s "docs_examples(scheduler=%r)" (CI runs '
                    'it in the %s group)' % (scheduler, scheduler, scheduler))
    problems: List[str] = []
    for block in blocks(path):
        if block.scheduler == scheduler:
            problems.extend(_check(block, tmp_path))
    assert not problems, '\n\n'.join(problems)


def test_every_source_is_checked() -> None:
    """The collector sees the pages that hold examples (a broken fence parser would see
    nothing and pass)."""
    names = {str(p.relative_to(ROOT)) for p in _files_with_blocks()}
    assert {'README.md', 'docs/guide/first-job.md', 'docs/guide/command-line.md',
            'packages/psij-core/README.md', 'docs/writing-an-executor.md'} <= names
    first = blocks(ROOT / 'docs' / 'guide' / 'first-job.md')
    assert first[0].language == 'python' and first[0].output is not None
    # every scheduler CI runs has blocks that run on it
    assert {s for s, _ in _scheduler_files()} == set(SCHEDULERS)


@pytest.mark.parametrize('script', sorted((ROOT / 'docs' / 'examples').glob('*.py')),
                         ids=lambda p: p.name)
def test_example_programs(script: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The runnable programs the pages point to (docs/examples/) run to their end."""
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, text=True,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_output_matching() -> None:
    """The comparison the tests above rely on fails where it should."""
    assert matches('a ...\nb\n', 'a 123\nb\n')
    assert not matches('a ...\nb\n', 'a 123\nc\n')
    assert not matches('a\n', 'a\nb\n')
    assert not matches('x...y', 'xy z')
