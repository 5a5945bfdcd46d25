"""Launchers shipped with psij-core: ``single``, and the script-based launcher base."""
