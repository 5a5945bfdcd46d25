"""
A small Mustache renderer: the subset submit-script templates written for psij-python use,
rendering as psij-python's renderer (pystache 0.6, ``missing_tags='ignore'``) does.

Supported: variables ``{{name}}`` (escaped by the given function), ``{{{name}}}`` and
``{{& name}}`` (not escaped), dotted names and ``{{.}}``, sections ``{{#name}}...{{/name}}``
(lists iterate, other true values are pushed on the context stack, callables are lambdas
given the section's raw text), inverted sections ``{{^name}}``, comments ``{{! ...}}``,
delimiter changes ``{{=<% %>=}}``, and standalone tag lines (a section, comment or delimiter
tag alone on its line takes the whole line with it), and partials ``{{> name}}``, whose text
the renderer is given (`Renderer`'s ``partials``: psij-python's ``batch_lib``, ``stagein``,
``stageout`` and ``cleanup``, which psij writes for each job; see
:mod:`psij.executors.batch.psij_python_partials`) and inserts as it is, not rendered, each line
indented as a standalone tag is.

Names resolve as pystache resolves them: the first part against the context stack, top down
(a dict by key; an object that is not of a built-in type by attribute, and an attribute that
is callable is called), the other parts against the previous part's value only; a missing
name is empty. A value is turned into text with ``str`` (so ``None`` is ``'None'``); a
callable value is called and its result rendered as a template.

The renderer is not a general template engine on purpose: the escape function and an
optional `Check` decide what user text may reach the script (see
:mod:`psij.executors.batch.script_generator`).
"""

from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional, Pattern, Sequence, Union

Escape = Callable[[str], str]
Check = Callable[[str, str, str], None]
"""``check(raw, escaped, line)`` is called for each escaped value with its text, its escaped
text and the output's current line so far; it raises to refuse the value there."""


class TemplateError(ValueError):
    """A template that cannot be parsed (unclosed section, mismatched end tag), or names a
    partial the renderer does not have."""


class _Missing:
    pass


_MISSING = _Missing()


class _Var:
    __slots__ = ('name', 'escape')

    def __init__(self, name: str, escape: bool) -> None:
        self.name = name
        self.escape = escape


class _Section:
    __slots__ = ('name', 'inverted', 'children', 'raw', 'delimiters')

    def __init__(self, name: str, inverted: bool, delimiters: tuple[str, str]) -> None:
        self.name = name
        self.inverted = inverted
        self.children: List[_Node] = []
        self.raw = ''
        self.delimiters = delimiters


class _Partial:
    __slots__ = ('name', 'indent')

    def __init__(self, name: str, indent: str) -> None:
        self.name = name
        self.indent = indent


_Node = Union[str, _Var, _Section, _Partial]


def _tag_pattern(otag: str, ctag: str) -> Pattern[str]:
    return re.compile(
        r'(?P<ws>[ \t]*)%s\s*(?:(?P<change>=)\s*(?P<delims>.+?)\s*=|(?P<raw>\{)\s*(?P<rawname>'
        r'.+?)\s*\}|(?P<type>[!>&/#^]?)\s*(?P<name>[\s\S]+?))\s*%s'
        % (re.escape(otag), re.escape(ctag)))


DEFAULT_DELIMITERS = ('{{', '}}')


def parse(template: str, delimiters: tuple[str, str] = DEFAULT_DELIMITERS) -> List[_Node]:
    """
    The parse tree of `template`, whose tags start with the given delimiters.

    :raises TemplateError: for an unclosed section or a mismatched end tag.
    """
    delims = delimiters
    pattern = _tag_pattern(*delims)
    root: List[_Node] = []
    stack: List[tuple[_Section, List[_Node], int]] = []
    out = root
    pos = 0
    while True:
        m = pattern.search(template, pos)
        if m is None:
            break
        start, end = m.start(), m.end()
        if m.group('change'):
            kind, name = '=', m.group('delims')
        elif m.group('raw'):
            kind, name = '&', m.group('rawname')
        else:
            kind, name = m.group('type'), m.group('name').strip()
        begins_line = start == 0 or template[start - 1] in '\r\n'
        ends_line = end == len(template) or template[end] in '\r\n'
        standalone = begins_line and ends_line and kind not in ('', '&')
        if standalone:
            if template.startswith('\r', end):
                end += 1
            if template.startswith('\n', end):
                end += 1
        elif m.group('ws'):
            start += len(m.group('ws'))
        if start > pos:
            out.append(template[pos:start])
        pos = end
        if kind in ('#', '^'):
            section = _Section(name, kind == '^', delims)
            out.append(section)
            stack.append((section, out, end))
            out = section.children
        elif kind == '/':
            if not stack or stack[-1][0].name != name:
                raise TemplateError('end tag {{/%s}} at offset %d does not close %s' % (
                    name, start, '{{#%s}}' % stack[-1][0].name if stack else 'any section'))
            section, out, body_start = stack.pop()
            section.raw = template[body_start:m.start()]
        elif kind == '=':
            parts = name.split()
            if len(parts) != 2:
                raise TemplateError('bad delimiter change {{=%s=}}' % name)
            delims = (parts[0], parts[1])
            pattern = _tag_pattern(*delims)
        elif kind == '>':
            out.append(_Partial(name, m.group('ws') if standalone else ''))
        elif kind != '!':
            out.append(_Var(name, kind == ''))
    if stack:
        raise TemplateError('section {{#%s}} is never closed' % stack[-1][0].name)
    if pos < len(template):
        out.append(template[pos:])
    return root


def partial_names(tree: List[_Node]) -> List[str]:
    """The names of the partials `tree` includes, in order, each once."""
    names: List[str] = []
    for node in tree:
        found = [node.name] if isinstance(node, _Partial) else \
            partial_names(node.children) if isinstance(node, _Section) else []
        names.extend(n for n in found if n not in names)
    return names


def _attribute(item: Any, key: str) -> Any:
    if isinstance(item, dict):
        return item[key] if key in item else _MISSING
    if type(item).__module__ == 'builtins':
        return _MISSING
    try:
        value = getattr(item, key)
    except AttributeError:
        return _MISSING
    return value() if callable(value) else value


def _lookup(stack: Sequence[Any], name: str) -> Any:
    if name == '.':
        return stack[-1]
    first, *rest = name.split('.')
    value: Any = _MISSING
    for item in reversed(stack):
        value = _attribute(item, first)
        if value is not _MISSING:
            break
    for part in rest:
        if value is _MISSING:
            break
        value = _attribute(value, part)
    return '' if value is _MISSING else value


def _section_items(value: Any) -> List[Any]:
    if not value:
        return []
    if isinstance(value, (str, bytes, dict)):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


class Renderer:
    """Renders parsed templates with an escape function and an optional check."""

    def __init__(self, escape: Escape, check: Optional[Check] = None) -> None:
        """
        :param escape: turns a value's text into what the output holds for ``{{name}}``.
        :param check: called for each escaped value (see `Check`).
        """
        self.escape = escape
        self.check = check
        self._partials: Mapping[str, str] = {}

    def render(self, tree: List[_Node], context: Any,
               partials: Optional[Mapping[str, str]] = None) -> str:
        """
        The text of `tree` rendered against `context`.

        :param partials: the text of each partial the template may include.
        :raises TemplateError: for a partial not in `partials`.
        """
        out: List[str] = []
        self._partials = partials or {}
        try:
            self._render(tree, [context], out)
        finally:
            self._partials = {}
        return ''.join(out)

    def _render(self, tree: List[_Node], stack: List[Any], out: List[str]) -> None:
        for node in tree:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, _Var):
                self._variable(node, stack, out)
            elif isinstance(node, _Partial):
                self._partial(node, out)
            else:
                self._section(node, stack, out)

    def _render_text(self, template: str, stack: List[Any],
                     delimiters: tuple[str, str] = DEFAULT_DELIMITERS) -> str:
        # what a lambda returns is rendered as a template, as pystache does
        out: List[str] = []
        self._render(parse(template, delimiters), stack, out)
        return ''.join(out)

    def _partial(self, node: _Partial, out: List[str]) -> None:
        text = self._partials.get(node.name)
        if text is None:
            raise TemplateError('the template includes the partial {{>%s}}; the partials it '
                                'may include are %s' % (node.name, ', '.join(
                                    sorted(self._partials)) or 'none'))
        if node.indent:
            text = ''.join(node.indent + line if line.strip() else line
                           for line in text.splitlines(keepends=True))
        out.append(text)

    def _variable(self, node: _Var, stack: List[Any], out: List[str]) -> None:
        value = _lookup(stack, node.name)
        text = self._render_text(str(value()), stack) if callable(value) else \
            (value if isinstance(value, str) else str(value))
        if not node.escape:
            out.append(text)
            return
        escaped = self.escape(text)
        if self.check is not None:
            self.check(text, escaped, _current_line(out))
        out.append(escaped)

    def _section(self, node: _Section, stack: List[Any], out: List[str]) -> None:
        value = _lookup(stack, node.name)
        if node.inverted:
            if not value:
                self._render(node.children, stack, out)
            return
        for item in _section_items(value):
            if callable(item):
                out.append(self._render_text(str(item(node.raw)), stack, node.delimiters))
                continue
            stack.append(item)
            try:
                self._render(node.children, stack, out)
            finally:
                stack.pop()


def _current_line(out: List[str]) -> str:
    parts: List[str] = []
    for piece in reversed(out):
        i = max(piece.rfind('\n'), piece.rfind('\r'))
        if i >= 0:
            parts.append(piece[i + 1:])
            break
        parts.append(piece)
    return ''.join(reversed(parts))


def render(template: str, context: Any, escape: Escape, check: Optional[Check] = None) -> str:
    """Parses and renders `template` (see the module documentation)."""
    return Renderer(escape, check).render(parse(template), context)
