"""Prints where a CI run's time went: its phases, then each nox session (those of the
``parallel`` session's groups, in reports/logs/, included; they ran side by side, so their
times add up to more than the phase).

Usage: python3 ci/time_table.py NOX_LOG 'NAME|SECONDS|EXIT_CODE'...
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# nox's closing summary: "* NAME: success, took 2 minutes" (one line per session)
_SUMMARY = re.compile(r'^nox > \* (.+?): (\w+), took (.+)$', re.MULTILINE)


def _seconds(text: str) -> int:
    total = 0
    for n, unit in re.findall(r'(\d+|an?) (hour|minute|second)', text or ''):
        total += (1 if n in ('a', 'an') else int(n)) * {'hour': 3600, 'minute': 60,
                                                       'second': 1}[unit]
    return total


def _mmss(s: int) -> str:
    return '%d:%02d' % (s // 60, s % 60)


def main() -> int:
    log = Path(sys.argv[1])
    print('\nWhere the time went')
    print('| phase | time | result |')
    print('|---|---|---|')
    total = 0
    for entry in sys.argv[2:]:
        name, secs, rc = entry.rsplit('|', 2)
        total += int(secs)
        print('| %s | %s | %s |' % (name, _mmss(int(secs)), 'ok' if rc == '0' else 'exit ' + rc))
    groups = sorted((log.parent / 'logs').glob('group-*.log'))
    rows = []
    in_groups = set()
    for f in groups:
        for m in _SUMMARY.finditer(f.read_text(errors='replace')):
            in_groups.add(m.group(1))
            rows.append((m.group(1) + ' (%s)' % f.stem, m.group(3), m.group(2)))
    top = []
    if log.exists():
        # the parallel session copies the end of failed groups' logs into its own: their
        # sessions are listed from the groups' own logs
        for m in _SUMMARY.finditer(log.read_text(errors='replace')):
            if m.group(1) not in in_groups and m.group(1) != 'parallel' and \
                    m.group(1) not in [t[0] for t in top]:
                top.append((m.group(1), m.group(3), m.group(2)))
    for name, took, result in top + rows:
        print('| &nbsp;&nbsp;nox %s | %s | %s |' % (name, _mmss(_seconds(took)), result))
    print('| **total** | %s | |' % _mmss(total))
    return 0


if __name__ == '__main__':
    sys.exit(main())
