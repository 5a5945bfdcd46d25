"""
Launcher scripts written for psij-python, run unchanged.

psij-python's script launchers source ``launcher_lib.sh`` from their own directory and take
seven arguments before their own: the job id, the launcher log file, the pre- and post-launch
scripts, and the job's stdin, stdout and stderr. psij ships its own ``launcher_lib.sh`` giving
such a script the same variables and functions (``log``, ``pre_launch``, ``post_launch``; see
the file), deploys the script and the library side by side in the executor's work directory
(compute nodes read the launcher from there), and starts the script with those arguments.

psij's executors set up the job's directory, environment and streams and source its pre- and
post-launch scripts themselves, around the launch command; so the pre- and post-launch
arguments are empty (each runs once) and the streams are ``/dev/stdin``, ``/dev/stdout`` and
``/dev/stderr``, those the executor prepared.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

if TYPE_CHECKING:
    from psij.job import Job

LAUNCHER_LIB = Path(__file__).parent / 'scripts' / 'launcher_lib.sh'
"""psij's ``launcher_lib.sh``, for scripts written for psij-python."""

_SOURCES_LIB = re.compile(r'^\s*(?:source|\.)\s+.*launcher_lib\.sh\b', re.MULTILINE)


def sources_launcher_lib(script: Path) -> bool:
    """`True` if `script` sources ``launcher_lib.sh``: it was written for psij-python's
    calling convention (seven leading arguments)."""
    try:
        text = script.read_text(errors='replace')
    except OSError:
        return False
    return _SOURCES_LIB.search(text) is not None


def deploy(work_directory: Path, files: Sequence[Path]) -> Path:
    """
    Copies `files` into one directory under ``work_directory/launchers``, named by the digest
    of their names and contents (the same files give the same directory, whichever process
    deploys them; different ones never share it), and returns that directory.

    The directory is made in a temporary place and renamed into place, so a reader never sees
    it half written; it is private to the user, and its files keep their permission bits.
    """
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b'\0' + f.read_bytes() + b'\0')
    root = Path(work_directory) / 'launchers'
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest = root / digest.hexdigest()[:32]
    if dest.is_dir():
        return dest
    tmp = root / ('.tmp-%s' % secrets.token_hex(8))
    tmp.mkdir(mode=0o700)
    try:
        for f in files:
            shutil.copyfile(f, tmp / f.name)
            os.chmod(tmp / f.name, f.stat().st_mode & 0o700 | 0o400)
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.is_dir():  # not a race lost to another process deploying the same
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


class PsijPythonScript:
    """A launcher script written for psij-python, deployed on first use."""

    def __init__(self, script: Path) -> None:
        """:param script: the script (it sources ``launcher_lib.sh``)."""
        self.script = Path(script)
        self._lock = threading.Lock()
        self._deployed: Optional[Path] = None

    def command(self, files: Sequence[Path], work_directory: Path, log_file: Optional[Path],
                job: Job, additional_args: Sequence[str]) -> List[str]:
        """The argv for `job`: `files` (the script among them) are deployed under
        `work_directory` first, once."""
        with self._lock:
            if self._deployed is None:
                self._deployed = deploy(work_directory, files) / self.script.name
            deployed = self._deployed
        return launch_command(deployed, job, log_file, additional_args)


def launch_command(script: Path, job: Job, log_file: Optional[Path],
                   additional_args: Sequence[str]) -> List[str]:
    """The argv of a deployed psij-python launcher `script` for `job`."""
    spec = job.spec
    if spec is None or not spec.executable:
        raise ValueError('Job %s has no executable' % job.id)
    return (['/bin/bash', str(script), job.id, str(log_file or ''), '', '', '/dev/stdin',
             '/dev/stdout', '/dev/stderr'] + list(additional_args)
            + [spec.executable] + list(spec.arguments or ()))
