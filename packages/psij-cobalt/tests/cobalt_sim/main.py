"""Entry point of the simulated Cobalt commands: ``main.py qsub|qstat|qdel ARGS...``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sim  # noqa: E402

sys.exit(sim.main(sys.argv[1:]))
