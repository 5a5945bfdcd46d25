"""
The conformance kit's launch checks with Flux-started ranks (``mpirun``), as a test subclass.

``test_multi_node`` is the kit's check with one difference: the kit tells nodes apart by
``$SLURMD_NODENAME`` or ``uname -n``, and the two nodes of the CI instance are two brokers on
one host (same ``uname -n``); here each rank names its node as Flux does (``flux getattr
hostname`` of the broker that started it). The rest is inherited unchanged.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from psij import JobState, ResourceSpecV1
from psij.conformance import capabilities as cap
from psij.conformance.base import requires
from psij.conformance.harness import Kit
from psij.conformance.suite import LaunchChecks, ResourceChecks
from psij_flux.conformance import scheduler_view

FLUX_RANK_SCRIPT = r'''f=$(mktemp "$1/rank.XXXXXXXX") || exit 3
{
  flux getattr hostname 2>/dev/null || uname -n
  if [ -r "${PSIJ_NODEFILE:-}" ]; then echo nodefile; cat "$PSIJ_NODEFILE"; fi
} > "$f"'''


@pytest.mark.flux
@pytest.mark.usefixtures('flux_instance')
class TestFluxLaunch(LaunchChecks, ResourceChecks):
    """The kit's launch and resource checks against ``flux`` with ``mpirun``."""

    executor = 'flux'
    launcher = 'mpirun'
    account = 'psij-bank'
    attr = {'flux.setattr.user.tag': 'kit', 'flux.setopt.cpu-affinity': 'off'}

    def scheduler_view(self, native_id: str) -> Dict[str, Any]:
        """Flux's view of the job (jobspec and record)."""
        return scheduler_view(native_id)

    @requires(cap.MULTI_NODE, cap.MULTI_PROCESS)
    def test_multi_node(self, kit: Kit) -> None:
        """node_count nodes, one rank each, on distinct Flux nodes listed in $PSIJ_NODEFILE."""
        n = kit.options.nodes
        ranks = kit.unique('ranks')
        ranks.mkdir()
        st = kit.run(kit.sh_spec(FLUX_RANK_SCRIPT, ranks, resources=ResourceSpecV1(
            node_count=n, processes_per_node=1)))
        assert st.state is JobState.COMPLETED, st
        files = [p.read_text().splitlines() for p in sorted(ranks.iterdir())]
        assert len(files) == n, '%d ranks ran, not %d' % (len(files), n)
        assert len({f[0] for f in files}) == n, 'ranks ran on %s' % [f[0] for f in files]
        for f in files:
            assert f[1] == 'nodefile' and sorted(f[2:]) == sorted(x[0] for x in files), f
