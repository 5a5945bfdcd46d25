"""An example PSI/J executor distribution: the ``example`` executor, registered by entry point.

The executor's class is imported only when ``psij.JobExecutor.get_instance('example')`` is
called; importing this package does not import it.
"""

from psij_executor_example.version import VERSION

__version__ = VERSION
