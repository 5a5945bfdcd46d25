"""The ``psij`` command line. Each sub-command lives in its own module listed in `main`."""
