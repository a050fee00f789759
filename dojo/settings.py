"""Django settings for grading katas, for the project's own tests and for the site's examples.

`DOJO_KATA_ROOT` chooses the tree whose code is graded (`katas/` by default, `solutions/` with
`--solutions`); `DATABASE_URL` switches from in-memory SQLite to another database (PostgreSQL in CI).
`DOJO_KATAS` limits the kata apps installed: a comma-separated list of slugs, or `-` for none (the
grading parent, which loads no kata code itself: each kata is loaded in a process of its own).
"""

import importlib
import os
import sys

import dj_database_url

from dojo import bytecode, config, paths
from dojo.manifest import load_katas
from dojo.problems import BROKEN, describe_error, describe_missing, unreadable_migration

KATA_ROOT = config.kata_root()
# any process that loads the katas (grading, mypy, the site's examples) keeps their bytecode out of
# the kata trees, so that `diff -r katas/X solutions/X` shows the lesson only
bytecode.keep_out_of(KATA_ROOT, paths.KATAS, paths.SOLUTIONS)
if str(KATA_ROOT) not in sys.path:
    sys.path.insert(0, str(KATA_ROOT))

_graded = config.graded_katas()  # set when grading only some
_present = []
_without_migrations = ["examples"]
for _kata in load_katas():
    if _graded and _kata.slug not in _graded:
        continue
    if not (KATA_ROOT / _kata.slug / "__init__.py").is_file():
        BROKEN[_kata.slug] = describe_missing(KATA_ROOT / _kata.slug)
        continue
    try:  # the package itself: Django could not even list the app if its __init__.py fails
        importlib.import_module(_kata.slug)
    except (Exception, SystemExit) as _error:  # learner code: any error, or an exit, is this kata's alone
        BROKEN[_kata.slug] = describe_error(_error, KATA_ROOT / _kata.slug)
        continue
    _present.append(_kata.slug)
    # a learner's migration that cannot even be read would stop the test database for every kata
    _unreadable = unreadable_migration(KATA_ROOT / _kata.slug) if _kata.migrations else None
    if _unreadable is not None:
        BROKEN[_kata.slug] = _unreadable
    if not _kata.migrations or _unreadable is not None:
        _without_migrations.append(_kata.slug)

SECRET_KEY = "dojo-local-only-not-a-secret"  # noqa: S105 - never deployed; grading runs locally
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "dojo.urls"
STATIC_URL = "static/"  # nothing is served from it; a live server of the project's own tests needs one
NINJA_SKIP_REGISTRY = True  # every kata mounts its own NinjaAPI in one process
# mail sent through Django stays in memory (django.core.mail.outbox); nothing leaves the machine
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

# the site's examples have models of their own; a grading of some katas needs none of their tables
# …nor the workshop board's (the project's own tests run it on their test database)
_examples = [] if _graded else ["dojo.examples.apps.ExamplesConfig", "dojo.workshop.apps.WorkshopConfig"]
INSTALLED_APPS = [*_examples, *(f"dojo.kata_apps.{slug}" for slug in _present)]

# Katas are graded against the models as written; migrations are only part of a kata's lesson
# when the kata says so, so the test database is built straight from the models.
MIGRATION_MODULES: dict[str, str | None] = dict.fromkeys(_without_migrations)

if "DATABASE_URL" in os.environ:
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # every grading process gets a test database of its own (the process id is unique while it runs),
    # so that two gradings at once, and the per-kata processes of one grading, never share one
    _base = config.test_database() or f"test_{DATABASES['default'].get('NAME') or 'dojo'}"
    _suffix = f"_{os.getpid()}"
    DATABASES["default"]["TEST"] = {"NAME": _base[: 63 - len(_suffix)] + _suffix}  # PostgreSQL keeps 63 bytes
