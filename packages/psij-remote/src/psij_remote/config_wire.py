"""
Executor configurations across the hop: a `JobExecutorConfig` (or a subclass the far end has
installed) travels as its class name and the arguments of its constructor.

Only the values the user set travel (a path left to its default is the far end's default,
not this machine's), and only JSON values: a path becomes its string.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import PurePath
from typing import Any, Dict, Optional

from psij.job_executor_config import JobExecutorConfig


def to_wire(config: Optional[JobExecutorConfig]) -> Optional[Dict[str, Any]]:
    """The travelling form of `config` (`None` for none).

    :raises TypeError: for a configuration whose settings are not JSON values.
    """
    if config is None or config is JobExecutorConfig.DEFAULT:
        return None
    if not isinstance(config, JobExecutorConfig):
        raise TypeError('config must be a psij.JobExecutorConfig, not %r' % (config,))
    cls = type(config)
    args: Dict[str, Any] = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == 'self' or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        # the value as set: the private attribute a property reads, when there is one (a
        # property may fill in this machine's default)
        value = getattr(config, '_' + name, getattr(config, name, None))
        if isinstance(value, PurePath):
            value = str(value)
        if value is None or value == p.default:
            continue
        if not isinstance(value, (str, int, float, bool, list, dict)):
            raise TypeError('%s.%s=%r cannot be sent to the far end (not a JSON value)'
                            % (cls.__name__, name, value))
        args[name] = value
    return {'class': '%s.%s' % (cls.__module__, cls.__qualname__), 'args': args}


def from_wire(d: Optional[Dict[str, Any]]) -> Optional[JobExecutorConfig]:
    """The configuration a travelling form describes; raises `ValueError` for a class that is
    not a `JobExecutorConfig` installed here or arguments it does not take."""
    if d is None:
        return None
    name, args = d.get('class'), d.get('args', {})
    if not isinstance(name, str) or '.' not in name or not isinstance(args, dict):
        raise ValueError('a configuration needs a "class" name and an "args" object')
    module, _, qualname = name.rpartition('.')
    try:
        cls = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError) as ex:
        raise ValueError('configuration class %s is not installed there (%s)' % (name, ex)) \
            from None
    if not (isinstance(cls, type) and issubclass(cls, JobExecutorConfig)):
        raise ValueError('%s is not a psij.JobExecutorConfig' % name)
    try:
        return cls(**args)
    except TypeError as ex:
        raise ValueError('%s(%s): %s' % (name, ', '.join(args), ex)) from None
