"""Executors shipped with psij-core: ``local`` and the batch-scheduler framework."""
