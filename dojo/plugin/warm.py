"""Warm imports: the libraries a grading uses, imported once ahead of the kata processes (one list).

`LIBRARIES` is the list: what every kata's process uses. The grading parent imports it before it
forks (each child starts with it loaded); a warm process (`dojo watch`, the grading server of
`dojo-mutate`) imports it with pytest's own modules before it is told what to grade
(`import_before_pytest`). Never kata code, graders or settings: those are each child's own.
"""

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dojo.plugin.run import Run

#: Libraries the kata processes all use.
LIBRARIES = (
    "django.test",
    "django.test.client",
    "django.test.testcases",
    "django.test.utils",
    "django.core.handlers.wsgi",
    "django.core.mail.backends.locmem",
    "django.core.management.commands.createcachetable",
    "django.core.management.commands.flush",
    "django.core.management.commands.migrate",
    "django.db.backends.sqlite3.base",
    "django.db.backends.sqlite3.creation",
    "django.db.backends.sqlite3.introspection",
    "django.db.backends.sqlite3.schema",
    "django.db.migrations.autodetector",
    "django.db.migrations.executor",
    "django.db.migrations.loader",
    "django.db.models.sql.compiler",
    "django.middleware.csrf",
    "django.shortcuts",
    "dateutil.parser",
    "factory",
    "factory.django",
    "faker",
    "httpx",
    "ninja",
    "ninja.pagination",
    "ninja.testing",
    "pydantic",
    "respx",
    "rich.console",
    "sqlparse",
    "stamina",
    "time_machine",
    "dojo.grading",
)
POSTGRESQL_LIBRARIES = ("psycopg", "django.db.backends.postgresql.base", "django.db.backends.postgresql.creation")

#: What a warm process imports before pytest starts: pytest's and the harness's own modules, then the
#: libraries above (but Ninja, which reads the settings when imported: the grading parent imports it).
BEFORE_PYTEST = (
    "pytest",
    "_pytest.assertion.rewrite",
    "_pytest.debugging",
    "_pytest.fixtures",
    "_pytest.junitxml",
    "_pytest.python",
    "_pytest.terminal",
    "django",
    "django.core.management",
    "django.db.models",
    "django.test.runner",
    "dj_database_url",
    # pytest plugins of the libraries (their own asserts go unrewritten: dojo.runner.ALREADY_IMPORTED)
    "pytest_django.plugin",
    "pytest_timeout",
    "pytest_codeblocks.plugin",
    "platformdirs.pytest_plugin",
    "dojo.manifest",
    "dojo.problems",
    "dojo.results",
    "dojo.rules",
    *(name for name in LIBRARIES if not name.startswith("ninja")),
)

#: Modules a warm process must leave to pytest: the kata settings (they look at the tree to grade)
#: and our plugin, whose asserts pytest rewrites.
NOT_TO_IMPORT_EARLY = frozenset({"dojo.settings", "dojo.kata_apps", "dojo.pytest_plugin"})

# factory_boy imports its SQLAlchemy integration whenever SQLAlchemy is installed (cosmic-ray, a tool of
# ours, brings it): a third of a second in every grading's start-up, for an integration no kata uses
sys.modules.setdefault("factory.alchemy", None)  # type: ignore[arg-type]


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - only a head start: a process imports what it needs anyway
            continue


def warm_up(run: "Run", *, postgresql: bool) -> None:
    """Import the libraries every kata needs, once, before the children are forked (or, in a spawned
    child, before the time limit on loading the kata starts: that limit is for the kata's code)."""
    import gc

    if run.warm:
        return
    run.warm = True
    _import_all((*LIBRARIES, *(POSTGRESQL_LIBRARIES if postgresql else ())))
    gc.collect()
    gc.freeze()  # what is loaded now stays: the children's collections need not walk (and copy) it


def import_before_pytest() -> bool:
    """Import the libraries of a grading ahead of time; whether pytest can still load the rest itself."""
    _import_all(BEFORE_PYTEST)
    try:  # the manifest and the rules are read once, here: graders and rules are not the learner's to edit
        from dojo.manifest import load_katas
        from dojo.rules import load_rules

        load_katas()
        load_rules()
    except Exception:  # noqa: S110 - a broken manifest is for the grading to report, in its own words
        pass
    return not (NOT_TO_IMPORT_EARLY & set(sys.modules))
