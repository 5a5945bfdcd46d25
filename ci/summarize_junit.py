"""Adds up the JUnit XML reports of a CI run and prints one closing line.

Exits 1 if any test failed or errored, or if no test ran at all.
Usage: python3 ci/summarize_junit.py REPORT_DIR
"""

from __future__ import annotations

import pathlib
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'reports')
    passed = failed = skipped = 0
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
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
