"""
What a forked child of a psij process inherits and what it rebuilds, decided in one place.

Users fork (``multiprocessing`` pools with the fork start method, daemons). A child gets a copy
of the parent's memory but only the thread that forked: every background thread of psij (the
local reaper, the staging worker, the batch status engines) is gone, and any lock one of them
held stays held forever. So, in the child, right after ``fork``:

- `Job` ids get a new random prefix and a new counter: two processes never name two jobs
  alike (batch submit scripts are named after the job id);
- the local executor's reaper, staging worker, ``/dev/null`` descriptor and journals are
  dropped, and rebuilt on first use;
- the batch status engines are dropped with the parent's jobs: a child follows only the jobs it
  submits or attaches itself; the parent keeps following its own.

Each module registers its rebuild step with `after_fork_in_child`; `os.register_at_fork` runs
them all, in registration order, before ``fork()`` returns in the child.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Callable, List

_steps: List[Callable[[], None]] = []


def after_fork_in_child(step: Callable[[], None]) -> Callable[[], None]:
    """Registers `step` to run in every forked child (usable as a decorator)."""
    _steps.append(step)
    return step


def _run_steps() -> None:
    for step in _steps:
        try:
            step()
        except Exception:  # a child must be able to start whatever happens here
            pass


os.register_at_fork(after_in_child=_run_steps)
