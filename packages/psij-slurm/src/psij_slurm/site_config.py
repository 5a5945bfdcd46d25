"""
What this Slurm cluster enforces, read from ``scontrol show config``.

Sites configure Slurm differently: a cluster without ``EnforcePartLimits`` accepts a 50-node
request on a 3-node partition (the job then pends forever), and one without memory
enforcement lets a job use more memory than ``--mem``. The conformance kit
(:func:`psij_slurm.conformance.missing_capabilities`) and this package's tests ask here first,
and skip what the cluster does not enforce with a message naming the setting.
"""

from __future__ import annotations

import subprocess
from typing import Dict, Optional

NOT_SET = ('', '(null)', '(null type)', 'none')


def parse_config(text: str) -> Dict[str, str]:
    """``scontrol show config`` output as {key: value} (the first value of each key)."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        key = key.strip()
        if sep and key and ' ' not in key:
            out.setdefault(key, value.strip())
    return out


def show_config(timeout: float = 30.0) -> Dict[str, str]:
    """Runs ``scontrol show config`` and parses it.

    :raises RuntimeError: if scontrol fails or cannot be run.
    """
    try:
        p = subprocess.run(['scontrol', 'show', 'config'], capture_output=True, text=True,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise RuntimeError('cannot run scontrol show config: %s' % ex) from None
    if p.returncode != 0:
        raise RuntimeError('scontrol show config failed: %s' % (p.stderr or p.stdout).strip())
    return parse_config(p.stdout)


def _words(value: Optional[str]) -> set[str]:
    return {w.strip().lower() for w in (value or '').split(',') if w.strip()}


def partition_limits_problem(config: Dict[str, str]) -> Optional[str]:
    """Why this cluster does not refuse at submit a request over a partition's limits (e.g.
    more nodes than it has), or `None` if it does."""
    value = config.get('EnforcePartLimits', '')
    if value.upper() in ('ALL', 'ANY', 'YES'):
        return None
    return ('scontrol show config: EnforcePartLimits = %s, so Slurm accepts a request over the '
            'partition\'s limits (it pends instead of being refused); set EnforcePartLimits=ALL '
            'in slurm.conf' % (value or '(not shown)'))


def memory_problem(config: Dict[str, str]) -> Optional[str]:
    """Why this cluster does not stop a job using more memory than ``--mem``, or `None` if it
    does: with task/cgroup and ``ConstrainRAMSpace=yes``, or with a job accounting plugin and
    ``JobAcctGatherParams=OverMemoryKill``."""
    tasks = _words(config.get('TaskPlugin'))
    cgroup = 'task/cgroup' in tasks and config.get('ConstrainRAMSpace', '').lower() == 'yes'
    gather = config.get('JobAcctGatherType', '').lower()
    overkill = 'overmemorykill' in _words(config.get('JobAcctGatherParams')) and \
        gather not in NOT_SET and gather != 'jobacct_gather/none'
    if cgroup or overkill:
        return None
    return ('scontrol show config: TaskPlugin = %s, ConstrainRAMSpace = %s, JobAcctGatherType = '
            '%s, JobAcctGatherParams = %s: Slurm does not stop a job over its --mem; enforce it '
            'with task/cgroup and ConstrainRAMSpace=yes (cgroup.conf), or with '
            'JobAcctGatherParams=OverMemoryKill'
            % (config.get('TaskPlugin') or '(not shown)',
               config.get('ConstrainRAMSpace') or '(not shown)', gather or '(not shown)',
               config.get('JobAcctGatherParams') or '(not shown)'))
