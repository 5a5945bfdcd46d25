"""The version of the psij-batch-example distribution."""

VERSION = '0.1.0'
