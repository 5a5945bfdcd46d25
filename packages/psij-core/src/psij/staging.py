"""The staging data model: files copied in before a job runs and out after it ends."""

from __future__ import annotations

from enum import Enum, IntFlag

from psij._checks import opt_path, type_error
from psij.exceptions import JobSpecValueError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    import pathlib


class URI:
    """A URI naming a file to stage; a bare path means a ``file://`` URI."""

    __slots__ = ('_text', 'scheme', 'hostname', 'port', 'path', 'username', 'password', 'query',
                 'fragment')

    def __init__(self, urlstring: str) -> None:
        """:param urlstring: e.g. ``file:///home/me/input.dat`` or ``/home/me/input.dat``."""
        if not isinstance(urlstring, str):
            raise type_error('URI', 'urlstring', urlstring, 'a string')
        if not urlstring:
            raise JobSpecValueError('URI: an empty string is not a URI')
        if urlstring.startswith('/'):
            # a plain path is taken whole: URL parsing would cut it at "?" or "#" and drop
            # tabs and line breaks, naming another file (so such a path stays its own text)
            plain = any(c in urlstring for c in '?#\t\r\n')
            self._text = urlstring if plain else 'file://' + urlstring
            self.scheme, self.hostname, self.port, self.path = 'file', None, None, urlstring
            self.username = self.password = None
            self.query = self.fragment = ''
            return
        from urllib.parse import urlparse  # only staging needs it: keep `import psij` fast

        if any(c in urlstring for c in '\t\r\n'):
            raise JobSpecValueError('URI %r: a URL cannot hold tabs or line breaks (URL '
                                    'parsing drops them); give the path itself' % urlstring)
        u = urlparse(urlstring)
        if not u.scheme:
            raise JobSpecValueError('URI %r has no scheme; use file:///absolute/path or an '
                                    'absolute path' % urlstring)
        self._text = urlstring
        self.scheme = u.scheme
        self.hostname = u.hostname
        self.port = u.port
        self.path = u.path
        self.username = u.username
        self.password = u.password
        self.query = u.query
        self.fragment = u.fragment

    def __str__(self) -> str:
        """The URI as text."""
        return self._text

    def __repr__(self) -> str:
        """``URI('...')``."""
        return 'URI(%r)' % self._text

    def __eq__(self, other: object) -> bool:
        """Equal when the texts are equal."""
        if not isinstance(other, URI):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        """Hash of the text."""
        return hash(self._text)


class StagingMode(Enum):
    """How a file is staged."""

    COPY = 1
    """Copy the file."""
    LINK = 2
    """Make a symbolic link to the file (only where source and target share a filesystem)."""
    MOVE = 3
    """Move the file."""


class StageOutFlags(IntFlag):
    """When a file is staged out (or, for `cleanup_flags`, when files are cleaned up)."""

    NONE = 0
    """Never."""
    IF_PRESENT = 1
    """Do not fail the job if the file is missing."""
    ON_SUCCESS = 2
    """When the job completed successfully."""
    ON_ERROR = 4
    """When the job failed."""
    ON_CANCEL = 8
    """When the job was canceled."""
    ALWAYS = ON_SUCCESS | ON_ERROR | ON_CANCEL
    """Whatever the outcome."""


def _to_uri(owner: str, field: str, value: object) -> URI:
    if isinstance(value, URI):
        return value
    if hasattr(value, '__fspath__') and hasattr(value, 'absolute'):
        return URI(str(value.absolute()))
    if isinstance(value, str):
        return URI(value)
    raise type_error(owner, field, value, 'a URI, str or pathlib.Path')


def _to_path(owner: str, field: str, value: object) -> pathlib.Path:
    p = opt_path(owner, field, value)
    if p is None:
        raise type_error(owner, field, value, 'a str or pathlib.Path')
    return p


class StageIn:
    """A file or directory copied (or linked, or moved) into the job's directory before it runs."""

    __slots__ = ('source', 'target', 'mode')

    def __init__(self, source: URI | pathlib.Path | str, target: str | pathlib.Path,
                 mode: StagingMode = StagingMode.COPY) -> None:
        """
        :param source: where the data is, as a URI (``file://...``) or an absolute path.
        :param target: where to put it; a relative path is relative to the job's directory.
        :param mode: copy, link or move.
        """
        self.source = _to_uri('StageIn', 'source', source)
        self.target = _to_path('StageIn', 'target', target)
        if not isinstance(mode, StagingMode):
            raise type_error('StageIn', 'mode', mode, 'a StagingMode')
        self.mode = mode

    def __eq__(self, other: object) -> bool:
        """Equal when source, target and mode are."""
        if not isinstance(other, StageIn):
            return NotImplemented
        return (self.source, self.target, self.mode) == (other.source, other.target, other.mode)

    def __hash__(self) -> int:
        """Hash of source, target and mode."""
        return hash((self.source, self.target, self.mode))

    def __repr__(self) -> str:
        """All fields."""
        return 'StageIn(%r, %r, %s)' % (self.source, self.target, self.mode)


class StageOut:
    """A file or directory copied (or moved) out of the job's directory after it ends."""

    __slots__ = ('source', 'target', 'flags', 'mode')

    def __init__(self, source: str | pathlib.Path, target: URI | pathlib.Path | str,
                 flags: StageOutFlags = StageOutFlags.ALWAYS,
                 mode: StagingMode = StagingMode.COPY) -> None:
        """
        :param source: the file in the job's directory (relative paths are relative to it).
        :param target: where to put it, as a URI (``file://...``) or an absolute path.
        :param flags: when to stage it out, and whether a missing file is an error.
        :param mode: copy, link or move.
        """
        self.source = _to_path('StageOut', 'source', source)
        self.target = _to_uri('StageOut', 'target', target)
        if not isinstance(flags, StageOutFlags):
            raise type_error('StageOut', 'flags', flags, 'a StageOutFlags')
        self.flags = flags
        if not isinstance(mode, StagingMode):
            raise type_error('StageOut', 'mode', mode, 'a StagingMode')
        self.mode = mode

    def __eq__(self, other: object) -> bool:
        """Equal when all fields are."""
        if not isinstance(other, StageOut):
            return NotImplemented
        return ((self.source, self.target, self.flags, self.mode)
                == (other.source, other.target, other.flags, other.mode))

    def __hash__(self) -> int:
        """Hash of all fields."""
        return hash((self.source, self.target, self.flags, self.mode))

    def __repr__(self) -> str:
        """All fields."""
        return 'StageOut(%r, %r, %r, %s)' % (self.source, self.target, self.flags, self.mode)
