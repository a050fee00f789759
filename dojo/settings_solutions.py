"""Settings with the reference solutions as the graded tree: what mypy type-checks them against."""

import os

from dojo import paths

os.environ["DOJO_KATA_ROOT"] = str(paths.SOLUTIONS)

from dojo.settings import *  # noqa: F403
