"""Loggers created on first use: importing `logging` costs more than the rest of `import psij`'s
own modules, and most programs never log from psij."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import logging

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
