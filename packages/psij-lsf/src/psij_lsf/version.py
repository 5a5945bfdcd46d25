"""The version of the psij-lsf distribution."""

VERSION = '0.1.0'
