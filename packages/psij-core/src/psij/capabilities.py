"""
The capabilities an executor may declare it lacks, and what each one gates.

An executor declares what it cannot do once, in its registration::

    Descriptor(name='mine', version='1.0', cls='my_pkg.MyExecutor',
               unsupported={MULTI_NODE: 'runs every job on the submitting host'})

(a launcher's descriptor may declare ``multi_process`` / ``multi_node`` the same way). The
conformance kit skips the checks that need a missing capability, with the declared reason,
and lists them in its report. A site may add declarations for its own machine with
``--psij-unsupported NAME=REASON``; a test subclass with its ``unsupported`` class attribute.
Any name not listed here is reported as unknown, so a typo cannot hide a check.
"""

from __future__ import annotations

from typing import Dict

MULTI_PROCESS = 'multi_process'
"""Several processes (ranks) per job, started by the job's launcher."""

MULTI_NODE = 'multi_node'
"""Jobs that span several compute nodes."""

ATTACH = 'attach'
"""``JobExecutor.attach()`` from a new executor instance in the same process."""

ATTACH_OTHER_PROCESS = 'attach_other_process'
"""``JobExecutor.attach()`` from a process other than the one that submitted the job."""

LIST = 'list'
"""``JobExecutor.list()`` returns the native ids of the user's jobs."""

PRE_POST_LAUNCH = 'pre_post_launch'
"""``JobSpec.pre_launch`` and ``JobSpec.post_launch`` scripts."""

STAGING = 'staging'
"""``JobSpec.stage_in``, ``stage_out`` and ``cleanup``."""

WALLTIME = 'walltime'
"""``JobAttributes.duration`` is enforced: a job running longer is stopped and fails."""

MEMORY_LIMITS = 'memory_limits'
"""``ResourceSpecV1.memory`` is enforced: a job using more memory is stopped and fails."""

SIGNAL_EXIT = 'signal_exit'
"""A job killed by a signal is reported ``FAILED`` with an exit code that names the signal."""

SUBMITTER_ENVIRONMENT = 'submitter_environment'
"""With ``inherit_environment`` (the default), a job sees the submitting process's variables
(an executor of another host gives its jobs that host's environment instead)."""

DESCRIPTIONS: Dict[str, str] = {
    MULTI_PROCESS: 'several processes (ranks) per job, started by the launcher',
    MULTI_NODE: 'jobs spanning several compute nodes',
    ATTACH: 'attach() from a new executor instance in the same process',
    ATTACH_OTHER_PROCESS: 'attach() from another process',
    LIST: 'list() returns the native ids of the user\'s jobs',
    PRE_POST_LAUNCH: 'pre_launch and post_launch scripts',
    STAGING: 'stage_in, stage_out and cleanup',
    WALLTIME: 'JobAttributes.duration is enforced',
    MEMORY_LIMITS: 'ResourceSpecV1.memory is enforced',
    SIGNAL_EXIT: 'a job killed by a signal is FAILED with an exit code naming the signal',
    SUBMITTER_ENVIRONMENT: 'jobs inherit the environment of the submitting process',
}
"""Every capability name the kit knows, with a one-line description."""

ALL = frozenset(DESCRIPTIONS)
"""Every capability name the kit knows."""
