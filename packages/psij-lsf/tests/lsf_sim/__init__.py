"""
An LSF simulator for psij-lsf's tests, layered over a real Slurm cluster.

``bin/`` holds ``bsub``, ``bjobs``, ``bkill`` and ``jsrun``: put it first on ``PATH`` (or point
``PSIJ_LSF_BIN`` at it). Jobs really queue and run on Slurm's nodes: ``bsub`` translates the
``#BSUB`` directives into ``sbatch`` options and starts the job script with LSF's environment
(``LSB_JOBID``, ``LSB_JOBNAME``, ``LSB_QUEUE``, ``LSB_HOSTS``, ``LSB_MCPU_HOSTS``,
``LSB_DJOB_HOSTFILE``, ``LSB_DJOB_NUMPROC``...); ``bjobs`` reads Slurm's state (``squeue``,
``sacct -c``) and prints it as LSF does; ``bkill`` cancels with ``scancel``; ``jsrun`` starts
ranks with ``srun``. What they print (messages, layouts, exit codes, states) follows the real
outputs in ``tests/samples/lsf``, against which ``test_lsf_sim_samples.py`` checks them.

The functions here are the simulated administrator's switches the tests use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from lsf_sim import state

BIN = Path(__file__).resolve().parent / 'bin'
"""The directory of the simulated commands."""


def set_down(down: bool) -> None:
    """Makes the LSF master unreachable (``Cannot connect to LSF. Please wait ...``) or back."""
    state.set_flag('down', 'down\n' if down else None)


def set_busy(lines: Optional[int]) -> None:
    """Makes ``bjobs``/``bsub`` print `lines` "Please wait" lines first (None: stop)."""
    state.set_flag('busy', None if lines is None else '%d\n' % lines)


def forget(job_id: str) -> None:
    """Makes LSF forget a job, as after CLEAN_PERIOD or an mbatchd restart."""
    state.job_file(job_id, '.forgotten').write_text('')


def force_stat(job_id: str, stat: Optional[str]) -> None:
    """Shows `stat` (``UNKWN``, ``ZOMBI``, ``SSUSP``...) for an unfinished job (None: stop)."""
    p = state.job_file(job_id, '.force')
    if stat is None:
        if p.exists():
            os.unlink(p)
    else:
        p.write_text(stat + '\n')


__all__ = ['BIN', 'force_stat', 'forget', 'set_busy', 'set_down', 'state']
