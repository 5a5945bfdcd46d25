"""The version of the psij-pbs distribution."""

VERSION = '0.1.0'
