"""One Django app per kata, loaded so that a broken kata is recorded instead of stopping every kata.

`INSTALLED_APPS` names `dojo.kata_apps.<slug>`; each of those is a `KataAppConfig` subclass made here
from the manifest. The app label is the kata's slug in both trees, so graders import `<slug>.services`
whether they grade `katas/` or `solutions/`.
"""

import importlib
from pathlib import Path

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from dojo.manifest import load_katas
from dojo.problems import BROKEN, describe_error

#: Folders of a kata that are not its code: the learner's tests (run by their grader) and migrations.
NOT_LOADED = ("tests", "migrations", "__pycache__")


class KataAppConfig(AppConfig):
    """An app whose models may fail to import: the error is kept for the grader to report."""

    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        try:
            super().import_models()
        except (Exception, SystemExit) as error:  # any error (or exit) in learner code must not stop the others
            BROKEN[self.label] = describe_error(error, Path(self.path))
            self.models_module = None

    def ready(self) -> None:
        post_migrate.connect(_ids_far_apart, sender=self, dispatch_uid=f"dojo-ids-far-apart-{self.label}")


#: each table's ids start this far from the previous table's, so that no two tables share an id
ID_SPACING = 1_000_000


def _ids_far_apart(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """Start each of the kata's tables at ids of its own (1,000,007 / 2,000,014 / …), on SQLite and PostgreSQL.

    With every table counting from 1 in every test, an invoice and a customer often share an id, and
    code that compares one with the other by mistake (`membership.organization_id == customer.id`)
    passes by luck. Far apart, such a slip finds nothing.
    """
    connection = connections[using]
    models = sorted(
        (model for model in sender.get_models() if model._meta.managed and not model._meta.proxy),
        key=lambda model: model._meta.db_table,
    )
    with connection.cursor() as cursor:
        for index, model in enumerate(models, 1):
            table, pk = model._meta.db_table, model._meta.pk
            if pk is None or pk.get_internal_type() not in ("AutoField", "BigAutoField", "SmallAutoField"):
                continue
            start = index * ID_SPACING + index * 7
            if connection.vendor == "sqlite":
                cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start - 1])
            elif connection.vendor == "postgresql":
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s, false)", [table, pk.column, start])


def _config_for(slug: str) -> type[KataAppConfig]:
    return type(slug, (KataAppConfig,), {"name": slug, "label": slug, "__module__": __name__})


def module_names(slug: str, kata_dir: Path) -> list[str]:
    """Every module of a kata, as its graders import them: `slug.services`, `slug.sub.helper`, …"""
    names = []
    for path in sorted(kata_dir.rglob("*.py")):
        parts = path.relative_to(kata_dir).with_suffix("").parts
        if parts[0] in NOT_LOADED or any(part.startswith(".") for part in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join((slug, *parts)))
    return names


def load_modules(slug: str, kata_dir: Path) -> None:
    """Import every module of the kata before it is graded, so that one that cannot be loaded reads as
    such (the kata is broken), not as a check that fails for the rule. Records the first problem."""
    if slug in BROKEN:
        return
    for name in module_names(slug, kata_dir):
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as error:  # learner code: any error, or an exit, is this kata's alone
            BROKEN[slug] = describe_error(error, kata_dir)
            return


for _kata in load_katas():
    globals()[_kata.slug] = _config_for(_kata.slug)
