"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance cobalt --scheduler-view psij_cobalt.conformance:scheduler_view \\
        --queue default --account proj --attr cobalt.attrs=mcdram=cache

It reads ``qstat -lf ID`` (with the commands of ``PSIJ_COBALT_COMMAND_DIR``, else ``PATH``)
and returns the keys the kit compares.
"""

from __future__ import annotations

import ast
import os
import subprocess
from typing import Any, Dict

from psij_cobalt.cobalt_status import parse_long


def _qstat_long(native_id: str) -> Dict[str, str]:
    cmd = os.path.join(os.environ.get('PSIJ_COBALT_COMMAND_DIR', ''), 'qstat')
    p = subprocess.run([cmd, '-lf', native_id], capture_output=True, text=True, timeout=60)
    fields = parse_long(p.stdout).get(native_id)
    if fields is None:
        raise RuntimeError('qstat -lf does not know job %s: %s' % (
            native_id, (p.stdout + p.stderr).strip()))
    return fields


def _seconds(hms: str) -> int:
    secs = 0
    for part in hms.split(':'):
        secs = secs * 60 + int(part)
    return secs


def _attrs(text: str) -> str:
    """Cobalt shows ``attrs`` as a Python dict; the kit compares ``k=v:k2=v2``."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if not isinstance(value, dict):
        return text
    return ':'.join('%s=%s' % kv for kv in value.items())


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``queue``, ``account`` (the project), ``walltime`` (seconds), ``node_count`` (Nodes),
    ``process_count`` (Procs) and ``cobalt.attrs`` (``k=v:k2=v2``), ``cobalt.jobname``, as
    ``qstat -lf`` shows them.
    """
    f = _qstat_long(native_id)
    view: Dict[str, Any] = {'queue': f.get('Queue'), 'account': f.get('Project')}
    wall = f.get('WallTime', '')
    if wall[:1].isdigit():
        view['walltime'] = _seconds(wall)
    for key, name in (('node_count', 'Nodes'), ('process_count', 'Procs')):
        if f.get(name, '').isdigit():
            view[key] = int(f[name])
    if f.get('attrs') not in (None, '', '{}'):
        view['cobalt.attrs'] = _attrs(f['attrs'])
    if f.get('JobName') not in (None, '', 'N/A'):
        view['cobalt.jobname'] = f['JobName']
    return {k: v for k, v in view.items() if v not in (None, '', 'N/A')}
