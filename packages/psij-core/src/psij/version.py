"""The version of the psij-core distribution."""

VERSION = '0.1.0'
