"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance slurm --scheduler-view psij_slurm.conformance:scheduler_view \\
        --queue debug --account acct --attr slurm.comment=hello

It reads ``scontrol show job -o ID`` and returns the keys the kit compares. The kit also calls
`missing_capabilities`, which reads ``scontrol show config``.
"""

from __future__ import annotations

import subprocess
from typing import Any, Dict

from psij.job_attributes import JobAttributes

from psij_slurm.site_config import memory_problem, show_config


def _scontrol(native_id: str) -> Dict[str, str]:
    p = subprocess.run(['scontrol', 'show', 'job', '-o', native_id], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError('scontrol show job %s failed: %s' % (native_id, p.stderr.strip()))
    fields: Dict[str, str] = {}
    for word in p.stdout.split():
        key, sep, value = word.partition('=')
        if sep and key not in fields:
            fields[key] = value
    return fields


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``queue``, ``account``, ``reservation``, ``walltime`` (seconds), ``node_count``,
    ``process_count``, and ``slurm.<option>`` for every ``scontrol`` field whose name matches
    the option (case and dashes ignored, e.g. ``slurm.comment`` -> ``Comment``).
    """
    f = _scontrol(native_id)
    view: Dict[str, Any] = {
        'queue': f.get('Partition'),
        'account': f.get('Account'),
        'node_count': f.get('NumNodes'),
        'process_count': f.get('NumTasks'),
    }
    if f.get('Reservation') not in (None, '(null)'):
        view['reservation'] = f['Reservation']
    limit = f.get('TimeLimit', '')
    if limit and limit not in ('UNLIMITED', 'Partition_Limit'):
        days, _, hms = limit.rpartition('-')
        view['walltime'] = int(JobAttributes.parse_walltime(hms).total_seconds()) + \
            int(days or 0) * 86400
    for key, value in f.items():
        view['slurm.' + key.lower()] = value
        view['slurm.' + key] = value
    return {k: v for k, v in view.items() if v is not None}


def missing_capabilities(executor: Any) -> Dict[str, str]:
    """
    What this cluster does not enforce, for the kit (see :mod:`psij_slurm.site_config`):
    ``memory_limits`` unless ``scontrol show config`` shows a memory enforcement.
    """
    problem = memory_problem(show_config())
    return {} if problem is None else {'memory_limits': problem}
