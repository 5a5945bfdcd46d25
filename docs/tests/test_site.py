"""
The built site, looked at as a person would: headless Chromium renders the start page, the
Slurm page, an API page and the architecture page (the one with a diagram); each must show
its heading and the navigation, and its images must exist and be images. Screenshots go to
``$PSIJ_DOCS_SCREENSHOTS``. Every internal link of the site must lead to a page and anchor
that exist, and the API pages show no private names.

The site is read from ``$PSIJ_DOCS_HTML`` (``nox -s docs`` builds it there). Without Chromium
the rendering checks skip, unless ``PSIJ_REQUIRE_CHROMIUM=1`` (CI), when they fail.
"""

from __future__ import annotations

import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Set, Tuple

import pytest

HTML = pathlib.Path(os.environ.get('PSIJ_DOCS_HTML', 'reports/docs/html')).resolve()
SHOTS = pathlib.Path(os.environ.get('PSIJ_DOCS_SCREENSHOTS', 'reports/docs/screenshots'))
# page, the heading it must show
PAGES = [
    ('index.html', 'psij'),
    ('executors/slurm.html', 'Slurm (slurm)'),
    ('api/jobs.html', 'Jobs, specifications and states'),
    ('architecture.html', 'psij: how it is built'),
]
# the sections every page's navigation leads to, in one click
SECTIONS = {'guide/index.html', 'executors/index.html', 'migrating.html', 'sites.html',
            'authors.html', 'api/index.html', 'architecture.html'}
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync']


class _Page(html.parser.HTMLParser):
    """What the checks need from a page: headings, links, images, ids, the sidebar's links."""

    def __init__(self) -> None:
        super().__init__()
        self.h1: List[str] = []
        self.links: List[str] = []
        self.images: List[str] = []
        self.ids: Set[str] = set()
        self.nav_links: List[str] = []
        self._in_h1 = 0
        self._nav_depth = 0  # >0 inside the sidebar (its divs counted)

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        a = dict(attrs)
        if a.get('id'):
            self.ids.add(a['id'] or '')
        if tag == 'div' and ('sphinxsidebar' in (a.get('class') or '').split() or
                             self._nav_depth):
            self._nav_depth += 1
        if tag == 'h1':
            self._in_h1 += 1
            self.h1.append('')
        elif tag == 'a' and a.get('href'):
            self.links.append(a['href'] or '')
            if self._nav_depth:
                self.nav_links.append(a['href'] or '')
        elif tag == 'img':
            self.images.append(a.get('src') or '')

    def handle_endtag(self, tag: str) -> None:
        if tag == 'h1' and self._in_h1:
            self._in_h1 -= 1
        elif tag == 'div' and self._nav_depth:
            self._nav_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1[-1] += data


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def _chromium() -> Optional[str]:
    found = shutil.which('chromium') or shutil.which('chromium-browser')
    if found is None and os.environ.get('PSIJ_REQUIRE_CHROMIUM') == '1':
        pytest.fail('chromium is not installed but PSIJ_REQUIRE_CHROMIUM=1')
    return found


def _run_chromium(chromium: str, profile: pathlib.Path, *args: str) -> str:
    # a fresh profile each time: nothing from an earlier run (or another user) is reused
    r = subprocess.run([chromium, *CHROMIUM_FLAGS, '--user-data-dir=%s' % profile, *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _is_image(path: pathlib.Path) -> bool:
    data = path.read_bytes()
    if data.startswith(b'\x89PNG\r\n\x1a\n') or data[:3] == b'\xff\xd8\xff' or \
            data[:6] in (b'GIF87a', b'GIF89a'):
        return True
    if path.suffix == '.svg':
        return ET.fromstring(data).tag.endswith('svg')
    return False


@pytest.fixture(scope='module')
def site() -> pathlib.Path:
    assert (HTML / 'index.html').exists(), 'no site built at %s (nox -s docs builds it)' % HTML
    return HTML


@pytest.mark.parametrize('page,heading', PAGES, ids=[p[0] for p in PAGES])
def test_page_renders(site: pathlib.Path, page: str, heading: str,
                      tmp_path: pathlib.Path) -> None:
    """Chromium renders the page with its heading, the navigation and working images."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip('chromium is not installed (apt-get install chromium)')
    url = (site / page).as_uri()
    dom = _parse(_run_chromium(chromium, tmp_path / 'profile-dom', '--dump-dom', url))
    # the sidebar shows the project's name as a heading too; the page's own is the last
    assert [h.replace('\u00b6', '').strip() for h in dom.h1][-1:] == [heading], dom.h1
    base = (site / page).parent
    reached = {str((base / urllib.parse.urlsplit(h).path).resolve().relative_to(site))
               for h in dom.nav_links if not urllib.parse.urlsplit(h).scheme and
               urllib.parse.urlsplit(h).path}
    reached.add(page)  # the current page's entry links to itself ('#')
    assert SECTIONS - reached == set(), 'the sidebar of %s has no link to %s' % (
        page, ', '.join(sorted(SECTIONS - reached)))
    for src in dom.images:
        target = (site / page).parent / urllib.parse.unquote(src.split('#')[0])
        assert target.is_file() and _is_image(target), '%s: broken image %s' % (page, src)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS.resolve() / (page.replace('/', '_').replace('.html', '.png'))
    shot.unlink(missing_ok=True)
    # every compositor stage drawn, and up to 10 s of page time, before the picture: on a
    # loaded machine a screenshot was once taken with the page half drawn
    _run_chromium(chromium, tmp_path / 'profile-shot', '--hide-scrollbars',
                  '--run-all-compositor-stages-before-draw', '--virtual-time-budget=10000',
                  '--window-size=1280,1400', '--screenshot=%s' % shot, url)
    # a page that rendered blank (or an error page) is a small PNG of one colour
    assert shot.is_file() and shot.stat().st_size > 30000, shot


def test_architecture_page_has_its_diagram(site: pathlib.Path) -> None:
    """The image check above has an image to check."""
    images = _parse((site / 'architecture.html').read_text()).images
    assert any(src.endswith('packages.svg') for src in images), images


def _pages(site: pathlib.Path) -> Dict[pathlib.Path, _Page]:
    return {p: _parse(p.read_text()) for p in site.rglob('*.html')}


def test_internal_links(site: pathlib.Path) -> None:
    """Every link within the site leads to a file that exists, and to an anchor in it."""
    pages = _pages(site)
    broken = []
    for page, parsed in pages.items():
        for href in parsed.links:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith('mailto:'):
                continue  # external: not checked (the build has no network)
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() \
                if parts.path else page
            if target.is_dir():
                target = target / 'index.html'
            if not target.exists():
                broken.append('%s: %s (no such file)' % (page.relative_to(site), href))
            elif parts.fragment and target.suffix == '.html':
                ids = pages[target].ids if target in pages else set()
                if urllib.parse.unquote(parts.fragment) not in ids:
                    broken.append('%s: %s (no such anchor)' % (page.relative_to(site), href))
    assert not broken, '\n'.join(broken)
    assert sum(len(p.links) for p in pages.values()) > 500  # the parser saw the links


def test_no_private_names_in_the_api_pages(site: pathlib.Path) -> None:
    """Autodoc shows no private member (`_name`) in the API reference."""
    shown = []
    for page in sorted((site / 'api').glob('*.html')):
        for anchor in _parse(page.read_text()).ids:
            if anchor.startswith(('psij.', 'module-psij')) and \
                    any(part.startswith('_') and not part.startswith('__')
                        for part in anchor.split('.')):
                shown.append('%s: %s' % (page.name, anchor))
    assert not shown, '\n'.join(shown)


def test_readme_links_to_the_site() -> None:
    """The root README links to every section of the site, and its links lead to files."""
    root = pathlib.Path(__file__).resolve().parents[2]
    text = (root / 'README.md').read_text()
    links = [m.split('#')[0] for m in re.findall(r'\]\(([^)\s]+)\)', text)
             if not urllib.parse.urlsplit(m).scheme]
    missing = [link for link in links if not (root / link).exists()]
    assert not missing, missing
    pages = {pathlib.Path(link).with_suffix('.html').as_posix() for link in links}
    sections = {'docs/' + s for s in SECTIONS}
    assert sections - pages == set(), 'README.md does not link to %s' % (sections - pages)
