"""
Finds the code blocks of the site's Markdown sources and of the READMEs, and how each is to be
checked.

A block is run unless the line before it (blank lines aside) is a comment ``<!-- not run: REASON
-->``, or ``<!-- run on: SCHEDULER -->`` (one of `SCHEDULERS`): such a block runs against that
real scheduler, in the CI session of that scheduler's group (``nox -s
"docs_examples(scheduler='slurm')"``), not on the local executor. A block right after a ``<!--
output -->`` comment is the output of the block before it: the run must print exactly those
lines, ``...`` in a line standing for any text. ``python`` blocks run with the test's
interpreter, ``sh`` blocks with bash (their standard error merged into their output); blocks of
other languages cannot run, so each needs its ``not run`` reason. The blocks of one file run in
order in one fresh directory, so a block may use what an earlier one wrote.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Iterator, List, Optional

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNNABLE = {'python': 'python', 'py': 'python', 'sh': 'sh', 'bash': 'sh', 'shell': 'sh',
            'console': 'sh'}
_FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$')
_NOT_RUN = re.compile(r'^\s*<!--\s*not run:\s*(.*?)\s*-->\s*$')
_RUN_ON = re.compile(r'^\s*<!--\s*run on:\s*(\S*)\s*-->\s*$')
SCHEDULERS = ('slurm', 'pbs', 'flux', 'sge')
"""The real schedulers CI runs, on which a block may be run (``<!-- run on: NAME -->``)."""
_OUTPUT = re.compile(r'^\s*<!--\s*output\s*-->\s*$')


@dataclasses.dataclass
class Block:
    """One fenced code block."""

    path: pathlib.Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    not_run: Optional[str] = None  # the reason given, if any
    scheduler: Optional[str] = None  # the real scheduler it runs on (run on: NAME), if any
    output: Optional[str] = None  # the output shown for it, if any

    @property
    def where(self) -> str:
        """``file:line`` for messages."""
        return '%s:%d' % (self.path.relative_to(ROOT), self.line)


def sources() -> List[pathlib.Path]:
    """The Markdown files whose blocks are checked: the site's pages and every README."""
    docs = [p for p in (ROOT / 'docs').rglob('*.md')
            if not {'_build', 'tests'} & set(p.relative_to(ROOT / 'docs').parts)]
    readmes = [ROOT / 'README.md', *ROOT.glob('packages/*/README.md'),
               *ROOT.glob('examples/*/README.md')]
    return sorted(docs) + sorted(readmes)


def _fences(lines: List[str]) -> Iterator[tuple[int, str, str, str]]:
    """(index of the opening line, language, text, marker comment before it or '')."""
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3)
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence)) and
                                      lines[j].strip().strip(fence[0]) == ''):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[i + 1:j]]
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = lines[k] if k >= 0 else ''
        yield i, info, '\n'.join(body) + '\n', marker
        i = j + 1


def blocks(path: pathlib.Path) -> List[Block]:
    """The code blocks of one file, outputs attached to the block they belong to."""
    out: List[Block] = []
    for i, info, text, marker in _fences(path.read_text().splitlines()):
        if info.startswith('{'):
            continue  # a MyST directive (a generated table, an include), not a code block
        if _OUTPUT.match(marker):
            if not out or out[-1].output is not None or out[-1].not_run is not None:
                raise ValueError('%s:%d: an output block must follow a block that runs'
                                 % (path, i + 1))
            out[-1].output = text
            continue
        m = _NOT_RUN.match(marker)
        on = _RUN_ON.match(marker)
        out.append(Block(path, i + 1, info.lower(), text, m.group(1) if m else None,
                         on.group(1) if on else None))
    return out


def matches(expected: str, actual: str) -> bool:
    """Whether `actual` is `expected` line for line, ``...`` matching any text in a line."""
    exp, act = expected.rstrip('\n').split('\n'), actual.rstrip('\n').split('\n')
    if len(exp) != len(act):
        return False
    for e, a in zip(exp, act, strict=True):
        pattern = '.*'.join(re.escape(part) for part in e.split('...'))
        if not re.fullmatch(pattern, a):
            return False
    return True


if __name__ == '__main__':
    for p in sources():
        for b in blocks(p):
            state = 'NOT RUN (%s)' % b.not_run if b.not_run is not None else \
                'on %s' % b.scheduler if b.scheduler else \
                ('run' if b.language in RUNNABLE else 'UNMARKED')
            first = b.code.strip().split('\n')[0][:60]
            print('%-50s %-8s %-10s %s' % (b.where, b.language, state[:40], first))
