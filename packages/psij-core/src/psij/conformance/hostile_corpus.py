"""
The hostile-string corpus: strings that break careless quoting, shells and schedulers.

One shared, deterministic list (`CORPUS`) used by the kit's hostile-input checks
(:mod:`psij.conformance.hostile_checks`) on every executor, built from a hand-written core
(`CORE`) and combinations of payloads with the places a scheduler or a shell looks at
(start of a line, after a newline, after a carriage return, inside quotes...). No string
contains NUL: no program can receive one as an argument or environment value, and ``JobSpec``
refuses it at construction.

Subsets for the places a string goes:

- `CORPUS`: arguments and environment values (byte-exact to the job);
- `path_safe` / `PATH_CORPUS`: file names (no ``/``, not ``.`` or ``..``, not empty, at most
  200 bytes in UTF-8 so that a name fits in NAME_MAX);
- `env_reference_free`: values without a ``${NAME}`` reference (which the specification
  substitutes) - the others are checked against their substituted value.
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

# -- the hand-written core --------------------------------------------------------------------

_QUOTES = ["'", '"', "''", '""', "it's", 'say "hi"', "'\"'\"'", '"\'"', "a'b\"c", '\\\'',
           "'; touch psij-hostile-pwned; '", '"; touch psij-hostile-pwned; "']
_BACKSLASHES = ['\\', '\\\\', 'a\\b\\\\c\\', '\\n', '\\r', '\\t', '\\0', '\\x41', '\\u00e9',
                '\\$HOME', '\\`', 'C:\\Windows\\System32', '\\\n', 'end\\']
_SUBSTITUTIONS = ['$(touch psij-hostile-pwned)', '`touch psij-hostile-pwned`', '$HOME',
                  '${HOME}', '${PSIJ_HOSTILE_UNSET}', '${PSIJ_HOSTILE_REF}', '$((1+1))', '$$',
                  '$?', '$#', '$@', '$*', '$0', '$1', '${HOME:-x}', '${HOME#/}', '${!HOME}',
                  '${', '${HOME', '$', '$ ', '$\n', '$(', '`', '$[1+1]', '<(echo x)',
                  '>(cat)', "$'\\x41'", '$"x"', '!!', '!$', '^x^y', '~', '~root', '~/x']
_SHELL = ['a; touch psij-hostile-pwned', 'a && touch psij-hostile-pwned',
          'a || touch psij-hostile-pwned', 'a | cat', 'a > psij-hostile-pwned',
          'a < /etc/passwd', 'a 2>&1', '&', ';', '|', '&&', '(', ')', '{', '}', '{a,b}',
          '[', ']', 'a=b', 'IFS=x', 'x=1 touch psij-hostile-pwned', '# comment', '#',
          'a #b', ':', 'exit 3', 'exec true', 'kill -9 $$', '\\\nexit 5']
_BLANKS = ['', ' ', '  ', '\t', '\n', '\r', '\r\n', '\n\n', ' lead', 'trail ', ' both ',
           'a b  c', 'a\tb', 'a\nb', 'a\rb', 'a\r\nb', 'line 1\nline 2\n', '\x0b', '\x0c',
           '\u00a0', '\u2028', '\u2029', '\u3000', '\ufeff']
_CONTROL = ['\x01', '\x07', '\x08', '\x1b', '\x1b[31mred\x1b[0m', '\x1b]0;title\x07', '\x7f',
            '\x1f', ''.join(chr(c) for c in range(1, 32)), 'a\x00b'.replace('\x00', '\x01'),
            '\x04', '\x1a', '\x03']
_DASHES = ['-', '--', '-n', '-e', '-E', '--help', '--version', '-rf', '--output=/tmp/x',
           '--wrap=touch psij-hostile-pwned', '-o', '-x', '- ', '-\n', '—', '\u2212n']
_GLOBS = ['*', '?', '[a-z]', '*.*', '.*', '/*', '**', '[!a]', '*\n*', '~*']
_PERCENT = ['%', '%%', '%j', '%J', '%x', '%u', '%A', '%a', '%N', '%n', '%t', '%s', '%d',
            '%I', '%%j', '%5j', '%s %d %%', '100%', 'out.%j.%J.log', '%c', '%p', '%r']
_DIRECTIVES = ['#SBATCH --wrap="touch psij-hostile-pwned"', '#SBATCH -p nosuchqueue',
               '#PBS -N pwned', '#PBS -l select=99', '#BSUB -J pwned', '#BSUB -q nosuch',
               '#$ -N pwned', '#$ -q nosuch', '#flux: -N 99', '#flux: --setattr=x=y',
               '#!/bin/sh', '#@ job_name = pwned', '#COBALT -q nosuch', '#MSUB -N pwned']
_UNICODE = ['gr\u00fc\u00dfe', '\u65e5\u672c\u8a9e', '\U0001f680', '\U0001f468\u200d\U0001f469'
            '\u200d\U0001f467', '\u05e9\u05dc\u05d5\u05dd', '\u202eevil\u202c', '\u200f\u200e',
            'e\u0301', 'a\u0300\u0301\u0302\u0303\u0304', '\u0644\u0627', '\U00010348',
            '\U0010ffff', '\ufffd', '\u00e9t\u00e9', '\u0130', '\u017f', '\uff04(x)',
            '\uff07', '\u02bc', '\u2018x\u2019', '\u201cx\u201d', '\u0000'.replace('\0', '\u2400')]
_LONG = ['x' * 10000, 'psij' * 2500, ("'\"$`\\\n" * 1667)[:10000], '\u00e9' * 10000,
         '\U0001f680' * 10000, ('%j#SBATCH\r' * 1000)[:10000]]

CORE: List[str] = (_QUOTES + _BACKSLASHES + _SUBSTITUTIONS + _SHELL + _BLANKS + _CONTROL
                   + _DASHES + _GLOBS + _PERCENT + _DIRECTIVES + _UNICODE + _LONG)
"""The hand-written strings."""

# -- combinations -----------------------------------------------------------------------------

_PAYLOADS = ['$(touch psij-hostile-pwned)', '`touch psij-hostile-pwned`', '#SBATCH -J pwned',
             '#PBS -N pwned', '#BSUB -J pwned', '#$ -N pwned', '#flux: -N 9', '%j', '%J%x%u%%',
             "'", '"', '\\', '${HOME}', '-n', '*', '\U0001f680', 'e\u0301', '\u202e']
_PLACES = ['%s', 'x%s', '%sx', ' %s ', '\n%s', '%s\n', '\r%s', '%s\r', '\r\n%s\r\n', '\t%s',
           "'%s'", '"%s"', '\\%s', '%s\\', 'a\n%s\nb', '-%s', '\x1b%s', '%s%s']


def _combinations() -> List[str]:
    out = []
    for p in _PAYLOADS:
        for place in _PLACES:
            out.append(place.replace('%s', p))
    return out


def _dedup(items: List[str]) -> List[str]:
    seen = set()
    out = []
    for s in items:
        if s not in seen and '\0' not in s:
            seen.add(s)
            out.append(s)
    return out


CORPUS: List[str] = _dedup(CORE + _combinations())
"""Every hostile string, hand-written first; deterministic order."""

# -- subsets ----------------------------------------------------------------------------------

_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')


def path_safe(s: str) -> bool:
    """Whether `s` can be a file name: no ``/``, not empty, ``.`` or ``..``, at most 200 bytes
    (in UTF-8; surrogates cannot be encoded)."""
    if not s or '/' in s or s in ('.', '..'):
        return False
    try:
        return len(s.encode('utf-8')) <= 200
    except UnicodeEncodeError:
        return False


PATH_CORPUS: List[str] = [s for s in CORPUS if path_safe(s)]
"""The strings that can be file names."""


def env_reference_free(s: str) -> bool:
    """Whether `s` holds no ``${NAME}`` reference (which executors substitute)."""
    return _REF.search(s) is None


def substituted(value: str, env: Dict[str, str]) -> str:
    """`value` with each ``${NAME}`` replaced as the specification says (unset: empty)."""
    return _REF.sub(lambda m: env.get(m.group(1), ''), value)


def chunks(items: List[str], max_bytes: int, max_items: int) -> List[List[str]]:
    """`items` in order, in groups of at most `max_items` strings and about `max_bytes` bytes
    (UTF-8) each, so that one job carries many strings without passing the system's limits on
    a command line or environment."""
    out: List[List[str]] = []
    cur: List[str] = []
    size = 0
    for s in items:
        n = len(s.encode('utf-8', 'surrogatepass')) + 8
        if cur and (size + n > max_bytes or len(cur) >= max_items):
            out.append(cur)
            cur, size = [], 0
        cur.append(s)
        size += n
    if cur:
        out.append(cur)
    return out


def describe(s: str, limit: int = 60) -> str:
    """A short printable form of `s` for messages."""
    r = repr(s)
    return r if len(r) <= limit else '%s...(%d chars)' % (r[:limit], len(s))


def summary() -> Tuple[int, int]:
    """(strings in `CORPUS`, of which usable as file names)."""
    return len(CORPUS), len(PATH_CORPUS)


__all__ = ['CORE', 'CORPUS', 'PATH_CORPUS', 'chunks', 'describe', 'env_reference_free',
           'path_safe', 'substituted', 'summary']
