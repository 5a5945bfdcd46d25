"""The version of the psij-launchers distribution."""

VERSION = '0.1.0'
