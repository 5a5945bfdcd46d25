"""
Flux job ids in every form Flux accepts, without the Flux bindings.

A Flux job id is a 64-bit integer. Flux prints it as *f58* (base 58 with the prefix ``ƒ``,
U+0192, or ``f`` when the locale is not UTF-8) and accepts also the decimal form, ``0x``
hexadecimal, *dothex* (``0000.0004.7700.0000``) and the KVS form (``job.0000.0004.7700.0000``).
The mnemonic *words* form is accepted when the Flux bindings are available (see
:func:`parse_job_id`).

psij-flux uses the f58 form with ``ƒ`` as the job's ``native_id``, as ``flux submit`` prints it.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

F58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
"""Flux's base-58 alphabet (no 0, O, I, l)."""

F58_PREFIXES = ('\u0192', 'f')
"""The prefixes of the f58 form: ``ƒ`` and, in ASCII, ``f``."""

_F58_INDEX = {c: i for i, c in enumerate(F58_ALPHABET)}
_DOTHEX = re.compile(r'([0-9a-fA-F]{4})\.([0-9a-fA-F]{4})\.([0-9a-fA-F]{4})\.([0-9a-fA-F]{4})')
_MAX = (1 << 64) - 1

WordsDecoder = Callable[[str], Optional[int]]


def to_f58(jobid: int, ascii_only: bool = False) -> str:
    """The f58 form of `jobid`, with ``ƒ`` (or ``f`` if `ascii_only`)."""
    if jobid < 0 or jobid > _MAX:
        raise ValueError('not a Flux job id: %r' % jobid)
    digits = []
    n = jobid
    while True:
        n, r = divmod(n, 58)
        digits.append(F58_ALPHABET[r])
        if n == 0:
            break
    return ('f' if ascii_only else '\u0192') + ''.join(reversed(digits))


def to_dothex(jobid: int) -> str:
    """The dothex form, ``xxxx.xxxx.xxxx.xxxx``."""
    h = '%016x' % jobid
    return '.'.join(h[i:i + 4] for i in range(0, 16, 4))


def _from_f58(text: str) -> Optional[int]:
    n = 0
    for c in text:
        v = _F58_INDEX.get(c)
        if v is None:
            return None
        n = n * 58 + v
    return n if n <= _MAX else None


def parse_job_id(text: str, words: Optional[WordsDecoder] = None) -> int:
    """
    The integer id for `text` in any of Flux's forms (surrounding blanks ignored).

    f58 needs its prefix (``ƒ`` or ``f``), as for Flux itself: ``W1gwrP`` alone is refused.

    :param words: decodes the mnemonic form (``academy-...``); given by the executor when the
        Flux bindings are loaded.
    :raises ValueError: for text that is no Flux job id.
    """
    s = text.strip()
    if not s:
        raise ValueError('empty Flux job id')
    n: Optional[int] = None
    if s.isdigit() and s.isascii():
        n = int(s)
    elif s[:2].lower() == '0x' and len(s) > 2:
        try:
            n = int(s[2:], 16)
        except ValueError:
            n = None
    elif s.startswith('job.') and _DOTHEX.fullmatch(s[4:]):
        n = int(s[4:].replace('.', ''), 16)
    elif _DOTHEX.fullmatch(s):
        n = int(s.replace('.', ''), 16)
    elif s[0] in F58_PREFIXES and len(s) > 1 and '-' not in s:
        n = _from_f58(s[1:])
    elif words is not None and '-' in s.strip('-'):
        n = words(s)
    if n is None or n < 0 or n > _MAX:
        raise ValueError('%r is not a Flux job id (forms: \u0192... or f... (f58), decimal, '
                         '0x... (hex), xxxx.xxxx.xxxx.xxxx (dothex), job.xxxx... (kvs)%s)'
                         % (text, ', words' if words is not None else ''))
    return n
