"""
Safe building blocks for submit scripts.

User strings reach a submit script in two places only: scheduler directives and shell words.
Directive values are validated (no line breaks, nothing that would start another option, no
quote characters) and written in double quotes; shell words are always single-quoted. An
environment value keeps the specification's ``${NAME}`` references, and only those: every other
character, ``$(...)``, backticks and ``$NAME`` included, is quoted literally.

The script itself holds printable ASCII and line breaks only, and no line of it starts with a
user's text: a word's line break is written in double quotes (``'a'"<newline>"'b'``, so the
next line starts with ``"``, never with ``#SBATCH``, ``#PBS``, ``#BSUB`` or ``#$``), and its
other control characters (a carriage return makes ``sbatch`` refuse the whole script) and
non-ASCII characters are written as octal escapes that ``printf`` decodes when the job runs
(``"$(printf '\\015')"``). That keeps every byte of the value, in POSIX ``sh``, whatever the
locale of the submitting host, the scheduler or the compute node.
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


_PRINTABLE = re.compile(r'[\x20-\x7e]*')
_RUNS = re.compile(r'[\x20-\x7e]+|\n|[^\x20-\x7e\n]+')


def quote(word: str) -> str:
    """
    A shell word that stands for `word` exactly (see the module documentation).

    :raises InvalidJobException: for a string holding a lone surrogate (no bytes stand for
        it; strings decoded from bytes with ``surrogateescape`` are fine).
    """
    if _PRINTABLE.fullmatch(word):
        return shlex.quote(word)
    parts = []
    for m in _RUNS.finditer(word):
        run = m.group()
        if run == '\n':
            parts.append('"\n"')
        elif _PRINTABLE.fullmatch(run):
            parts.append(shlex.quote(run))
        else:
            try:
                data = run.encode('utf-8', 'surrogateescape')
            except UnicodeEncodeError as ex:
                raise InvalidJobException('%r cannot be passed to a job: it holds a lone '
                                          'surrogate, which stands for no bytes' % word) from ex
            parts.append('"$(printf \'%s\')"' % ''.join('\\%03o' % b for b in data))
    return ''.join(parts)


def quote_code(code: str) -> str:
    """
    Our own shell code (e.g. the launch wrapper's text) as one word, single-quoted as it is so
    that the script stays readable; never for a user's string, see `quote`.

    :raises ValueError: if a line of `code` starts with ``#`` (a scheduler could read it as
        a directive) or `code` holds a character other than printable ASCII and line breaks.
    """
    for line in code.split('\n'):
        if line.startswith('#') or not _PRINTABLE.fullmatch(line):
            raise ValueError('not quotable as code: %r' % line)
    return shlex.quote(code)


def quote_all(words: Iterable[str]) -> str:
    """Shell words for a command line."""
    return ' '.join(quote(w) for w in words)


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
            parts.append(quote(value[pos:m.start()]))
        parts.append('"${%s}"' % m.group(1))
        pos = m.end()
    if pos < len(value) or not parts:
        parts.append(quote(value[pos:]))
    return 'export %s=%s' % (name, ''.join(parts))
