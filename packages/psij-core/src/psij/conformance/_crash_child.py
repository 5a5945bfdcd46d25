"""
Helper process for the crash-recovery check (see :mod:`psij.conformance.crash_checks`).

``python -m psij.conformance._crash_child --executor NAME SPECS IDS`` reads a JSON list of job
specs (the core's JSON format) from the file SPECS, submits them in order and appends, after
each submit, a line ``INDEX<TAB>NATIVE_ID`` (or ``INDEX<TAB>!MESSAGE`` if submit raised) to the
file IDS, flushed to disk; then prints ``submitted N`` and waits to be killed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
from typing import List, Optional

from psij import Job, JobExecutor
from psij.serialize import JSONSerializer


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the helper; it only returns if it could not start."""
    p = argparse.ArgumentParser()
    p.add_argument('--executor', required=True)
    p.add_argument('--url')
    p.add_argument('--import', dest='imports', action='append', default=[])
    p.add_argument('specs')
    p.add_argument('ids')
    args = p.parse_args(argv)
    for m in args.imports:
        importlib.import_module(m)
    with open(args.specs, encoding='utf-8') as f:
        dicts = json.load(f)
    ser = JSONSerializer()
    specs = [ser.from_dict(d) for d in dicts]
    ex = JobExecutor.get_instance(args.executor, url=args.url)
    with open(args.ids, 'a', encoding='utf-8') as out:
        for i, spec in enumerate(specs):
            job = Job(spec)
            try:
                ex.submit(job)
                line = '%d\t%s\n' % (i, job.native_id)
            except Exception as e:  # reported to the check, which fails on it
                line = '%d\t!%s: %s\n' % (i, type(e).__name__, str(e).replace('\n', ' '))
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
    print('submitted', len(specs), flush=True)
    threading.Event().wait()  # until the check kills this process
    return 0


if __name__ == '__main__':
    sys.exit(main())
