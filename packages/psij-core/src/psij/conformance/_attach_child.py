"""
Helper process for the attach-from-another-process check.

``python -m psij.conformance._attach_child --executor NAME NATIVE_ID`` attaches a new job to
NATIVE_ID, prints ``attached``, waits for the job to end and prints a JSON line with its final
state, exit code and any rule its callbacks broke.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import List, Optional

from psij import Job, JobExecutor
from psij.conformance.harness import Recorder, history_problems


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the helper; returns 0 if the job reached a final state in time."""
    p = argparse.ArgumentParser()
    p.add_argument('--executor', required=True)
    p.add_argument('--url')
    p.add_argument('--timeout', type=float, default=120.0)
    p.add_argument('--import', dest='imports', action='append', default=[])
    p.add_argument('native_id')
    args = p.parse_args(argv)
    for m in args.imports:
        importlib.import_module(m)
    ex = JobExecutor.get_instance(args.executor, url=args.url)
    rec = Recorder()
    ex.set_job_status_callback(rec.executor_callback)
    job = Job()
    job.set_job_status_callback(rec.job_callback)
    ex.attach(job, args.native_id)
    print('attached', job.status.state, flush=True)
    st = job.wait(timeout=args.timeout)
    if st is None:
        print(json.dumps({'state': None, 'exit_code': None,
                          'problems': ['no final state within %ss' % args.timeout]}))
        return 1
    problems = history_problems(rec, job, ran=True)
    print(json.dumps({'state': st.state.name, 'exit_code': st.exit_code, 'problems': problems}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
