"""Escape functions for submit script templates (psij-python's module of the same name)."""

from __future__ import annotations

import pathlib
import shlex


def bash_escape(o: object) -> str:
    """
    ``o`` as one bash word: numbers as they are, paths made absolute and quoted, anything else
    turned into text and single-quoted where needed (as psij-python's ``bash_escape``). The
    renderer passes text, so numbers reach it as digits, which need no quotes.
    """
    if isinstance(o, (int, float)):
        return str(o)
    if isinstance(o, pathlib.Path):
        o = o.absolute()
    return shlex.quote(str(o))
