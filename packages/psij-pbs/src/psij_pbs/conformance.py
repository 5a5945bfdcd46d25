"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance pbs --scheduler-view psij_pbs.conformance:scheduler_view \\
        --queue workq --account acct --attr pbs.P=myproject

It reads ``qstat -x -f -F json ID`` and returns the keys the kit compares.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Dict

from psij.job_attributes import JobAttributes

# qsub options whose value PBS shows under another attribute name
_OPTION_ATTRIBUTES = {'A': 'Account_Name', 'N': 'Job_Name', 'P': 'project', 'W': 'depend',
                      'r': 'Rerunable', 'm': 'Mail_Points', 'M': 'Mail_Users',
                      'p': 'Priority', 'q': 'queue'}


def _qstat(native_id: str) -> Dict[str, Any]:
    qstat = os.path.join(os.environ.get('PSIJ_PBS_COMMAND_DIR', ''), 'qstat')
    p = subprocess.run([qstat, '-x', '-f', '-F', 'json', native_id], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError('qstat -x -f -F json %s failed: %s' % (native_id, p.stderr.strip()))
    jobs = json.loads(p.stdout).get('Jobs', {})
    if not jobs:
        raise RuntimeError('qstat does not know job %s' % native_id)
    job = next(iter(jobs.values()))
    assert isinstance(job, dict)
    return job


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``queue``, ``account``, ``walltime`` (seconds), ``node_count``, ``process_count``, and
    ``pbs.<X>`` for qsub's one-letter options (``pbs.P`` -> ``project``) and ``pbs.<resource>``
    for every ``Resource_List`` entry.
    """
    job = _qstat(native_id)
    res = job.get('Resource_List', {})
    view: Dict[str, Any] = {
        'queue': job.get('queue'),
        'account': job.get('Account_Name'),
        'node_count': res.get('nodect'),
        'process_count': res.get('mpiprocs'),
    }
    walltime = res.get('walltime')
    if isinstance(walltime, str):
        view['walltime'] = int(JobAttributes.parse_walltime(walltime).total_seconds())
    for opt, attr in _OPTION_ATTRIBUTES.items():
        if attr in job:
            view['pbs.' + opt] = job[attr]
    for key, value in res.items():
        view['pbs.' + key] = value
    return {k: v for k, v in view.items() if v is not None}
