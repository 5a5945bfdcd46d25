"""Sphinx configuration of the psij documentation site (built by ``nox -s docs``)."""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE / '_ext'))

project = 'psij'
author = 'the psij developers'
copyright = '2026, the psij developers'

extensions = [
    'sphinx.ext.autodoc',
    'myst_parser',
    'psij_docs',
]
# the README-style Markdown of docs/ and the module docstrings (reStructuredText) both feed the
# site; Markdown pages embed docstrings through {eval-rst}
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_enable_extensions = ['colon_fence']
myst_heading_anchors = 3
exclude_patterns = ['_build', 'tests', 'examples']

# every cross-reference must resolve (with -n -W a missing target fails the build)
nitpicky = True
nitpick_ignore_regex = [
    # standard-library and third-party types named in signatures (no intersphinx: the build
    # needs no network)
    ('py:class', r'(pathlib\.)?Path'),
    ('py:class', r'(typing|collections\.abc|_?typeshed)\..*|Any|Optional|Union|List|Dict|Set|'
                 r'Tuple|Iterable|Iterator|Sequence|Mapping|Callable|IO|Type|AsyncIterator|'
                 r'Awaitable|Coroutine|ClassVar|NoReturn|TextIO|BinaryIO|PathLike|CallbackLike'),
    ('py:class', r'packaging\..*|Version'),
    ('py:class', r'asyncio\..*|concurrent\..*|datetime\..*|timedelta|datetime|enum\..*|'
                 r'threading\..*|subprocess\..*|types\..*|io\..*|os\..*'),
    ('py:class', r'T|_T|F|TypeVar.*|Self|psij\.conformance\.base\.F|abc\.ABC'),
    ('py:func', r'time\.time'),
    # the async iterator Job.status_updates() returns (its class is private; the method's
    # docstring says how to use it)
    ('py:class', r'StatusUpdates'),
    # protected methods executor authors call, named in docstrings
    ('py:meth', r'_[a-z].*'),
    # private names that annotations and docstrings mention
    ('py:.*', r'_[A-Za-z]\w*|psij\._.*|psij\.[a-z_.]*\._.*'),
    ('py:class', r'_?pytest\..*'),
    # the executor distributions' internal modules, which their module docstrings (shown on
    # the executors' pages) name; they are not part of the API reference
    ('py:.*', r'psij_[a-z]+\..*'),
]
autodoc_default_options = {
    'members': True,
    'undoc-members': False,
    'show-inheritance': True,
    'member-order': 'bysource',
}
autodoc_typehints = 'description'
autodoc_typehints_description_target = 'documented_params'
autodoc_class_signature = 'separated'
autoclass_content = 'class'
autodoc_preserve_defaults = True

html_theme = 'alabaster'
html_title = 'psij documentation'
html_static_path = ['_static']
html_theme_options = {
    'description': 'PSI/J jobs on any scheduler, in Python',
    'fixed_sidebar': True,
    'show_relbars': True,
}
html_sidebars = {'**': ['about.html', 'navigation.html', 'searchbox.html']}
html_show_sourcelink = False
