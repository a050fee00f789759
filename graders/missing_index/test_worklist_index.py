"""Grader of `missing_index`: one index serves the worklist query, in the models, the migrations and the database."""

import ast
import io
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.models import Q
from django.test.utils import override_settings

from dojo.grading import check, count_queries, kata_dir, read_source
from missing_index.models import Invoice
from missing_index.services import collections_worklist

from .factories import InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

SLUG = "missing_index"
EQUALITY_COLUMNS = {"organization_id", "status"}  # filter(organization_id=..., status=...)
ORDER_COLUMN = "due_on"  # order_by("due_on", "id")
HOW = (
    'Add `models.Index(fields=["organization", "status", "due_on"], name=...)` to Invoice.Meta.indexes: '
    "first the columns the query compares for equality, then the column it orders by. (A partial index "
    'on (organization, due_on) with `condition=Q(status="open")` serves it too.)'
)


OPEN = "open"


@dataclass(frozen=True)
class IndexShape:
    """An index as the planner sees it: its columns, and the columns its condition fixes to one value."""

    columns: tuple[str, ...]
    fixed: frozenset[str] = frozenset()  # {"status"} for a partial index WHERE status = 'open'
    condition: str = ""  # a condition that is not `status = 'open'`: the worklist cannot use the index

    def shown(self) -> str:
        where = " WHERE status = 'open'" if self.fixed else f" WHERE {self.condition}" if self.condition else ""
        return f"({', '.join(self.columns)}){where}"


def serves_the_worklist(index: IndexShape) -> bool:
    """Equality columns first (in either order; status may be fixed by the index's condition), then due_on."""
    if index.condition:
        return False
    leading = list(itertools.takewhile(EQUALITY_COLUMNS.__contains__, index.columns))
    rest = index.columns[len(leading) :]
    return set(leading) | index.fixed >= EQUALITY_COLUMNS and rest[:1] == (ORDER_COLUMN,)


def condition_shape(condition: object) -> tuple[frozenset[str], str]:
    """What a partial index's `condition=Q(...)` fixes: only `status = 'open'` is one the worklist implies."""
    if condition is None:
        return frozenset(), ""
    if (
        isinstance(condition, Q)
        and not condition.negated
        and len(condition.children) == 1
        and isinstance(condition.children[0], tuple)
        and condition.children[0][0] in ("status", "status__exact")
        and condition.children[0][1] == OPEN
    ):
        return frozenset({"status"}), ""
    return frozenset(), str(condition)


def declared_indexes(model: type[models.Model]) -> dict[str, IndexShape]:
    """The indexes a model declares (Meta.indexes and db_index=True)."""
    # django-stubs lacks Field.db_index (set by Field.__init__), and types a column as `str | None`: None is for
    # a field without a column, which neither db_index nor Meta.indexes (concrete fields only) can name
    declared = {
        f"db_index on {field.name}": IndexShape((field.column,))  # type: ignore[arg-type]
        for field in model._meta.fields
        if field.db_index  # type: ignore[attr-defined]
    }
    for index in model._meta.indexes:
        if index.fields:
            columns: tuple[str, ...] = tuple(
                model._meta.get_field(name.removeprefix("-")).column  # type: ignore[union-attr, misc]
                for name in index.fields
            )
            fixed, other = condition_shape(index.condition)
            declared[index.name] = IndexShape(columns, fixed, other)
    return declared


def _where_of(definition: str) -> str:
    """The WHERE clause of a CREATE INDEX statement, normalised: `status='open'` for either database."""
    _create, found, where = definition.partition(" WHERE ")
    if not found:
        return ""
    return re.sub(r"""[\s"()]|::text""", "", where).lower()


def database_indexes() -> dict[str, IndexShape]:
    """The indexes the database has on the invoice table, by name, with their conditions."""
    table = Invoice._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
        definitions = {name: sql or "" for name, sql in cursor.fetchall()}
    found = {}
    for name, info in constraints.items():
        if info["index"] and not info["primary_key"]:
            where = _where_of(definitions.get(name, ""))
            fixed = frozenset({"status"}) if where == f"status='{OPEN}'" else frozenset()
            found[name] = IndexShape(tuple(info["columns"]), fixed, "" if fixed or not where else where)
    return found


def listed(indexes: dict[str, IndexShape]) -> str:
    if not indexes:
        return "none"
    return ", ".join(f"{name} {shape.shown()}" for name, shape in sorted(indexes.items()))


def organization_with_invoices(count: int = 40) -> int:
    organization = OrganizationFactory.create()
    statuses = [Invoice.Status.OPEN, Invoice.Status.OPEN, Invoice.Status.PAID, Invoice.Status.DRAFT]
    for n in range(count):
        InvoiceFactory.create(
            organization=organization, status=statuses[n % 4], due_on=date(2026, 2, 1) + timedelta(n % 17)
        )
    InvoiceFactory.create_batch(10)  # other organizations' invoices
    return organization.pk


# --- what the code does: these pass on the starter and must keep passing ---------------------------


@pytest.mark.contract(1)
def test_the_worklist_lists_open_invoices_earliest_due_first() -> None:
    organization_id = organization_with_invoices()
    expected = sorted(
        Invoice.objects.filter(organization_id=organization_id, status=Invoice.Status.OPEN),
        key=lambda invoice: (invoice.due_on, invoice.pk),
    )

    assert collections_worklist(organization_id) == expected
    assert collections_worklist(organization_id, limit=5) == expected[:5]


@pytest.mark.contract(1)
def test_an_organization_without_open_invoices_has_an_empty_worklist() -> None:
    organization = OrganizationFactory.create()
    InvoiceFactory.create(organization=organization, status=Invoice.Status.PAID)
    InvoiceFactory.create()  # another organization's open invoice

    assert collections_worklist(organization.pk) == []


@pytest.mark.contract(5)
@pytest.mark.guard("PERF-3")
def test_django_system_checks_pass() -> None:
    """Django's own checks of the kata's models: a model that fails them stops `migrate` and `runserver`."""
    found = checks.run_checks(app_configs=[apps.get_app_config(SLUG)], databases=["default"])
    errors = [message for message in found if message.is_serious()]
    check(
        not errors,
        "Django's system checks (`manage.py check`, which `migrate` and `runserver` run first) refuse the "
        "kata's models:\n"
        + "\n".join(f"  {message}" for message in errors)
        + "\nDeployment would stop there, before the index is ever built. An index name, for example, is at "
        "most 30 characters and starts with a letter: name it so in models.py and in the migration.",
    )


# --- the lesson ---------------------------------------------------------------------------------------


@pytest.mark.contract(2)
@pytest.mark.lesson("PERF-3")
def test_an_index_matches_the_worklist_query() -> None:
    declared = declared_indexes(Invoice)

    check(
        any(serves_the_worklist(index) for index in declared.values()),
        'The worklist query runs 40,000 times a day: filter(organization=..., status="open")'
        '.order_by("due_on", "id"). Invoice declares these indexes: '
        f"{listed(declared)}. Without one that starts with organization and status and then has "
        "due_on, the database reads every invoice of the organization, keeps the open ones and sorts "
        f"them, on every call. {HOW} An index that starts with another column, or has only one of "
        "them, cannot find the rows in the order the query wants.",
    )


@pytest.mark.contract(3)
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
        any(serves_the_worklist(index) for index in after_migrations.values()),
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


@pytest.mark.contract(3)
@pytest.mark.lesson("PERF-3")
def test_the_database_has_the_index() -> None:
    indexes = database_indexes()

    check(
        any(serves_the_worklist(index) for index in indexes.values()),
        f"The test database's invoice table has these indexes: {listed(indexes)}. None starts with "
        f"organization_id and status and then has due_on. {HOW}",
    )


def migrated_invoice() -> type[models.Model]:
    """The Invoice model as the kata's migrations leave it (their state, not models.py)."""
    with override_settings(MIGRATION_MODULES={**settings.MIGRATION_MODULES, SLUG: f"{SLUG}.migrations"}):
        return MigrationLoader(None, ignore_no_migrations=True).project_state().apps.get_model(SLUG, "Invoice")


@pytest.mark.contract(3)
@pytest.mark.guard("PERF-3")
def test_the_database_indexes_are_the_ones_the_migrations_declare() -> None:
    """The migration state names each index; the next migration that removes or changes it uses that name."""
    migrated = migrated_invoice()
    stated = {
        index.name: IndexShape(
            tuple(migrated._meta.get_field(name.removeprefix("-")).column for name in index.fields),  # type: ignore[union-attr, misc]
            *condition_shape(index.condition),
        )
        for index in migrated._meta.indexes
        if index.fields
    }
    # a field's own index (a foreign key's, db_index=True, unique=True) is named by Django, not by the state
    field_columns = {
        (field.column,)
        for field in migrated._meta.fields
        if field.db_index or field.unique  # type: ignore[attr-defined]  # Field.db_index, as above
    }
    built = database_indexes()
    problems = [
        f"the migrations declare {name} {shape.shown()}, the database has "
        + (f"{name} {built[name].shown()}" if name in built else "no index of that name")
        for name, shape in sorted(stated.items())
        if built.get(name, IndexShape(())).columns != shape.columns
        or built[name].fixed != shape.fixed
        or bool(built[name].condition) != bool(shape.condition)
    ]
    problems += [
        f"the database has {name} {shape.shown()}, which no migration declares"
        for name, shape in sorted(built.items())
        if name not in stated and (shape.columns not in field_columns or shape.fixed or shape.condition)
    ]
    check(
        not problems,
        "The database's indexes on the invoice table are not the ones the migrations declare:\n"
        + "\n".join(f"  {problem}" for problem in problems)
        + "\nDjango only knows the migration state: the next migration that removes or changes an index "
        "(RemoveIndex, AlterField, a model change) drops it by the name the state gives it. Under another "
        "name, that migration fails (SQLite: no such index) or leaves the real index behind (PostgreSQL's "
        "DROP INDEX IF EXISTS), and reversing the migration does the same. Use `migrations.AddIndex`, "
        "which builds exactly the index the state records: the same name, the same columns in the same order, "
        "the same condition.",
    )


#: what runs SQL of one's own: a cursor's or schema editor's execute(), a manager's raw(), a queryset's extra()
RAW_SQL_CALLS = frozenset({"execute", "executemany", "executescript", "raw", "extra"})
RAW_SQL_NAMES = frozenset({"RunSQL", "RawSQL"})


def _operations(operations: Sequence[Operation]) -> list[Operation]:
    """The operations, those inside SeparateDatabaseAndState included."""
    found: list[Operation] = []
    for operation in operations:
        found.append(operation)
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            found += _operations([*operation.database_operations, *operation.state_operations])
    return found


def raw_sql_written() -> list[str]:
    """Where the kata's migrations and models run SQL of their own, each as `file:line: what`."""
    with override_settings(MIGRATION_MODULES={**settings.MIGRATION_MODULES, SLUG: f"{SLUG}.migrations"}):
        loader = MigrationLoader(None, ignore_no_migrations=True)
    found = [
        f"migration {name}: RunSQL({operation.sql!r})"
        for (app, name), migration in sorted(loader.disk_migrations.items())
        if app == SLUG
        for operation in _operations(migration.operations)
        if isinstance(operation, migrations.RunSQL)
    ]
    folder = kata_dir(SLUG)
    for path in sorted([folder / "models.py", *(folder / "migrations").glob("*.py")]):
        for node in ast.walk(ast.parse(read_source(path))):
            if not isinstance(node, ast.expr):
                continue
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
            method = node.func.attr if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else ""
            if name in RAW_SQL_NAMES or method in RAW_SQL_CALLS:
                shown = ast.unparse(node)
                found.append(f"{path.relative_to(folder)}:{node.lineno}: {shown[:100]}{'…' * (len(shown) > 100)}")
    return sorted(set(found))


@pytest.mark.contract(3)
@pytest.mark.guard("PERF-3")
def test_the_migrations_build_the_index_without_raw_sql() -> None:
    """The standard allows raw SQL only when nothing else will do; Django's operations build any index."""
    written = raw_sql_written()
    check(
        not written,
        "The migrations or models run SQL written by hand:\n"
        + "\n".join(f"  {where}" for where in written)
        + "\nThe backend standard allows raw SQL only when it is absolutely necessary, and an index never "
        "needs it: `migrations.AddIndex` writes the CREATE INDEX for each database, under the name and on the "
        "columns the migration state records, and reverses it (on a large PostgreSQL table, "
        "`AddIndexConcurrently` builds it without blocking writes). Replace the RunSQL, or the SQL run from "
        'RunPython, with `migrations.AddIndex(model_name="invoice", index=models.Index(...))`, the same index '
        "as in models.py.",
    )


def organization_lookup_plan(organization_id: int) -> tuple[list[str], set[str]]:
    """The plan of `organization.invoices` (what deleting an organization cascades to), and the indexes it reads."""
    with count_queries() as log:
        list(Invoice.objects.filter(organization_id=organization_id))
    statement = log.statements[-1]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a small table is read whole whatever the indexes: without that route, the planner shows
            # which index, if any, finds the organization's invoices
            cursor.execute("SET enable_seqscan = off")
            try:
                text, nodes = postgresql_plan(statement)
            finally:
                cursor.execute("RESET enable_seqscan")
            return text, {node["Index Name"] for node in nodes if "Index Name" in node}
        cursor.execute(f"EXPLAIN QUERY PLAN {statement}")
        plan = [row[-1] for row in cursor.fetchall()]
    read = {name for name in database_indexes() for step in plan if f"INDEX {name} " in f"{step} "}
    return plan, read


@pytest.mark.contract(4)
@pytest.mark.guard("PERF-3")
def test_an_organization_s_invoices_are_found_through_an_index() -> None:
    organization_id = organization_with_invoices()
    indexes = database_indexes()
    leading = {name for name, index in indexes.items() if index.columns[:1] == ("organization_id",)}
    plan, read = organization_lookup_plan(organization_id)

    check(
        bool(read & leading),
        "The plan for an organization's invoices, looked up by organization alone (`organization.invoices`, "
        "and the cascade when an organization is deleted):\n"
        + "\n".join(f"  {step}" for step in plan)
        + f"\nreads no index that starts with organization_id (the table has {listed(indexes)}): the "
        "database reads the whole table, or a whole index, for every such lookup. The foreign key's own "
        "index serves them; drop it (`db_index=False`) only when the new index starts with organization, "
        "or put organization first in it.",
    )


BULK_ORGANIZATIONS = 10
BULK_INVOICES = 40_000  # enough rows that PostgreSQL's planner prefers an index to reading the table


def fill_the_table() -> int:
    """Many invoices in a few organizations, written in one statement, and fresh planner statistics.

    On a table of a few dozen rows PostgreSQL reads the whole table whatever the indexes; with tens of
    thousands, its plan shows which index serves the query, as in production.
    """
    organizations = [OrganizationFactory.create().pk for _ in range(BULK_ORGANIZATIONS)]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, number, customer_name, amount_due_cents, status, due_on, "  # noqa: S608 - our own table name
            "created_at, updated_at) "
            "SELECT (%s::bigint[])[1 + g %% %s], 'BULK-' || g, 'Customer ' || g, 5000 + g %% 700, "
            "(ARRAY['open', 'open', 'paid', 'draft', 'void'])[1 + g %% 5], DATE '2026-01-01' + g %% 365, "
            "now(), now() FROM generate_series(1, %s) AS g",
            [organizations, BULK_ORGANIZATIONS, BULK_INVOICES],
        )
        cursor.execute(f"ANALYZE {table}")
    return organizations[0]


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


def postgresql_plan(statement: str) -> tuple[list[str], list[dict[str, Any]]]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        text = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}")
        (document,) = cursor.fetchone()
    tree = json.loads(document) if isinstance(document, str) else document
    return text, plan_nodes(tree[0]["Plan"])


@pytest.mark.contract(4)
@pytest.mark.lesson("PERF-3")
def test_the_query_plan_uses_the_index() -> None:
    serving = [name for name, index in database_indexes().items() if serves_the_worklist(index)]
    if connection.vendor == "postgresql":
        organization_id = fill_the_table()
        with count_queries() as log:
            collections_worklist(organization_id)
        text, nodes = postgresql_plan(log.statements[-1])
        read = {node["Index Name"] for node in nodes if "Index Name" in node}
        sorts = [node for node in nodes if node["Node Type"] == "Sort"]  # an Incremental Sort is fine
        check(
            read & set(serving) and not sorts,
            f"PostgreSQL's plan for the worklist query, on {BULK_INVOICES:,} invoices:\n"
            + "\n".join(f"  {line}" for line in text)
            + "\n"
            + (
                "It sorts the organization's open invoices itself (Sort): no index it reads holds them in "
                "due_on order. "
                if sorts
                else "It does not read an index made for this query. "
            )
            + f"{HOW} (An Incremental Sort, which only orders the invoices due on the same day by id, "
            "is fine; ending the index with id avoids even that.)",
        )
        return

    organization_id = organization_with_invoices()
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
        + "With an index on (organization, status, due_on), it finds the organization's open invoices "
        "as one range of the index, already in due_on order (SQLite's index entries end with the row id, "
        f"the query's tiebreak), and stops after the first 50. {HOW}",
    )
