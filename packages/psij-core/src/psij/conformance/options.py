"""The kit's settings: see :mod:`psij.conformance_settings` (kept there, outside the kit, so that
``psij conformance --help`` can list them without importing pytest)."""

from psij.conformance_settings import (
    BY_NAME,
    ENV_PREFIX,
    KINDS,
    SETTINGS,
    KitOptions,
    Setting,
    SettingError,
    parse_pairs,
    resolve_value,
)

__all__ = ['BY_NAME', 'ENV_PREFIX', 'KINDS', 'KitOptions', 'SETTINGS', 'Setting',
           'SettingError', 'parse_pairs', 'resolve_value']
