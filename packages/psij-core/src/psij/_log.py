"""Loggers created on first use: importing `logging` costs more than the rest of `import psij`'s
own modules, and most programs never log from psij."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    import logging
    from typing import Any, Optional

DEBUG = 10


class _LazyLogger:
    __slots__ = ('_name', '_logger')

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Optional[logging.Logger] = None

    def __getattr__(self, attr: str) -> Any:
        lg = self._logger
        if lg is None:
            import logging
            lg = self._logger = logging.getLogger(self._name)
        return getattr(lg, attr)


def get_logger(name: str) -> logging.Logger:
    """A logger that imports `logging` only when first used."""
    return _LazyLogger(name)  # type: ignore[return-value]
