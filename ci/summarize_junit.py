"""Adds up the JUnit XML reports of a CI run and prints one closing line.

Each failed or errored test is named, with the first line of its message, after the counts, so
that the end of the CI log says what failed even when earlier output is cut.
Exits 1 if any test failed or errored, or if no test ran at all.
Usage: python3 ci/summarize_junit.py REPORT_DIR
"""

from __future__ import annotations

import pathlib
import sys
import xml.etree.ElementTree as ET

MAX_NAMED = 30


def _first_line(case: ET.Element) -> str:
    for tag in ('failure', 'error'):
        node = case.find(tag)
        if node is not None:
            text = (node.get('message') or node.text or '').strip()
            return text.splitlines()[0][:160] if text else tag
    return ''


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'reports')
    passed = failed = skipped = 0
    failures: list[str] = []
    for f in sorted(root.rglob('*.xml')):
        tree = ET.parse(f)
        for suite in tree.iter('testsuite'):
            total = int(suite.get('tests', 0))
            fail = int(suite.get('failures', 0)) + int(suite.get('errors', 0))
            skip = int(suite.get('skipped', 0))
            print('%-60s %4d tests, %d failed, %d skipped' % (f.relative_to(root), total, fail,
                                                              skip))
            passed += total - fail - skip
            failed += fail
            skipped += skip
            for case in suite.iter('testcase'):
                why = _first_line(case)
                if why:
                    failures.append('%s: %s::%s: %s' % (f.relative_to(root), case.get('classname'),
                                                        case.get('name'), why))
    if failures:
        print('failed:')
        for line in failures[:MAX_NAMED]:
            print('  ' + line)
        if len(failures) > MAX_NAMED:
            print('  ... and %d more' % (len(failures) - MAX_NAMED))
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
