"""The version of the psij-slurm distribution."""

VERSION = '0.1.0'
