"""Finding out what a Slurm cluster enforces (``psij_slurm.site_config``), on the real
``scontrol show config`` output of the CI cluster (samples/ci/scontrol_show_config.out) and on
that output with the settings a differently configured site has; and the kit's hook."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

import pytest
from psij_slurm import conformance, site_config

SAMPLE = Path(__file__).parent / 'samples' / 'ci' / 'scontrol_show_config.out'


def _config(**changes: str) -> Dict[str, str]:
    """The sample's config with some keys set to other values (the way scontrol prints)."""
    text = SAMPLE.read_text()
    for key, value in changes.items():
        text, n = re.subn(r'(?m)^%s\s*=.*$' % key, '%-23s = %s' % (key, value), text)
        if n == 0:
            text += '%-23s = %s\n' % (key, value)
    return site_config.parse_config(text)


def test_the_ci_cluster_enforces_partition_limits_and_memory() -> None:
    cfg = site_config.parse_config(SAMPLE.read_text())
    assert cfg['EnforcePartLimits'] == 'ALL'
    assert cfg['TaskPlugin'] == 'task/none'
    assert cfg['SLURM_VERSION'] == '22.05.8'
    assert site_config.partition_limits_problem(cfg) is None
    assert site_config.memory_problem(cfg) is None  # OverMemoryKill


@pytest.mark.parametrize('value', ['NO', ''])
def test_no_enforce_part_limits_is_found(value: str) -> None:
    problem = site_config.partition_limits_problem(_config(EnforcePartLimits=value))
    assert problem is not None
    assert 'EnforcePartLimits' in problem and 'EnforcePartLimits=ALL' in problem


@pytest.mark.parametrize('changes, enforced', [
    ({'JobAcctGatherParams': '(null)'}, False),
    ({'JobAcctGatherParams': 'NoShared,OverMemoryKill'}, True),
    ({'JobAcctGatherType': 'jobacct_gather/none'}, False),
    ({'JobAcctGatherParams': '(null)', 'TaskPlugin': 'task/affinity,task/cgroup',
      'ConstrainRAMSpace': 'yes'}, True),
    ({'JobAcctGatherParams': '(null)', 'TaskPlugin': 'task/affinity,task/cgroup',
      'ConstrainRAMSpace': 'no'}, False),
    ({'JobAcctGatherParams': '(null)', 'TaskPlugin': 'task/affinity',
      'ConstrainRAMSpace': 'yes'}, False),
])
def test_memory_enforcement_is_found(changes: Dict[str, str], enforced: bool) -> None:
    problem = site_config.memory_problem(_config(**changes))
    if enforced:
        assert problem is None, problem
    else:
        assert problem is not None
        assert 'OverMemoryKill' in problem and 'ConstrainRAMSpace' in problem, problem


def test_kit_hook_asks_the_real_cluster(slurm_cluster: None) -> None:
    # the CI cluster enforces memory (OverMemoryKill): nothing is missing
    assert conformance.missing_capabilities(None) == {}


def test_kit_hook_names_memory_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conformance, 'show_config',
                        lambda: _config(JobAcctGatherParams='(null)'))
    missing = conformance.missing_capabilities(None)
    assert list(missing) == ['memory_limits']
    assert 'JobAcctGatherParams' in missing['memory_limits']
