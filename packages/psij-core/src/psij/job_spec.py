"""The description of a job: what to run, where, with which environment and resources."""

from __future__ import annotations

from psij._checks import opt_path, opt_str, type_error, value_error
from psij.job_attributes import JobAttributes
from psij.resource_spec import ResourceSpec
from psij.staging import StageIn, StageOut, StageOutFlags

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    import pathlib
    from typing import Any, Dict, List, Optional, Set, Union

_OWNER = 'JobSpec'
if TYPE_CHECKING:
    PathLike = Union[str, 'pathlib.Path']


def _check_env(env: Any) -> Optional[Dict[str, str]]:
    if env is None:
        return None
    if not isinstance(env, dict):
        raise type_error(_OWNER, 'environment', env, 'a dict or None')
    out: Dict[str, str] = {}
    for k, v in env.items():
        if not isinstance(k, str):
            raise type_error(_OWNER, 'environment', k, 'a dict with string keys')
        if not k or '=' in k or '\0' in k:
            raise value_error(_OWNER, 'environment', k,
                              'a variable name cannot be empty or contain "=" or NUL')
        if type(v) is str:
            pass
        elif isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        elif isinstance(v, str):
            v = str(v)
        else:
            raise type_error(_OWNER, 'environment[%r]' % k, v, 'a str or int')
        if '\0' in v:
            raise value_error(_OWNER, 'environment[%r]' % k, v, 'values cannot contain NUL')
        out[k] = v
    return out


def _check_args(args: Any) -> Optional[List[str]]:
    if args is None:
        return None
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise type_error(_OWNER, 'arguments', args, 'a list of strings or None')
    for i, a in enumerate(args):
        if not isinstance(a, str):
            raise type_error(_OWNER, 'arguments[%d]' % i, a, 'a str')
        if '\0' in a:
            raise value_error(_OWNER, 'arguments[%d]' % i, a, 'arguments cannot contain NUL')
    return list(args)


class JobSpec:
    """
    What a job runs and how.

    Every constructor parameter is also a property. Paths may be given as `str` or
    `pathlib.Path` and are stored as `pathlib.Path`. Paths refer to the machine where the job
    runs; relative paths are relative to the job's directory.
    """

    def __init__(self, executable: Optional[str] = None, arguments: Optional[List[str]] = None,
                 directory: Optional[PathLike] = None, name: Optional[str] = None,
                 inherit_environment: bool = True,
                 environment: Optional[Dict[str, Union[str, int]]] = None,
                 stdin_path: Optional[PathLike] = None, stdout_path: Optional[PathLike] = None,
                 stderr_path: Optional[PathLike] = None,
                 resources: Optional[ResourceSpec] = None,
                 attributes: Optional[JobAttributes] = None,
                 pre_launch: Optional[PathLike] = None, post_launch: Optional[PathLike] = None,
                 launcher: Optional[str] = None,
                 stage_in: Optional[Set[StageIn]] = None,
                 stage_out: Optional[Set[StageOut]] = None,
                 cleanup: Optional[Set[PathLike]] = None,
                 cleanup_flags: StageOutFlags = StageOutFlags.ALWAYS) -> None:
        """
        :param executable: the program to run: an absolute path, a path relative to
            `directory`, or a name looked up on ``PATH``.
        :param arguments: the program's arguments; ``arguments[0]`` is the program's
            ``argv[1]``. They reach the program byte-exact, never through a shell.
        :param directory: the working directory of the job.
        :param name: a name for the job; defaults to the executable.
        :param inherit_environment: if `False`, the job sees only `environment`.
        :param environment: variables to set; a value may refer to another variable as
            ``${NAME}``, which is replaced by that variable's value.
        :param stdin_path: a file to read standard input from.
        :param stdout_path: a file to write standard output to.
        :param stderr_path: a file to write standard error to.
        :param resources: a :class:`~psij.ResourceSpecV1`; one process on one node if omitted.
        :param attributes: :class:`~psij.JobAttributes`; defaults are used if omitted.
        :param pre_launch: a shell script sourced before the launcher starts the ranks; what it
            exports reaches the job.
        :param post_launch: a shell script sourced after all ranks end.
        :param launcher: the launcher's name (``single`` if omitted).
        :param stage_in: files to stage in before the job runs.
        :param stage_out: files to stage out after it ends.
        :param cleanup: files to delete after stage-out.
        :param cleanup_flags: when to perform the cleanup.
        """
        self._name = opt_str(_OWNER, 'name', name)
        self.executable = executable
        self.arguments = arguments
        self.directory = directory
        self.inherit_environment = inherit_environment
        self.environment = environment
        self.stdin_path = stdin_path
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.resources = resources
        self._attributes: Optional[JobAttributes] = None
        self.attributes = attributes
        self.pre_launch = pre_launch
        self.post_launch = post_launch
        self.launcher = launcher
        self.stage_in = stage_in
        self.stage_out = stage_out
        self.cleanup = cleanup
        self.cleanup_flags = cleanup_flags

    # -- simple fields with checks -------------------------------------------------------------

    @property
    def executable(self) -> Optional[str]:
        """The program to run."""
        return self._executable

    @executable.setter
    def executable(self, value: Optional[str]) -> None:
        if value is not None and type(value) is not str:
            if hasattr(value, '__fspath__'):
                value = str(value)
            else:
                value = opt_str(_OWNER, 'executable', value)
        if value is not None and ('\0' in value or value == ''):
            raise value_error(_OWNER, 'executable', value, 'must be a non-empty string '
                              'without NUL characters')
        self._executable = value

    @property
    def arguments(self) -> Optional[List[str]]:
        """The program's arguments."""
        return self._arguments

    @arguments.setter
    def arguments(self, value: Optional[List[str]]) -> None:
        self._arguments = _check_args(value)

    @property
    def name(self) -> Optional[str]:
        """The job's name; the executable if no name was given."""
        return self._executable if self._name is None else self._name

    @name.setter
    def name(self, value: Optional[str]) -> None:
        self._name = opt_str(_OWNER, 'name', value)

    @property
    def inherit_environment(self) -> bool:
        """Whether the job inherits the environment of the process that starts it."""
        return self._inherit_environment

    @inherit_environment.setter
    def inherit_environment(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise type_error(_OWNER, 'inherit_environment', value, 'a bool')
        self._inherit_environment = value

    @property
    def environment(self) -> Optional[Dict[str, str]]:
        """Environment variables to set (int values are stored as strings)."""
        return self._environment

    @environment.setter
    def environment(self, value: Optional[Dict[str, Union[str, int]]]) -> None:
        self._environment = _check_env(value)

    @property
    def resources(self) -> Optional[ResourceSpec]:
        """The resources the job needs."""
        return self._resources

    @resources.setter
    def resources(self, value: Optional[ResourceSpec]) -> None:
        if value is not None and not isinstance(value, ResourceSpec):
            raise type_error(_OWNER, 'resources', value, 'a ResourceSpec (ResourceSpecV1) '
                             'or None')
        self._resources = value

    @property
    def attributes(self) -> JobAttributes:
        """The job's attributes (never `None`: defaults are created on demand)."""
        a = self._attributes
        if a is None:
            a = self._attributes = JobAttributes()
        return a

    @attributes.setter
    def attributes(self, value: Optional[JobAttributes]) -> None:
        if value is not None and not isinstance(value, JobAttributes):
            raise type_error(_OWNER, 'attributes', value, 'a JobAttributes or None')
        self._attributes = value

    @property
    def launcher(self) -> Optional[str]:
        """The launcher's name."""
        return self._launcher

    @launcher.setter
    def launcher(self, value: Optional[str]) -> None:
        self._launcher = opt_str(_OWNER, 'launcher', value)

    # -- paths -----------------------------------------------------------------------------------

    @property
    def directory(self) -> Optional[pathlib.Path]:
        """The job's working directory."""
        return self._directory

    @directory.setter
    def directory(self, value: Optional[PathLike]) -> None:
        self._directory = opt_path(_OWNER, 'directory', value)

    @property
    def stdin_path(self) -> Optional[pathlib.Path]:
        """The file the job reads standard input from."""
        return self._stdin_path

    @stdin_path.setter
    def stdin_path(self, value: Optional[PathLike]) -> None:
        self._stdin_path = opt_path(_OWNER, 'stdin_path', value)

    @property
    def stdout_path(self) -> Optional[pathlib.Path]:
        """The file the job's standard output goes to."""
        return self._stdout_path

    @stdout_path.setter
    def stdout_path(self, value: Optional[PathLike]) -> None:
        self._stdout_path = opt_path(_OWNER, 'stdout_path', value)

    @property
    def stderr_path(self) -> Optional[pathlib.Path]:
        """The file the job's standard error goes to."""
        return self._stderr_path

    @stderr_path.setter
    def stderr_path(self, value: Optional[PathLike]) -> None:
        self._stderr_path = opt_path(_OWNER, 'stderr_path', value)

    @property
    def pre_launch(self) -> Optional[pathlib.Path]:
        """A script sourced before the launcher starts the job's ranks."""
        return self._pre_launch

    @pre_launch.setter
    def pre_launch(self, value: Optional[PathLike]) -> None:
        self._pre_launch = opt_path(_OWNER, 'pre_launch', value)

    @property
    def post_launch(self) -> Optional[pathlib.Path]:
        """A script sourced after all of the job's ranks end."""
        return self._post_launch

    @post_launch.setter
    def post_launch(self, value: Optional[PathLike]) -> None:
        self._post_launch = opt_path(_OWNER, 'post_launch', value)

    # -- staging ---------------------------------------------------------------------------------

    @property
    def stage_in(self) -> Optional[Set[StageIn]]:
        """Files to stage in before the job runs."""
        return self._stage_in

    @stage_in.setter
    def stage_in(self, value: Optional[Set[StageIn]]) -> None:
        self._stage_in: Optional[Set[StageIn]] = _check_set('stage_in', value, StageIn)

    @property
    def stage_out(self) -> Optional[Set[StageOut]]:
        """Files to stage out after the job ends."""
        return self._stage_out

    @stage_out.setter
    def stage_out(self, value: Optional[Set[StageOut]]) -> None:
        self._stage_out: Optional[Set[StageOut]] = _check_set('stage_out', value, StageOut)

    @property
    def cleanup(self) -> Optional[Set[pathlib.Path]]:
        """Files to delete after stage-out."""
        return self._cleanup

    @cleanup.setter
    def cleanup(self, value: Optional[Set[PathLike]]) -> None:
        if value is None:
            self._cleanup: Optional[Set[pathlib.Path]] = None
            return
        if isinstance(value, (str, bytes)) or hasattr(value, '__fspath__') or \
                not isinstance(value, (set, frozenset, list, tuple)):
            raise type_error(_OWNER, 'cleanup', value, 'a set of paths or None')
        out = set()
        for p in value:
            path = opt_path(_OWNER, 'cleanup', p)
            if path is None:
                raise type_error(_OWNER, 'cleanup', p, 'a str or pathlib.Path')
            out.add(path)
        self._cleanup = out

    @property
    def cleanup_flags(self) -> StageOutFlags:
        """When to perform the cleanup."""
        return self._cleanup_flags

    @cleanup_flags.setter
    def cleanup_flags(self, value: StageOutFlags) -> None:
        if not isinstance(value, StageOutFlags):
            raise type_error(_OWNER, 'cleanup_flags', value, 'a StageOutFlags')
        self._cleanup_flags = value

    # -- comparison ------------------------------------------------------------------------------

    _FIELDS = ('name', 'executable', 'arguments', 'directory', 'inherit_environment',
               'environment', 'stdin_path', 'stdout_path', 'stderr_path', 'resources',
               'attributes', 'pre_launch', 'post_launch', 'launcher', 'stage_in', 'stage_out',
               'cleanup', 'cleanup_flags')

    def __eq__(self, other: object) -> bool:
        """Two specifications are equal when all their properties are."""
        if not isinstance(other, JobSpec):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in JobSpec._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """The properties that differ from their defaults."""
        parts = []
        for f in JobSpec._FIELDS:
            v = getattr(self, f)
            if f == 'attributes' and v == JobAttributes():
                continue
            if v is None or (f == 'inherit_environment' and v is True) or \
                    (f == 'cleanup_flags' and v == StageOutFlags.ALWAYS) or \
                    (f == 'name' and v == self.executable):
                continue
            parts.append('%s=%r' % (f, v))
        return 'JobSpec(%s)' % ', '.join(parts)


def _check_set(field: str, value: Any, cls: type) -> Any:  # returns a set of cls or None
    if value is None:
        return None
    if not isinstance(value, (set, frozenset, list, tuple)):
        raise type_error(_OWNER, field, value, 'a set of %s or None' % cls.__name__)
    for v in value:
        if not isinstance(v, cls):
            raise type_error(_OWNER, field, v, 'a %s' % cls.__name__)
    return set(value)
