"""Django settings for the mypy run of the `type_hints` grader: only the kata's own app.

The django-stubs plugin sets Django up inside mypy to learn the models. With this kata's app alone,
another kata's broken models cannot break the type check, and the plugin's view of the project (which
mypy records in its cache) is the same for every tree graded, so the cache stays warm between runs.
"""

import os
import sys
from pathlib import Path

from dojo import bytecode

KATA_ROOT = Path(os.environ["DOJO_KATA_ROOT"]).resolve()
bytecode.keep_out_of(KATA_ROOT)  # no __pycache__ in the graded tree
if str(KATA_ROOT) not in sys.path:
    sys.path.insert(0, str(KATA_ROOT))

SECRET_KEY = "dojo-local-only-not-a-secret"  # noqa: S105 - read by mypy only, never deployed
INSTALLED_APPS = ["type_hints"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
