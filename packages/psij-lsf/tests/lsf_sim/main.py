"""``python main.py COMMAND ARGS...``: runs a simulated LSF command (what ``bin/*`` exec)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
from lsf_sim.cli import main  # noqa: E402

main(sys.argv.pop(1))
