"""
The scheduler's view of a job for the PSI/J conformance kit::

    psij conformance sge --scheduler-view psij_sge.conformance:scheduler_view \\
        --queue all.q --account acct --attr sge.P=myproject

It reads ``qstat -j ID -xml`` (what the job asked for) and ``qstat -g t -xml`` (where its
slots run), with the commands of ``PSIJ_SGE_COMMAND_DIR`` (else ``PATH``), and returns the keys
the kit compares.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from typing import Any, Dict, List

# qsub options whose value qstat -j -xml shows under another element
_OPTION_ELEMENTS = {'A': 'JB_account', 'N': 'JB_job_name', 'P': 'JB_project',
                    'js': 'JB_jobshare', 'ar': 'JB_ar', 'pe': 'JB_pe'}


def _command(*args: str) -> str:
    cmd = os.path.join(os.environ.get('PSIJ_SGE_COMMAND_DIR', ''), args[0])
    p = subprocess.run([cmd, *args[1:]], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(args), (p.stderr or p.stdout).strip()))
    return p.stdout


def _hosts(native_id: str) -> List[str]:
    """The hosts of the queue instances the job's slots run in (``qstat -g t``)."""
    root = ET.fromstring(_command('qstat', '-g', 't', '-xml', '-u', '*'))
    hosts = []
    for jl in root.iter('job_list'):
        if (jl.findtext('JB_job_number') or '').strip() == native_id:
            queue = (jl.findtext('queue_name') or '').strip()
            if '@' in queue:
                hosts.append(queue.split('@', 1)[1])
    return hosts


def scheduler_view(native_id: str) -> Dict[str, Any]:
    """
    ``queue``, ``account``, ``walltime`` (seconds, from ``h_rt``), ``node_count`` (distinct
    hosts of a running job), ``process_count`` (slots), ``sge.<X>`` for qsub options shown
    under their own element (``sge.P`` -> project, ``sge.A``, ``sge.N``, ``sge.js``, ``sge.pe``)
    and ``sge.l`` (the hard resource requests, ``name=value`` joined by ``,``).
    """
    root = ET.fromstring(_command('qstat', '-j', native_id, '-xml'))
    job = root.find('djob_info/element')
    if job is None:
        raise RuntimeError('qstat -j does not know job %s' % native_id)
    view: Dict[str, Any] = {'account': job.findtext('JB_account')}
    queues = [q.text.strip() for q in job.iter('QR_name') if q.text]
    if queues:
        view['queue'] = ','.join(queues)
    resources = []
    for req in job.iterfind('JB_hard_resource_list/qstat_l_requests'):
        name = (req.findtext('CE_name') or '').strip()
        value = (req.findtext('CE_stringval') or '').strip()
        resources.append('%s=%s' % (name, value))
        if name == 'h_rt':
            view['walltime'] = int(float(req.findtext('CE_doubleval') or value))
    if resources:
        view['sge.l'] = ','.join(resources)
    slots = job.findtext('JB_pe_range/ranges/RN_min')
    view['process_count'] = int(slots) if slots and job.findtext('JB_pe') else 1
    hosts = _hosts(native_id)
    if hosts:
        view['node_count'] = len(set(hosts))
    for opt, element in _OPTION_ELEMENTS.items():
        shown = job.findtext(element)
        if shown is not None:
            view['sge.' + opt] = shown.strip()
    return {k: v for k, v in view.items() if v is not None}
