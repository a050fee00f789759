"""`python -m dojo.cli`: the same as `uv run dojo`."""

import sys

from dojo.cli import main

sys.exit(main())
