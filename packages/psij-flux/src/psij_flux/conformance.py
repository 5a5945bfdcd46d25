"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance flux --scheduler-view psij_flux.conformance:scheduler_view \\
        --attr flux.setattr.user.tag=hello --attr flux.setopt.cpu-affinity=off

It reads the job's jobspec (``flux job info ID jobspec``) and record (``flux jobs --json ID``)
from the instance in ``$FLUX_URI`` and returns the keys the kit compares.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, Dict, Mapping

from psij_flux.bindings import flux_command
from psij_flux.job_ids import parse_job_id


def _flux_json(*args: str) -> Any:
    p = subprocess.run([flux_command(), *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError('flux %s failed: %s' % (' '.join(args), p.stderr.strip()))
    return json.loads(p.stdout)


def _leaves(prefix: str, d: Mapping[str, Any], out: Dict[str, Any]) -> None:
    for k, v in d.items():
        key = '%s.%s' % (prefix, k)
        if isinstance(v, Mapping):
            _leaves(key, v, out)
        else:
            out[key] = v


def _text(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``walltime`` (seconds), ``node_count``, ``process_count``, ``queue``, ``account`` (the
    bank), and for every jobspec attribute ``flux.setattr.<path>`` (also ``flux.<path>``, and
    without the ``system.`` prefix) and for every shell option ``flux.setopt.<option>``.
    """
    dec = str(parse_job_id(native_id))
    spec = _flux_json('job', 'info', dec, 'jobspec')
    rec = _flux_json('jobs', '--json', dec)
    system = spec.get('attributes', {}).get('system', {})
    view: Dict[str, Any] = {
        'walltime': _text(system.get('duration')),
        'node_count': rec.get('nnodes'),
        'process_count': rec.get('ntasks'),
        'queue': system.get('queue'),
        'account': system.get('bank'),
    }
    attrs: Dict[str, Any] = {}
    _leaves('', {k: v for k, v in spec.get('attributes', {}).items()}, attrs)
    for path, v in attrs.items():
        path = path[1:]
        view['flux.setattr.' + path] = _text(v)
        view['flux.' + path] = _text(v)
        if path.startswith('system.'):
            view['flux.' + path[len('system.'):]] = _text(v)
            view['flux.setattr.' + path[len('system.'):]] = _text(v)
    opts: Dict[str, Any] = {}
    _leaves('', system.get('shell', {}).get('options', {}), opts)
    for path, v in opts.items():
        view['flux.setopt.' + path[1:]] = _text(v)
    return {k: v for k, v in view.items() if v is not None}
