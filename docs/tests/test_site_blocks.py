"""
Every code block the built site shows is accounted for: a block of a Markdown page or README
(run, or marked ``not run`` in its source: test_examples.py), its output, a file shown whole
(``literalinclude``), or a block of a docstring, listed in `DOCSTRING_BLOCKS` by its first
line, where it is run here or given the reason it cannot be.
"""

from __future__ import annotations

import html
import os
import pathlib
import re
import subprocess
import sys
from typing import Dict, List, Optional, Set

import pytest
from code_blocks import ROOT, blocks, sources

HTML = pathlib.Path(os.environ.get('PSIJ_DOCS_HTML', 'reports/docs/html')).resolve()
# first line of a docstring's code block -> None (run it) or why it cannot run
DOCSTRING_BLOCKS: Dict[str, Optional[str]] = {
    'from psij.descriptor import Descriptor': None,  # a plugin module's hook implementation
    'from psij.conformance import ConformanceSuite': None,
    '[project.entry-points.psij]': 'a fragment of a pyproject.toml',
    "Descriptor(name='mine', version='1.0', cls='my_pkg.MyExecutor',":
        'a fragment (an argument list)',
    '{"format": 1, "kit": "psij.conformance", "psij_core_version": "0.1.0",':
        'a report, abbreviated (docs/sites.md prints a real one)',
    'def missing_capabilities(executor: JobExecutor) -> Dict[str, str]:': 'a signature',
    'async for status in job.status_updates():':
        'a fragment; docs/examples/async_jobs.py runs the same',
}
_PRE = re.compile(r'<pre>(.*?)</pre>', re.S)
_INCLUDE = re.compile(r'^```\{literalinclude\}\s+(\S+)', re.M)


def _norm(text: str) -> str:
    return '\n'.join(line.rstrip() for line in text.strip('\n').split('\n'))


def _shown(page: pathlib.Path) -> List[str]:
    return [_norm(html.unescape(re.sub(r'<[^>]+>', '', m))) for m in
            _PRE.findall(page.read_text())]


def _known() -> Set[str]:
    known = set()
    for path in sources():
        for b in blocks(path):
            known.add(_norm(b.code))
            if b.output is not None:
                known.add(_norm(b.output))
        for include in _INCLUDE.findall(path.read_text()):
            known.add(_norm((path.parent / include).read_text()))
    return known


@pytest.fixture(scope='module')
def site() -> pathlib.Path:
    assert (HTML / 'index.html').exists(), 'no site built at %s (nox -s docs builds it)' % HTML
    return HTML


def _docstring_blocks(site: pathlib.Path) -> Dict[str, List[str]]:
    """The site's code blocks that no Markdown source holds, by page."""
    known = _known()
    out: Dict[str, List[str]] = {}
    for page in sorted(site.rglob('*.html')):
        for text in _shown(page):
            if text not in known:
                out.setdefault(str(page.relative_to(site)), []).append(text)
    return out


def test_every_block_is_accounted_for(site: pathlib.Path) -> None:
    """A block from a docstring must be listed in DOCSTRING_BLOCKS (run, or why not)."""
    unlisted = ['%s: %s' % (page, text.split('\n')[0])
                for page, texts in _docstring_blocks(site).items() for text in texts
                if text.split('\n')[0] not in DOCSTRING_BLOCKS]
    assert not unlisted, 'code blocks with no source that runs or marks them:\n' + \
        '\n'.join(unlisted)


def test_docstring_blocks_run(site: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The docstrings' blocks listed as runnable run (they are whole Python modules)."""
    ran = 0
    failures = []
    for page, texts in _docstring_blocks(site).items():
        for text in texts:
            first = text.split('\n')[0]
            if first not in DOCSTRING_BLOCKS or DOCSTRING_BLOCKS[first] is not None:
                continue
            r = subprocess.run([sys.executable, '-c', text], cwd=tmp_path, text=True,
                               capture_output=True, timeout=60)
            ran += 1
            if r.returncode != 0:
                failures.append('%s: %s\n%s' % (page, first, r.stderr[-2000:]))
    assert not failures, '\n\n'.join(failures)
    assert ran >= 3, 'only %d docstring blocks ran: were they found?' % ran


def test_markdown_blocks_are_on_the_site(site: pathlib.Path) -> None:
    """The comparison above works: the guide's first example is found on its page."""
    first = blocks(ROOT / 'docs' / 'guide' / 'first-job.md')[0]
    assert _norm(first.code) in _shown(site / 'guide' / 'first-job.html')
