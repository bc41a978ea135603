"""``python -m migspec``."""

import sys

from migspec.cli import main

sys.exit(main())
