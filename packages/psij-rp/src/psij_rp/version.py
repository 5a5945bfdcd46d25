"""The version of the psij-rp distribution."""

VERSION = '0.1.0'
