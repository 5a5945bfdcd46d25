"""The ``psij`` entry point of psij-launchers: registers the launchers without importing them."""

from __future__ import annotations

from typing import List

from psij.descriptor import Descriptor
from psij.plugins import hookimpl

from psij_launchers.version import VERSION

_CLASSES = {
    'multiple': 'psij_launchers.multiple.MultipleLauncher',
    'mpirun': 'psij_launchers.mpirun.MpirunLauncher',
    'srun': 'psij_launchers.srun.SrunLauncher',
    'jsrun': 'psij_launchers.jsrun.JsrunLauncher',
    'aprun': 'psij_launchers.aprun.AprunLauncher',
    'ibrun': 'psij_launchers.ibrun.IbrunLauncher',
}

_ALIASES = {'jsrun': ['jrun']}

# capabilities of the PSI/J contract a launcher cannot provide (see the conformance kit)
_UNSUPPORTED = {'multiple': {'multi_node': 'multiple starts every copy on the lead node'}}


@hookimpl
def psij_launchers() -> List[Descriptor]:
    """
    The launchers of this distribution, one descriptor each.

    ``jsrun`` is also available as ``jrun``, the name psij-python registers it under, so that
    programs written for psij-python run unchanged. ``multiple`` declares that it cannot span
    nodes, so the conformance kit skips its multi-node checks with that reason.
    """
    return [Descriptor(name=name, version=VERSION, cls=cls, aliases=_ALIASES.get(name),
                       unsupported=_UNSUPPORTED.get(name))
            for name, cls in _CLASSES.items()]
