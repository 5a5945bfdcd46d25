"""
psij-remote: any PSI/J executor of another host, over OpenSSH.

``JobExecutor.get_instance('slurm', url='ssh://alice@login1.example.org')`` returns a
:class:`~psij_remote.executor.RemoteJobExecutor` whose jobs run on that host's ``slurm``; the
far end needs ``pip install psij-remote psij-slurm`` (or a virtual environment named in the URL:
``ssh://login1/~/venvs/psij``). See the package's README for set-up (``ControlMaster`` for
sites with one-time codes) and what happens when the connection drops.
"""

from psij_remote.version import VERSION

__all__ = ['VERSION']
