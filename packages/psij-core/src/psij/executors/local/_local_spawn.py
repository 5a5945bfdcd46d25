"""How the local executor turns a `JobSpec` into a running process.

Everything a spec names is checked here before anything starts, so that a bad spec gives an
`InvalidJobException` naming the path at `submit()`. Errors the environment causes (too many
open files, no memory, no process slots) give a transient `SubmitException`.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import stat
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Set, Tuple, Union

from psij._fork import after_fork_in_child
from psij.exceptions import ExecutableError, InvalidJobException, SubmitException

_VAR_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
_SHEBANG_WORDS = re.compile(rb'[ \t]+')

# Errors about a path the spec names: submitting the same spec again fails the same way.
_SPEC_ERRNOS = frozenset((errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                          errno.EROFS, errno.ENOEXEC, errno.ELOOP, errno.ENAMETOOLONG,
                          errno.ETXTBSY))

_STD_STREAMS = {'/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2}
"""Paths that mean the submitting process's own streams (used by ``psij run``)."""

_devnull: Optional[int] = None


def devnull() -> int:
    """A shared read-write descriptor on /dev/null (reopened after a fork)."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    return _devnull


@after_fork_in_child
def _forget_devnull() -> None:
    # the child has the descriptor too, but reopening keeps ownership simple (see psij._fork)
    global _devnull
    _devnull = None


_CANNOT_RUN = 'Cannot run executable'


def os_error(what: str, path: object, ex: OSError) -> Exception:
    """The exception `submit()` raises for `ex`, which happened on `path`."""
    msg = '%s %s: %s' % (what, path, ex.strerror or ex)
    if ex.errno in _SPEC_ERRNOS:
        if what == _CANNOT_RUN:  # psij-python programs catch SubmitException here
            return ExecutableError(msg, ex)
        return InvalidJobException(msg, ex)
    return SubmitException(msg, ex, transient=True)


def build_environment(inherit: bool,
                      spec_env: Optional[Mapping[str, str]]) -> Optional[Dict[str, str]]:
    """
    The job's environment, or `None` when it is exactly the current one.

    Spec variables are applied in order; in their values ``${NAME}`` is replaced by the value
    NAME has at that point (inherited or set by an earlier spec variable; empty if unset).
    Nothing else is expanded: ``$NAME``, ``$(...)`` and backticks stay as they are.
    """
    if not spec_env:
        return None if inherit else {}
    env: Dict[str, str] = dict(os.environ) if inherit else {}
    for name, value in spec_env.items():
        if '${' in value:
            value = _VAR_REF.sub(lambda m: env.get(m.group(1), ''), value)
        env[name] = value
    return env


def absolute(path: Path, directory: Optional[Path]) -> Path:
    """`path` made absolute relative to `directory` (or the current directory)."""
    if path.is_absolute():
        return path
    return (directory if directory is not None else Path.cwd()) / path


def _check_executable_file(path: str, shown: str) -> None:
    try:
        st = os.stat(path)
    except OSError as ex:
        raise os_error(_CANNOT_RUN, shown, ex) from ex
    if not stat.S_ISREG(st.st_mode):
        raise ExecutableError('Cannot run executable %s: not a regular file' % shown)
    if not os.access(path, os.X_OK):
        raise ExecutableError('Cannot run executable %s: the file is not executable' % shown)
    key = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _runnable:
        _check_format(path, shown)
        if len(_runnable) > 256:
            _runnable.clear()
        _runnable.add(key)


_runnable: Set[Tuple[str, int, int, int]] = set()
"""Executables found runnable (path, inode, mtime, size): the keeper execs them later, so
what exec would refuse is found here, to be raised by `submit`."""


def _binfmt_misc() -> bool:
    """Whether the kernel has extra executable formats (binfmt_misc: Java, Wine, qemu...)."""
    try:
        return bool(set(os.listdir('/proc/sys/fs/binfmt_misc')) - {'register', 'status'})
    except OSError:
        return False


def _check_format(path: str, shown: str) -> None:
    """Raises `ExecutableError` for a file exec would refuse: neither a binary nor a script
    starting with ``#!``, or a script whose interpreter is missing or not executable."""
    try:
        with open(path, 'rb') as f:
            head = f.read(256)
    except OSError:
        return  # executable but not readable: exec decides
    if head.startswith(b'\x7fELF'):
        return
    if head.startswith(b'#!'):
        # as the kernel reads it: up to a space, tab or newline (a CR is part of the name)
        words = _SHEBANG_WORDS.split(head[2:].split(b'\n', 1)[0].strip(b' \t'))
        if not words[0]:
            raise ExecutableError('Cannot run executable %s: its #! line names no interpreter'
                                  % shown)
        interp = os.fsdecode(words[0])
        try:
            ok = stat.S_ISREG(os.stat(interp).st_mode) and os.access(interp, os.X_OK)
        except OSError:
            ok = False
        if not ok:
            raise ExecutableError('Cannot run executable %s: its interpreter %s (#! line) '
                                  'does not exist or is not executable'
                                  % (shown, interp if interp.isprintable() else ascii(interp)))
        return
    if not _binfmt_misc():
        raise ExecutableError('Cannot run executable %s: not a binary or a script starting '
                              'with #!' % shown)


def resolve_executable(executable: str, directory: Optional[Path],
                       env: Optional[Mapping[str, str]], must_exist: bool = True) -> str:
    """
    The path to execute for `executable`.

    An absolute path is used as is; a relative path containing ``/`` is relative to the job's
    directory; a bare name is looked up on the job's ``PATH`` (the current ``PATH`` if the job
    has none). With ``must_exist=False`` (a shell runs the job after a pre-launch script that
    may change ``PATH``), a bare name that is not found is returned unchanged.
    """
    if executable.startswith('/'):
        _check_executable_file(executable, executable)
        return executable
    if '/' in executable:
        path = str(absolute(Path(executable), directory))
        _check_executable_file(path, path)
        return path
    search = env.get('PATH') if env is not None else None
    if search is None:
        search = os.environ.get('PATH', os.defpath)
    found = shutil.which(executable, path=search)
    if found is None:
        if not must_exist:
            return executable
        raise ExecutableError('Cannot run executable %s: not found on PATH (%s)'
                              % (executable, search))
    return found


class Stdio:
    """The three descriptors of a job's standard streams; owns the ones it opened."""

    __slots__ = ('fds', '_owned')

    def __init__(self) -> None:
        """Starts with /dev/null for all three streams."""
        null = devnull()
        self.fds: List[int] = [null, null, null]
        self._owned: List[int] = []

    def open(self, stdin: Optional[Path], stdout: Optional[Path], stderr: Optional[Path],
             directory: Optional[Path]) -> None:
        """Opens the given paths (relative ones in `directory`); raises like `submit()`."""
        try:
            if stdin is not None:
                self.fds[0] = self._open(stdin, directory, os.O_RDONLY, 'read standard input')
            if stdout is not None:
                self.fds[1] = self._open(stdout, directory, os.O_WRONLY | os.O_CREAT
                                         | os.O_TRUNC, 'write standard output to')
            if stderr is not None:
                if stderr == stdout:
                    # One description for both, so that the outputs interleave and neither
                    # truncates the other.
                    self.fds[2] = self.fds[1]
                else:
                    self.fds[2] = self._open(stderr, directory, os.O_WRONLY | os.O_CREAT
                                             | os.O_TRUNC, 'write standard error to')
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path, directory: Optional[Path], flags: int, what: str) -> int:
        s = str(path)
        std = _STD_STREAMS.get(s)
        if std is not None:
            return std
        full = absolute(path, directory)
        try:
            fd = os.open(full, flags | os.O_CLOEXEC, 0o666)
        except OSError as ex:
            raise os_error('Cannot ' + what, full, ex) from ex
        self._owned.append(fd)
        return fd

    def passed(self) -> Tuple[List[int], List[int]]:
        """The streams (0, 1, 2) that are not /dev/null, and their descriptors."""
        null = devnull()
        slots = [i for i, fd in enumerate(self.fds) if fd != null]
        return slots, [self.fds[i] for i in slots]

    def close(self) -> None:
        """Closes the descriptors this object opened (the child has its own copies)."""
        for fd in self._owned:
            os.close(fd)
        self._owned = []


_RESET_SIGNALS = tuple(s for s in (signal.SIGPIPE, getattr(signal, 'SIGXFSZ', None))
                       if s is not None)
"""Signals Python ignores, which a job must get with their default action."""


def start_process(argv: List[str], executable: str, cwd: str,
                  env: Union[Mapping[str, str], Mapping[bytes, bytes]], fds: List[int]) -> int:
    """
    Starts `argv` (running `executable`) in directory `cwd`, in a new session, hence its own
    process group, with `fds` as its standard input, output and error; returns its pid.
    Raises `OSError` (see `spawn_error`).

    For the keeper: ``posix_spawn`` (a vfork and an exec, which reports exec errors) from the
    job's directory, entered just before and not left (``posix_spawn`` has no directory of its
    own; the keeper's thread that starts jobs is the only one that depends on the current
    directory, and returns to ``/`` after each batch of starts).
    The job inherits no other descriptor: every descriptor of the keeper is close-on-exec.
    """
    os.chdir(cwd)  # the caller leaves it (the keeper, after a batch of starts)
    return os.posix_spawn(executable, argv, env, setsid=True, setsigdef=_RESET_SIGNALS,
                          file_actions=[(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)])


def spawn_error(ex: OSError, executable: str, cwd: Optional[str]) -> Exception:
    """The exception `submit()` raises when `start_process` failed with `ex`."""
    if ex.errno == errno.ENOEXEC:
        return ExecutableError('Cannot run executable %s: not a binary or a script '
                               'starting with #!' % executable, ex)
    if ex.errno in (errno.ENOENT, errno.ENOTDIR) and ex.filename == cwd:
        return InvalidJobException('The job directory %s does not exist' % cwd, ex)
    return os_error(_CANNOT_RUN, ex.filename or executable, ex)
