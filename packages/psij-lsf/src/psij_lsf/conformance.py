"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance lsf --scheduler-view psij_lsf.conformance:scheduler_view \\
        --queue normal --account proj --attr lsf.Jd=hello

It reads ``bjobs -o '...' -hms -json ID`` and returns the keys the kit compares.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Dict

_FIELDS = ('jobid stat queue proj_name runtimelimit exec_host slots nreq_slot job_name '
           'job_description user_group job_group job_priority sub_cwd output_file error_file '
           'dependency')

#: ``lsf.<bsub option>`` custom attributes and the bjobs field that shows each
OPTION_FIELDS = {'Jd': 'JOB_DESCRIPTION', 'J': 'JOB_NAME', 'G': 'USER_GROUP', 'g': 'JOB_GROUP',
                 'sp': 'JOB_PRIORITY', 'q': 'QUEUE', 'P': 'PROJ_NAME', 'o': 'OUTPUT_FILE',
                 'e': 'ERROR_FILE', 'w': 'DEPENDENCY', 'cwd': 'SUB_CWD'}


def _bjobs(native_id: str) -> Dict[str, str]:
    bindir = os.environ.get('PSIJ_LSF_BIN')
    bjobs = os.path.join(bindir, 'bjobs') if bindir else 'bjobs'
    p = subprocess.run([bjobs, '-a', '-hms', '-o', _FIELDS, '-json', native_id],
                       capture_output=True, text=True, timeout=60)
    start, end = p.stdout.find('{'), p.stdout.rfind('}')
    if start < 0:
        raise RuntimeError('bjobs %s failed: %s' % (native_id, (p.stdout + p.stderr).strip()))
    records = json.loads(p.stdout[start:end + 1]).get('RECORDS') or []
    if not records or 'ERROR' in records[0]:
        raise RuntimeError('bjobs does not know job %s: %s' % (native_id, p.stderr.strip()))
    return {str(k): str(v) for k, v in records[0].items()}


def _seconds(hms: str) -> int:
    parts = [float(x) for x in hms.split(':')]
    secs = 0.0
    for x in parts:
        secs = secs * 60 + x
    return int(secs)


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``queue``, ``account`` (the project), ``walltime`` (seconds, from RUNTIMELIMIT),
    ``node_count`` (distinct execution hosts), ``process_count`` (slots), and
    ``lsf.<option>`` for the ``bsub`` options whose value ``bjobs`` shows (e.g. ``lsf.Jd`` ->
    JOB_DESCRIPTION; see `OPTION_FIELDS`).
    """
    f = _bjobs(native_id)
    view: Dict[str, Any] = {'queue': f.get('QUEUE'), 'account': f.get('PROJ_NAME')}
    hosts = [h for h in f.get('EXEC_HOST', '').split(':') if h]
    if hosts:
        view['node_count'] = len(set(hosts))
        view['process_count'] = len(hosts)
    limit = f.get('RUNTIMELIMIT', '')
    if limit and limit[0].isdigit():
        try:
            view['walltime'] = _seconds(limit.split('/')[0])
        except ValueError:
            pass
    for opt, field in OPTION_FIELDS.items():
        if f.get(field):
            view['lsf.' + opt] = f[field]
    return {k: v for k, v in view.items() if v not in (None, '')}
