"""The version of the psij-cobalt distribution."""

VERSION = '0.1.0'
