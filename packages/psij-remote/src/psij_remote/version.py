"""The version of psij-remote."""

VERSION = '0.1.0'
