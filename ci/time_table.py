"""Prints where a CI run's time went: its phases, then each nox session (those of the
``parallel`` session's groups, in reports/logs/, included; they ran side by side, so their
times add up to more than the phase).

Usage: python3 ci/time_table.py NOX_LOG 'NAME|SECONDS|EXIT_CODE'...
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_SESSION = re.compile(r'Session (\S+) (was successful|failed|was skipped|aborted)'
                      r'(?: in ([^.]+))?\.')


def _seconds(text: str) -> int:
    total = 0
    for n, unit in re.findall(r'(\d+) (hour|minute|second)', text or ''):
        total += int(n) * {'hour': 3600, 'minute': 60, 'second': 1}[unit]
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
    logs = [log] + sorted((log.parent / 'logs').glob('group-*.log'))
    for f in logs:
        if not f.exists():
            continue
        where = '' if f == log else ' (%s)' % f.stem
        for m in _SESSION.finditer(f.read_text(errors='replace')):
            print('| &nbsp;&nbsp;nox %s%s | %s | %s |' % (
                m.group(1), where, _mmss(_seconds(m.group(3))), m.group(2)))
    print('| **total** | %s | |' % _mmss(total))
    return 0


if __name__ == '__main__':
    sys.exit(main())
