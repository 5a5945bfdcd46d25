"""An executor written the way psij-python's batch executors are (for the drop-in tests)."""
