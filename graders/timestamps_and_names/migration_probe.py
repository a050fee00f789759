"""Run the kata's migrations on a database that holds production's rows, in a process of its own.

Run as `python migration_probe.py KATA_ROOT DATABASE_FILE`: Django is set up with the kata's app
alone on a fresh SQLite file; 0001_initial is applied, rows are written through its historical models
(as production holds them), then every later migration is applied one by one. What happened is printed
as one JSON document: the rows as the latest migration left them, or the migration that failed and why.
A process of its own, because the grader's own test database is built from the models, not from the
migrations, and a schema change in the middle of a test's transaction is not possible on SQLite.
"""

import json
import sys
import traceback
from typing import Any

SLUG = "timestamps_and_names"
ORGANIZATIONS = [("Acme GmbH", "ap@acme.test"), ("Globex", "billing@globex.test")]
INVOICES = [("INV-20731", 0, 12_900, "open"), ("INV-20732", 0, 4_500, "paid"), ("INV-20733", 1, 99_000, "void")]


def main(kata_root: str, database: str) -> dict[str, Any]:
    sys.path.insert(0, kata_root)
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[SLUG],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    first = (SLUG, "0001_initial")
    executor.migrate([first])
    old = executor.loader.project_state(first).apps
    organizations = [
        old.get_model(SLUG, "Organizations").objects.create(name=name, billing_email=email)
        for name, email in ORGANIZATIONS
    ]
    invoice_model = old.get_model(SLUG, "Invoices")
    for number, owner, cents, status in INVOICES:
        invoice_model.objects.create(
            number=number, organization=organizations[owner], amount_due_cents=cents, status=status
        )

    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes(SLUG)
    for migration, _ in executor.migration_plan(targets):
        try:
            MigrationExecutor(connection).migrate([(SLUG, migration.name)])
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            return {
                "failed": migration.name,
                "error": type(error).__name__,
                "message": str(error),
                "where": f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}",
            }
    new = MigrationExecutor(connection).loader.project_state(targets[0] if targets else first).apps
    found: dict[str, list[dict[str, Any]]] = {}
    for model in new.get_app_config(SLUG).get_models():
        fields = [field.attname for field in model._meta.concrete_fields]
        found[model.__name__] = [
            {name: (value.isoformat() if hasattr(value, "isoformat") else value) for name, value in row.items()}
            # django-stubs types `objects` on concrete models only, not on the migration state's historical ones
            for row in model.objects.order_by("pk").values(*fields)  # type: ignore[attr-defined]
        ]
    return {"rows": found}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
