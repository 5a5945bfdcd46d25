"""The version of the psij-flux distribution."""

VERSION = '0.1.0'
