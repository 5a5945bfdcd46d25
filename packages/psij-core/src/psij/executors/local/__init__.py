"""The ``local`` executor: runs jobs as processes on this machine.

A job that needs no shell (no pre/post-launch script, the ``single`` launcher) is started
directly with its argv, byte-exact; otherwise a small POSIX shell wrapper
(``psij/launchers/scripts/launch.sh``) sources the pre-launch script, runs the launcher's
command and sources the post-launch script, all from argv, never by pasting user strings into
shell code. Every job runs in its own session and process group.

The processes are started, reaped and recorded by the submitting process's keeper
(`_keeper`), a small process that outlives the submitter until its last job has ended: a job's
final state and exit code are recorded in a private per-user state directory (`_local_state`)
whatever happens to the submitter, and any later process can `attach` to it. The submitter's
one reaper thread (`_reaper`) receives the ends from the keeper and watches attached jobs.
Cancel sends SIGTERM to the job's process group and SIGKILL after
`LocalJobExecutorConfig.cancel_grace_period`; the job ends ``CANCELED`` with the exit code its
process exited with (a job that traps SIGTERM and exits 0 has 0), or none if the cancel's
signal killed it.

Linux only (pidfds: kernel 5.4 or later).

The package's modules, each with one job:

- `local_executor`: `LocalJobExecutor`, the API side: checks, launch commands, staging, ends;
- `_lifecycle`: `LocalJob`, one job's phases and their transitions under one lock;
- `_keeper`: the keeper process; `_keeper_client`: the submitter's connection to it;
  `_keeper_messages`: the typed messages both ends import;
- `_local_state`: native ids and the per-user journals that `attach` and `list` read;
- `_local_spawn`: what a start needs (environment, executable, standard streams);
- `_local_staging`: stage-in, stage-out and cleanup, and the worker thread that runs them;
- `_reaper`: the event loop (pidfds, deadlines) of the submitter and of the keeper.

The keeper runs only the private modules (it is started with a bare ``psij`` package, see
`_keeper_client`): nothing here may import this package's public names from them.
"""

from psij.executors.local.local_executor import LocalJobExecutor, LocalJobExecutorConfig

__all__ = ['LocalJobExecutor', 'LocalJobExecutorConfig']
