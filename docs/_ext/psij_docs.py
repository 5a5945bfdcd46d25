"""
Sphinx directives that take the site's tables from the code, so that the pages cannot drift
from it: registered executors and launchers (the plugin registry), what each declares
unsupported (its descriptor), configuration fields (the config classes' ``__init__``),
``PSIJ_*`` environment variables (every name the packages' sources mention), and module
docstrings (the executors' directive tables).

A table that cannot be filled (an unknown executor, an undocumented field or variable) is a
build warning, hence an error under ``sphinx-build -W``.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
from typing import Any, Dict, List, Sequence, Set, Tuple

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docstrings import prepare_docstring
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

LOG = logging.getLogger(__name__)
ROOT = pathlib.Path(__file__).resolve().parents[2]
# a name in the sources: PSIJ_X, or a pattern (PSIJ_%s_COMMAND_DIR, PSIJ_<NAME>, PSIJ_K_)
# (not a name that merely ends so: psij-python's shell variable _PSIJ_JOB_EC)
ENV_TOKEN = re.compile(r'(?<![A-Za-z0-9_])PSIJ_[A-Za-z0-9_%<>]*')


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], directive: SphinxDirective,
           widths: Sequence[int] = ()) -> List[nodes.Node]:
    """A table whose cells are parsed as reStructuredText (so ``literals`` and roles work)."""
    lines = ['.. list-table::', '   :header-rows: 1']
    if widths:
        lines.append('   :widths: %s' % ' '.join(str(w) for w in widths))
    lines.append('')
    for row in [list(header)] + [list(r) for r in rows]:
        for i, cell in enumerate(row):
            text = cell.replace('\n', ' ') or ' '
            lines.append('   %s %s' % ('* -' if i == 0 else '  -', text))
    container = nodes.container()
    directive.state.nested_parse(StringList(lines, source='psij_docs'),
                                 directive.content_offset, container)
    return list(container.children)


def _registry() -> Any:
    from psij.plugins import registry
    return registry


def _entries(kind: str) -> List[Tuple[str, Any]]:
    """(name, entry) for every registered name of `kind`, aliases folded into their entry."""
    seen = set()
    out = []
    for name, entries in sorted(_registry().entries(kind).items()):
        for e in entries:
            if id(e) not in seen:
                seen.add(id(e))
                out.append((name, e))
    return out


class PluginsDirective(SphinxDirective):
    """``.. psij-plugins:: executor|launcher|transport``: the installed registrations."""

    required_arguments = 1

    def run(self) -> List[nodes.Node]:
        rows = []
        for _name, e in _entries(self.arguments[0]):
            d = e.desc
            rows.append(['``%s``' % d.name, ', '.join('``%s``' % a for a in d.aliases or []),
                         '``%s``' % e.source, '``%s``' % d.cls,
                         '; '.join('``%s``' % k for k in sorted(d.unsupported)) or 'nothing'])
        if not rows:
            LOG.warning('psij-plugins: no %s is registered', self.arguments[0],
                        location=self.get_location())
        return _table(['name', 'aliases', 'distribution', 'class', 'declared unsupported'],
                      rows, self, (12, 14, 16, 36, 22))


class UnsupportedDirective(SphinxDirective):
    """``.. psij-unsupported:: NAME``: what executor or launcher NAME declares it lacks."""

    required_arguments = 1
    option_spec = {'kind': directives.unchanged}

    def run(self) -> List[nodes.Node]:
        from psij import capabilities

        kind = self.options.get('kind', 'executor')
        entries = _registry().entries(kind).get(self.arguments[0])
        if not entries:
            LOG.warning('psij-unsupported: no %s named %r is registered', kind,
                        self.arguments[0], location=self.get_location())
            return []
        declared = entries[0].desc.unsupported
        if not declared:
            p = nodes.paragraph()
            p += nodes.Text('It declares nothing unsupported: every check of the conformance '
                            'kit applies to it.')
            return [p]
        rows = [['``%s``' % k, capabilities.DESCRIPTIONS.get(k, '(unknown capability)'), v]
                for k, v in sorted(declared.items())]
        return _table(['capability', 'what it is', 'why (the declared reason)'], rows, self,
                      (18, 36, 46))


def _param_docs(doc: str) -> Dict[str, str]:
    """``:param name: text`` entries of a docstring, continuation lines joined."""
    out: Dict[str, str] = {}
    current = None
    for line in prepare_docstring(doc):
        m = re.match(r':param (?:[\w\[\], .]+ )?(\w+):\s*(.*)', line)
        if m:
            current = m.group(1)
            out[current] = m.group(2)
        elif current and line.startswith(' ') and line.strip():
            out[current] += ' ' + line.strip()
        elif not line.strip() or line.startswith(':'):
            current = None
    return out


def _import(path: str) -> Any:
    module, _, name = path.rpartition('.')
    return getattr(importlib.import_module(module), name)


class ConfigDirective(SphinxDirective):
    """``.. psij-config:: package.module.ConfigClass``: its fields (``__init__``'s parameters,
    their defaults and ``:param:`` texts, inherited ones included)."""

    required_arguments = 1

    def run(self) -> List[nodes.Node]:
        cls = _import(self.arguments[0])
        docs: Dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if '__init__' in vars(klass) and vars(klass)['__init__'].__doc__:
                docs.update(_param_docs(vars(klass)['__init__'].__doc__))
        params: Dict[str, inspect.Parameter] = {}
        for klass in reversed(cls.__mro__):
            init = vars(klass).get('__init__')
            if init is None or klass is object:
                continue
            for name, p in list(inspect.signature(init).parameters.items())[1:]:
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    params[name] = p
        rows = []
        for name, p in params.items():
            if name not in docs:
                LOG.warning('psij-config: %s has no :param %s: text', self.arguments[0], name,
                            location=self.get_location())
            ann = p.annotation if isinstance(p.annotation, str) else \
                inspect.formatannotation(p.annotation)
            default = '' if p.default is p.empty else '``%r``' % (p.default,)
            rows.append(['``%s``' % name, '``%s``' % ann if p.annotation is not p.empty else '',
                         default, docs.get(name, '')])
        return _table(['field', 'type', 'default', 'meaning'], rows, self, (18, 22, 10, 50))


def _normalize_env(token: str) -> str:
    name = re.sub(r'%[0-9]*[sd]|<[A-Z]+>', '*', token)
    return name + '*' if name.endswith('_') else name


def environment_names() -> Dict[str, List[str]]:
    """Every ``PSIJ_*`` name (or pattern) in the packages' sources, with the files naming it."""
    found: Dict[str, List[str]] = {}
    for path in sorted(ROOT.glob('packages/*/src/**/*')):
        if path.suffix not in ('.py', '.sh') or not path.is_file():
            continue
        rel = str(path.relative_to(ROOT / 'packages'))
        for token in set(ENV_TOKEN.findall(path.read_text())):
            files = found.setdefault(_normalize_env(token), [])
            if rel not in files:
                files.append(rel)
    return found


class EnvironmentDirective(SphinxDirective):
    """
    ``.. psij-environment:: KIND``: the ``PSIJ_*`` variables of one kind, described in the
    directive's body (``NAME`` at the left margin, its text indented below). Every name in the
    sources must be described in one of the page's directives, and every described name must
    still be in the sources.
    """

    required_arguments = 1
    has_content = True

    def run(self) -> List[nodes.Node]:
        found = environment_names()
        described: Set[str] = self.env.temp_data.setdefault(  # type: ignore[assignment]
            'psij_env_described', set())
        entries: List[Tuple[str, str]] = []
        for line in self.content:
            if line and not line[0].isspace():
                entries.append((line.strip(), ''))
            elif entries and line.strip():
                entries[-1] = (entries[-1][0], (entries[-1][1] + ' ' + line.strip()).strip())
        rows = []
        for name, text in entries:
            described.add(name)
            if name not in found:
                LOG.warning('psij-environment: %s is described but no source names it', name,
                            location=self.get_location())
                continue
            where = ', '.join('``%s``' % f for f in found[name][:3])
            more = len(found[name]) - 3
            rows.append(['``%s``' % name, text, where + (' and %d more' % more if more > 0
                                                         else '')])
        if self.arguments[0] == 'last':
            missing = sorted(set(found) - described)
            if missing:
                LOG.warning('psij-environment: not described: %s', ', '.join(missing),
                            location=self.get_location())
        return _table(['variable', 'meaning', 'named in'], rows, self, (26, 50, 24))


class DocstringDirective(SphinxDirective):
    """``.. psij-docstring:: module``: a module's docstring (reStructuredText), in place."""

    required_arguments = 1
    option_spec = {'skip-title': directives.flag}

    def run(self) -> List[nodes.Node]:
        module = importlib.import_module(self.arguments[0])
        lines = prepare_docstring(module.__doc__ or '')
        if not module.__doc__:
            LOG.warning('psij-docstring: %s has no docstring', self.arguments[0],
                        location=self.get_location())
        container = nodes.container()
        # with titles: the executors' docstrings have sections; each becomes a rubric, so that
        # the docstrings' headings neither clash across pages nor break the page's outline
        nested_parse_with_titles(self.state, StringList(lines, source=module.__file__),
                                 container)
        return self._flatten(list(container.children))

    def _flatten(self, children: List[nodes.Node]) -> List[nodes.Node]:
        out: List[nodes.Node] = []
        document = self.state.document
        for child in children:
            if not isinstance(child, nodes.section):
                out.append(child)
                continue
            for name in child['names']:
                document.nametypes.pop(name, None)
                document.nameids.pop(name, None)
            title = child[0]
            rubric = nodes.rubric(title.rawsource, '', *title.children)
            out.append(rubric)
            out.extend(self._flatten(list(child.children[1:])))
        return out


def setup(app: Sphinx) -> Dict[str, Any]:
    app.add_directive('psij-plugins', PluginsDirective)
    app.add_directive('psij-unsupported', UnsupportedDirective)
    app.add_directive('psij-config', ConfigDirective)
    app.add_directive('psij-environment', EnvironmentDirective)
    app.add_directive('psij-docstring', DocstringDirective)
    return {'version': '1', 'parallel_read_safe': False}
