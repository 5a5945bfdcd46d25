"""``python -m psij``: the psij command line."""

import sys

from psij.cli.main import main

sys.exit(main())
