"""Grader of `missing_index`: one index serves the worklist query, in the models, the migrations and the database."""

import io
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.test.utils import override_settings

from dojo.grading import check, count_queries
from missing_index.models import Invoice
from missing_index.services import collections_worklist

from .factories import InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

SLUG = "missing_index"
EQUALITY_COLUMNS = {"organization_id", "status"}  # filter(organization_id=..., status=...)
ORDER_COLUMN = "due_on"  # order_by("due_on", "id")
HOW = (
    'Add `models.Index(fields=["organization", "status", "due_on"], name=...)` to Invoice.Meta.indexes: '
    "first the columns the query compares for equality, then the column it orders by."
)


def serves_the_worklist(columns: Sequence[str]) -> bool:
    """Equality columns first (in either order), the sort column next: one range of the index, in order."""
    return len(columns) >= 3 and set(columns[:2]) == EQUALITY_COLUMNS and columns[2] == ORDER_COLUMN


def declared_indexes(model: type[models.Model]) -> dict[str, list[str]]:
    """The indexes a model declares (Meta.indexes and db_index=True), as lists of column names."""
    declared = {f"db_index on {field.name}": [field.column] for field in model._meta.fields if field.db_index}
    for index in model._meta.indexes:
        if index.fields:
            declared[index.name] = [model._meta.get_field(name.removeprefix("-")).column for name in index.fields]
    return declared


def database_indexes() -> dict[str, list[str]]:
    """The indexes the database has on the invoice table, by name, as lists of column names."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Invoice._meta.db_table)
    return {name: info["columns"] for name, info in constraints.items() if info["index"] and not info["primary_key"]}


def listed(indexes: dict[str, list[str]]) -> str:
    if not indexes:
        return "none"
    return ", ".join(f"{name} ({', '.join(columns)})" for name, columns in sorted(indexes.items()))


def organization_with_invoices(count: int = 40) -> int:
    organization = OrganizationFactory()
    statuses = [Invoice.Status.OPEN, Invoice.Status.OPEN, Invoice.Status.PAID, Invoice.Status.DRAFT]
    for n in range(count):
        InvoiceFactory(organization=organization, status=statuses[n % 4], due_on=date(2026, 2, 1) + timedelta(n % 17))
    InvoiceFactory.create_batch(10)  # other organizations' invoices
    return organization.pk


# --- what the code does: these pass on the starter and must keep passing ---------------------------


def test_the_worklist_lists_open_invoices_earliest_due_first() -> None:
    organization_id = organization_with_invoices()
    expected = sorted(
        Invoice.objects.filter(organization_id=organization_id, status=Invoice.Status.OPEN),
        key=lambda invoice: (invoice.due_on, invoice.pk),
    )

    assert collections_worklist(organization_id) == expected
    assert collections_worklist(organization_id, limit=5) == expected[:5]


def test_an_organization_without_open_invoices_has_an_empty_worklist() -> None:
    organization = OrganizationFactory()
    InvoiceFactory(organization=organization, status=Invoice.Status.PAID)
    InvoiceFactory()  # another organization's open invoice

    assert collections_worklist(organization.pk) == []


# --- the lesson ---------------------------------------------------------------------------------------


@pytest.mark.lesson("PERF-3")
def test_an_index_matches_the_worklist_query() -> None:
    declared = declared_indexes(Invoice)

    check(
        any(serves_the_worklist(columns) for columns in declared.values()),
        'The worklist query runs 40,000 times a day: filter(organization=..., status="open")'
        '.order_by("due_on", "id"). Invoice declares these indexes: '
        f"{listed(declared)}. Without one that starts with organization and status and then has "
        "due_on, the database reads every invoice of the organization, keeps the open ones and sorts "
        f"them, on every call. {HOW} An index that starts with another column, or has only one of "
        "them, cannot find the rows in the order the query wants.",
    )


@pytest.mark.lesson("PERF-3")
def test_a_migration_creates_the_index() -> None:
    output = io.StringIO()
    with override_settings(MIGRATION_MODULES={**settings.MIGRATION_MODULES, SLUG: f"{SLUG}.migrations"}):
        migrated = MigrationLoader(None, ignore_no_migrations=True).project_state().apps.get_model(SLUG, "Invoice")
        try:
            call_command(
                "makemigrations", SLUG, check=True, dry_run=True, interactive=False, stdout=output, stderr=output
            )
            matching = True
        except SystemExit:  # makemigrations --check exits non-zero when a migration is missing
            matching = False
    after_migrations = declared_indexes(migrated)

    check(
        any(serves_the_worklist(columns) for columns in after_migrations.values()),
        "After the migrations, the invoice table has these indexes: "
        f"{listed(after_migrations)}; none serves the worklist query. Production's database only "
        "changes through migrations: an index declared in models.py alone is never built there. "
        f'Write `migrations.AddIndex(model_name="invoice", index=models.Index(...))` in '
        f"{SLUG}/migrations/0002_invoice_worklist_index.py, with the same fields and name as in models.py.",
    )
    check(
        matching,
        "The models and the migrations disagree: `makemigrations --check` found changes that no "
        f"migration makes:\n{output.getvalue().strip()}\nMake the index in the migration the same as in "
        "models.py (fields, their order, and name).",
    )


@pytest.mark.lesson("PERF-3")
def test_the_database_has_the_index() -> None:
    indexes = database_indexes()

    check(
        any(serves_the_worklist(columns) for columns in indexes.values()),
        f"The test database's invoice table has these indexes: {listed(indexes)}. None starts with "
        f"organization_id and status and then has due_on. {HOW}",
    )


@pytest.mark.lesson("PERF-3")
def test_the_query_plan_uses_the_index() -> None:
    organization_id = organization_with_invoices()
    serving = [name for name, columns in database_indexes().items() if serves_the_worklist(columns)]
    if connection.vendor != "sqlite":
        # PostgreSQL plans tiny test tables with a sequential scan whatever the indexes: there, the
        # check is that the index exists; the plan is checked on SQLite.
        check(serving, f"The invoice table has no index for the worklist query. {HOW}")
        return

    with count_queries() as log:
        collections_worklist(organization_id)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {log.statements[-1]}")
        plan = [row[-1] for row in cursor.fetchall()]
    uses_index = any(f"INDEX {name} " in f"{step} " for step in plan for name in serving)
    sorts = [step for step in plan if "TEMP B-TREE" in step]

    check(
        uses_index and not sorts,
        "SQLite's plan for the worklist query:\n"
        + "\n".join(f"  {step}" for step in plan)
        + "\n"
        + (
            "It sorts the rows itself (USE TEMP B-TREE FOR ORDER BY): the index it reads does not hold "
            "them in due_on order. "
            if sorts
            else "It does not read an index made for this query. "
        )
        + f"With an index on (organization, status, due_on), it finds the organization's open invoices "
        f"as one range of the index, already in due_on order, and stops after the first 50. {HOW}",
    )
