"""
``psij submit --spec FILE.json`` where the file holds a JSON **list** of job specifications:
all of them through one `JobExecutor.submit_many` (batch schedulers: native job arrays).

Prints one line per job, in the order of the list: its native id, or ``FAILED: <refusal>``
for a job the executor refused (``--json``: one list of ``{"native_id", "state",
"message"}``). Exits 0 if every job was accepted, else 125 after printing them all. The other
specification flags (``--env``, ``--name``, a command...) cannot be combined with a list.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, List, Optional

from psij.exceptions import InvalidJobException
from psij.job import Job
from psij.job_spec import JobSpec

_SPEC_FLAGS = ('launcher', 'name', 'cwd', 'env', 'clean_env', 'stdin', 'stdout', 'stderr',
               'pre_launch', 'post_launch', 'processes', 'nodes', 'command')


def load_spec_list(path: str) -> Optional[List[JobSpec]]:
    """The specifications of a file holding a JSON list; `None` if it holds one object (or
    is ``-``, standard input, which is read as one specification).

    :raises InvalidJobException: naming the item of the list that is not a valid spec.
    """
    from psij.serialize import JSONSerializer
    if path == '-':
        return None
    with open(path) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as ex:
        raise InvalidJobException('%s: not JSON: %s' % (path, ex), ex) from ex
    if not isinstance(doc, list):
        return None
    ser = JSONSerializer()
    specs = []
    for i, d in enumerate(doc):
        try:
            specs.append(ser.from_dict(d))
        except InvalidJobException as ex:
            raise InvalidJobException('%s, item %d of the list: %s' % (path, i, ex), ex) \
                from ex
    return specs


def submit_list(args: argparse.Namespace, specs: List[JobSpec]) -> int:
    """Submits `specs` with one `submit_many` and prints the outcome (module doc)."""
    from psij.job_executor import JobExecutor
    given = [f for f in _SPEC_FLAGS if getattr(args, f, None) not in (None, False, [])]
    if given:
        raise InvalidJobException('--%s cannot be combined with a list of specifications in '
                                  '--spec' % given[0].replace('_', '-'))
    if args.executor == 'local':
        raise InvalidJobException('a list of specifications needs a batch or Flux executor '
                                  '(--executor): local jobs end with this command')
    ex = JobExecutor.get_instance(args.executor, url=args.url)
    jobs = [Job(s) for s in specs]
    refused = ex.submit_many(jobs)
    rows: List[Any] = []
    for j in jobs:
        st = j.status
        rows.append({'native_id': j.native_id, 'state': str(st.state),
                     'message': st.message if j.native_id is None else None})
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(r['native_id'] if r['native_id'] else 'FAILED: %s' % r['message'])
    return 125 if refused else 0
