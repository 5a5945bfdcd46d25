"""The version of the psij-sge distribution."""

VERSION = '0.1.0'
