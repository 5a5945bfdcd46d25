"""
Safe building blocks for submit scripts.

User strings reach a submit script in two places only: scheduler directives and shell words.
Directive values are validated (no line breaks, nothing that would start another option, no
quote characters) and written in double quotes; shell words are always single-quoted. An
environment value keeps the specification's ``${NAME}`` references, and only those: every other
character, ``$(...)``, backticks and ``$NAME`` included, is quoted literally.
"""

from __future__ import annotations

import re
import shlex
from typing import Iterable, List

from psij.exceptions import InvalidJobException

_BAD_DIRECTIVE_CHARS = re.compile(r'[\x00-\x1f\x7f"\\`$]')
_CUSTOM_KEY = re.compile(r'[A-Za-z][A-Za-z0-9_-]*')
_SHELL_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')


def quote(word: str) -> str:
    """A shell word that stands for `word` exactly."""
    return shlex.quote(word)


def quote_all(words: Iterable[str]) -> str:
    """Shell words for a command line."""
    return ' '.join(shlex.quote(w) for w in words)


def directive_value(field: str, value: object) -> str:
    """
    Checks a value that goes into a scheduler directive.

    :raises InvalidJobException: for an empty value, a line break or other control character,
        a quote, backslash, backtick or ``$``, or a leading ``-`` (it would read as an option).
    """
    text = str(value)
    if not text.strip():
        raise InvalidJobException('%s: an empty value cannot be passed to the scheduler' % field)
    m = _BAD_DIRECTIVE_CHARS.search(text)
    if m:
        raise InvalidJobException('%s=%r: the character %r cannot be passed to the scheduler '
                                  'safely' % (field, text, m.group()))
    if text.lstrip().startswith('-'):
        raise InvalidJobException('%s=%r: a value starting with "-" would be read as another '
                                  'scheduler option' % (field, text))
    return text


def custom_attribute_key(field: str, key: str) -> str:
    """Checks the name part of a ``<scheduler>.<name>`` custom attribute."""
    if not _CUSTOM_KEY.fullmatch(key):
        raise InvalidJobException('%s: %r is not a valid option name (letters, digits, "_" and '
                                  '"-", starting with a letter)' % (field, key))
    return key


def env_assignment(name: str, value: str) -> str:
    """
    ``export NAME=...`` where the value keeps only its ``${NAME}`` references.

    :raises InvalidJobException: if `name` cannot be a shell variable name.
    """
    if not _SHELL_NAME.fullmatch(name):
        raise InvalidJobException('JobSpec.environment: %r is not a valid variable name for a '
                                  'batch job (letters, digits and "_", not starting with a digit)'
                                  % name)
    parts: List[str] = []
    pos = 0
    for m in _REF.finditer(value):
        if m.start() > pos:
            parts.append(shlex.quote(value[pos:m.start()]))
        parts.append('"${%s}"' % m.group(1))
        pos = m.end()
    if pos < len(value) or not parts:
        parts.append(shlex.quote(value[pos:]))
    return 'export %s=%s' % (name, ''.join(parts))
