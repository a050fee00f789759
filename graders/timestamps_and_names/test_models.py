"""Grader of `timestamps_and_names`: singular model names, working timestamps, and migrations to match."""

import ast
import importlib
import io
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import DeleteModel, RemoveField, RunSQL, SeparateDatabaseAndState
from django.db.migrations.operations.base import Operation
from django.test.utils import override_settings

from dojo import grading
from dojo.grading import check
from timestamps_and_names.services import (
    InvoiceNotOpenError,
    change_billing_email,
    create_invoice,
    mark_paid,
    open_invoices,
    void_invoice,
)

from . import migration_probe
from .explain import migration_failure
from .factories import SLUG, InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

PLURALS = {"Organizations": "Organization", "Invoices": "Invoice"}
CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PAID = datetime(2026, 2, 3, 16, 45, tzinfo=UTC)
VOIDED = datetime(2026, 2, 4, 8, 15, tzinfo=UTC)
EMAIL_CHANGED = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
EDITED = datetime(2026, 3, 2, 14, 5, 30, 250_000, tzinfo=UTC)  # sub-second, as real saves are


def kata_models() -> list[type[models.Model]]:
    return list(apps.get_app_config(SLUG).get_models())


@contextmanager
def kata_migrations() -> Iterator[None]:
    """Read the kata's own migrations, whether or not the test database was built from them."""
    with override_settings(MIGRATION_MODULES={**settings.MIGRATION_MODULES, SLUG: f"{SLUG}.migrations"}):
        yield


def timestamps(instance: models.Model) -> tuple[Any, Any]:
    instance.refresh_from_db()
    return getattr(instance, "created_at", None), getattr(instance, "updated_at", None)


def shown(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S.%f}" if isinstance(value, datetime) else "missing"


# --- what the code does: these pass on the starter and must keep passing ---------------------------


@pytest.mark.contract(7)
def test_invoices_stay_open_until_paid_or_voided() -> None:
    organization = OrganizationFactory.create()
    later = create_invoice(organization, number="INV-109", amount_due_cents=500)  # created first, listed last
    first, second, third = (
        create_invoice(organization, number=f"INV-10{n}", amount_due_cents=1_000 * n) for n in (1, 2, 3)
    )
    InvoiceFactory.create()  # another organization's

    mark_paid(second)
    void_invoice(third)

    assert [invoice.number for invoice in open_invoices(organization)] == ["INV-101", later.number]
    assert [(i.number, i.status, i.amount_due_cents) for i in (first, second, third)] == [
        ("INV-101", "open", 1_000),
        ("INV-102", "paid", 2_000),
        ("INV-103", "void", 3_000),
    ]
    with pytest.raises(InvoiceNotOpenError):
        mark_paid(third)
    second.refresh_from_db()
    assert second.status == "paid"


@pytest.mark.contract(7)
def test_the_billing_email_can_be_changed() -> None:
    organization = OrganizationFactory.create(billing_email="old@organization.test")

    change_billing_email(organization, "accounts@organization.test")

    organization.refresh_from_db()
    assert organization.billing_email == "accounts@organization.test"


# --- the lesson ---------------------------------------------------------------------------------------


@pytest.mark.contract(1)
@pytest.mark.lesson("DJ-2")
def test_model_names_are_singular() -> None:
    names = sorted(model.__name__ for model in kata_models())
    plural = [name for name in names if name in PLURALS]
    missing = [name for name in ("Organization", "Invoice") if name not in names]

    check(
        not plural and not missing,
        f"The models are named {', '.join(names)}. A model class describes one row: "
        "`Invoice.objects.get(number=...)` returns one invoice, and `organization.invoices` is already "
        "the plural. Rename "
        + ", ".join(f"{name} to {PLURALS[name]}" for name in plural)
        + " (Django makes the plural for the admin itself), use the new names in services.py, and "
        "rename the models in a migration too.",
    )


def kata_modules() -> list[ModuleType]:
    """The kata's package and its modules as the grader imported them (models and services among them)."""
    importlib.import_module(f"{SLUG}.models")
    return [
        module
        for name, module in sorted(sys.modules.items())
        if (name == SLUG or name.startswith(f"{SLUG}.")) and ".migrations" not in name and module is not None
    ]


@pytest.mark.contract(1)
@pytest.mark.guard("DJ-2")
def test_no_model_is_left_under_an_old_name() -> None:
    models_module = sys.modules[f"{SLUG}.models"]
    # in models.py, a model class under any name but its own; in every module of the kata, an old name
    aliases = {
        f"{SLUG}.models.{name}": value
        for name, value in vars(models_module).items()
        if isinstance(value, type) and issubclass(value, models.Model) and name != value.__name__
    }
    for module in kata_modules():
        for plural in PLURALS:
            value = getattr(module, plural, None)  # a module `__getattr__` answers here too
            if value is not None and getattr(value, "__name__", None) != plural:
                aliases[f"{module.__name__}.{plural}"] = value
    listed = [
        f"{name} is {value.__name__ if isinstance(value, type) else repr(value)}"
        for name, value in sorted(aliases.items())
    ]
    check(
        not listed,
        "The old names are still there, under the new models:\n"
        + "\n".join(f"- {line}" for line in listed)
        + '\nAn alias kept "for the callers that still import it" keeps the old name alive: every caller '
        "goes on importing it, new code copies it, and the rename never finishes. A model has one name, its "
        "own. Remove the aliases (however they are made: an assignment, `globals()`, a module `__getattr__`) "
        "and change each caller to import Organization and Invoice.",
    )


def names_in_the_database(model: type[models.Model]) -> dict[str, str]:
    """What each name a model goes by is, the class's aside: its table, its verbose name and its columns."""
    names = {"its table (db_table)": model._meta.db_table, "its verbose_name": str(model._meta.verbose_name)}
    for field in model._meta.concrete_fields:
        names[f"the column of {field.name}"] = str(field.column)
    return names


@pytest.mark.contract(1)
@pytest.mark.lesson("DJ-2")
def test_the_tables_and_columns_are_named_in_the_singular_too() -> None:
    plural_words = {plural.lower() for plural in PLURALS}
    plural = [
        f"- {model.__name__}: {what} is `{name}`"
        for model in kata_models()
        for what, name in names_in_the_database(model).items()
        if plural_words & set(re.split(r"[^a-z]+", name.lower()))
    ]
    check(
        not plural,
        "These names of the models are still plural:\n"
        + "\n".join(plural)
        + "\nThe rule names a model for one row, and its table is that model's name in the database: every "
        "query, migration, SQL report and admin page shows it. A table kept under the old name (`db_table` "
        "in Meta, or a migration that renames the model and sets the old table back) leaves the plural "
        "where most people meet it, and the next model copies it. Let the rename rename the table as well "
        "(RenameModel does, for a model with Django's own table name), and name the verbose name and the "
        "columns for one row too.",
    )


@pytest.mark.contract(2)
@pytest.mark.lesson("DJ-3")
def test_every_model_has_created_at_and_updated_at() -> None:
    missing = []
    for model in kata_models():
        fields = {field.name: field for field in model._meta.get_fields()}
        for name in ("created_at", "updated_at"):
            if not isinstance(fields.get(name), models.DateTimeField):
                missing.append(f"{model.__name__}.{name}")

    check(
        not missing,
        f"These timestamps are missing: {', '.join(missing)}. When support asks when an invoice was "
        "created or last changed, only the row can answer. Give every business model "
        "`created_at = models.DateTimeField(auto_now_add=True)` and "
        "`updated_at = models.DateTimeField(auto_now=True)`.",
    )


@pytest.mark.contract(3)
@pytest.mark.lesson("DJ-3")
def test_created_at_is_set_once_and_updated_at_on_every_change() -> None:
    with time_machine.travel(CREATED, tick=False):
        organization = OrganizationFactory.create()
        paid = create_invoice(organization, number="INV-201", amount_due_cents=5_000)
        voided = create_invoice(organization, number="INV-202", amount_due_cents=7_000)
        edited = create_invoice(organization, number="INV-203", amount_due_cents=9_000)
    with time_machine.travel(PAID, tick=False):
        mark_paid(paid)
    with time_machine.travel(VOIDED, tick=False):
        void_invoice(voided)
    with time_machine.travel(EMAIL_CHANGED, tick=False):
        change_billing_email(organization, "ap@organization.test")
    with time_machine.travel(EDITED, tick=False):  # a save of the whole row, as the admin makes
        edited.amount_due_cents = 9_500
        edited.save()

    cases = [
        ("the organization", "its billing email changed", organization, EMAIL_CHANGED),
        ("invoice INV-201", "it was paid", paid, PAID),
        ("invoice INV-202", "it was voided", voided, VOIDED),
        ("invoice INV-203", "it was saved in full", edited, EDITED),
    ]
    wrong = []
    for label, change, instance, changed_at in cases:
        created_at, updated_at = timestamps(instance)
        if created_at != CREATED or updated_at != changed_at:
            wrong.append(
                f"- {label}, created {shown(CREATED)}, changed {shown(changed_at)} when {change}: "
                f"created_at is {shown(created_at)}, updated_at is {shown(updated_at)}"
            )

    check(
        not wrong,
        "created_at must keep the moment a row was created, and updated_at the moment it last changed:\n"
        + "\n".join(wrong)
        + "\n`auto_now_add=True` sets created_at on the first save only; `auto_now=True` sets updated_at on "
        "every save() (a `default=` is only the value at creation). `save(update_fields=[...])` writes "
        'only the fields it names: add "updated_at" to the list.',
    )


BUILT = datetime(2026, 4, 1, 8, 0, 0, 125_000, tzinfo=UTC)  # an object made in memory ...
INSERTED = datetime(2026, 4, 1, 8, 0, 2, 500_000, tzinfo=UTC)  # ... and written to the table later
LONG_AGO = datetime(2016, 4, 1, 8, 0, tzinfo=UTC)  # a creation time a caller tries to give a row


def back_dated_inserts(
    factory: type[OrganizationFactory] | type[InvoiceFactory], model: type[models.Model], organization: models.Model
) -> list[tuple[str, models.Model]]:
    """Rows of `model` inserted with created_at=2016 in every way a caller can, with and without a chosen pk."""
    parent = {"organization": organization} if factory is InvoiceFactory else {}

    def values(chosen: bool) -> dict[str, Any]:  # Any: the model's own field values
        built = factory.build(**parent)  # a new row's values, as the grader's factories make them
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        own = {field.attname: getattr(built, field.attname) for field in fields if field.name not in TIMESTAMPS}
        return {**own, **({"pk": next(CHOSEN_PKS)} if chosen else {})}

    inserted: list[tuple[str, models.Model]] = []
    for chosen in (False, True):
        pk = "pk=..., " if chosen else ""
        created = model._default_manager.create(**values(chosen), created_at=LONG_AGO)
        inserted.append((f"{{model}}.objects.create({pk}created_at=2016)", created))
        for how in ("save()", "save(force_insert=True)"):
            row = model(**values(chosen))
            setattr(row, "created_at", LONG_AGO)  # noqa: B010 - the kata's models, whichever their fields
            row.save(force_insert=how != "save()")
            inserted.append((f"{{model}}({pk}...) given created_at=2016, then {how}", row))
        made = factory.create(**values(chosen), created_at=LONG_AGO)
        inserted.append((f"{factory.__name__}.create({pk}created_at=2016)", made))
    return inserted


TIMESTAMPS = ("created_at", "updated_at")
CHOSEN_PKS = iter(range(777, 1_000_000))  # primary keys a caller chooses, as an import keeps its old ids


@pytest.mark.contract(3)
@pytest.mark.lesson("DJ-3")
def test_created_at_is_set_by_the_insert_whatever_the_caller_passes() -> None:
    organization_model, invoice_model = OrganizationFactory._meta.model, InvoiceFactory._meta.model
    missing = [
        model.__name__ for model in kata_models() if "created_at" not in {f.name for f in model._meta.get_fields()}
    ]
    check(not missing, f"{', '.join(missing)} has no created_at: give it `models.DateTimeField(auto_now_add=True)`.")
    with time_machine.travel(BUILT, tick=False):
        organization = organization_model(name="Acme", billing_email="ap@acme.test")
        back_dated_organization = organization_model(name="Globex", billing_email="ap@globex.test")
        back_dated_organization.created_at = LONG_AGO
    with time_machine.travel(INSERTED, tick=False):
        organization.save()
        back_dated_organization.save()
        built_early = invoice_model(organization=organization, number="INV-301", amount_due_cents=100)
        built_early.created_at = BUILT  # as if built a moment before the insert
        built_early.save()
        created_back_dated = invoice_model._default_manager.create(
            organization=organization, number="INV-302", amount_due_cents=100, created_at=LONG_AGO
        )
        from_the_factory = InvoiceFactory.create(organization=organization, created_at=LONG_AGO)
        # every model, every way of inserting a row, with and without a primary key the caller chose
        generated = [
            (label.format(model=model.__name__), row)
            for factory, model in ((OrganizationFactory, organization_model), (InvoiceFactory, invoice_model))
            for label, row in back_dated_inserts(factory, model, organization)
        ]

    cases = [
        ("an organization built earlier, then saved", organization),
        ("an organization given created_at=2016 before its first save", back_dated_organization),
        ("an invoice whose created_at was set before its first save", built_early),
        ("Invoice.objects.create(..., created_at=2016)", created_back_dated),
        ("InvoiceFactory.create(created_at=2016)", from_the_factory),
        *generated,
    ]
    wrong = [
        f"- {label}: created_at is {shown(timestamps(row)[0])}, inserted at {shown(INSERTED)}"
        for label, row in cases
        if timestamps(row)[0] != INSERTED
    ]
    check(
        not wrong,
        "created_at must be the moment the row was inserted, set by the insert itself, whatever a caller "
        "passed or when the object was built:\n"
        + "\n".join(wrong)
        + "\nWhen a customer disputes an invoice, its creation time is evidence: a value a caller can "
        "choose (`default=timezone.now` keeps what create() is given, and holds the moment the object was "
        "built) lets any import, script or test back-date a row. `auto_now_add=True` sets created_at at "
        "the insert and ignores any value passed in. A row is new until it is inserted, even when the caller "
        "chose its primary key: an import that keeps its old ids inserts rows whose pk is set beforehand.",
    )


#: the columns each service changes (and updated_at): every other column is someone else's to write
SERVICES: dict[str, tuple[Callable[[Any], None], str, set[str]]] = {  # Any: an invoice or an organization
    "mark_paid": (mark_paid, "invoice", {"status", "updated_at"}),
    "void_invoice": (void_invoice, "invoice", {"status", "updated_at"}),
    "change_billing_email": (
        lambda organization: change_billing_email(organization, "ap@elsewhere.test"),
        "organization",
        {"billing_email", "updated_at"},
    ),
}
SERVICE_CALLED = datetime(2026, 5, 4, 10, 20, 30, 750_000, tzinfo=UTC)


def changed_behind_its_back(row: models.Model, field: "models.Field[Any, Any]") -> object:
    """A new value for `field` of `row`, as another request would write it; None for a column left alone."""
    value = getattr(row, field.name)
    if field.is_relation:
        return OrganizationFactory.create()
    if isinstance(field, models.DateTimeField):
        return LONG_AGO
    if isinstance(field, models.EmailField):
        return "changed@elsewhere.test"
    if isinstance(field, models.PositiveIntegerField):
        return value - 100  # a credit note applied meanwhile
    if isinstance(field, models.CharField) and not field.choices:
        return f"{value} GmbH"[: field.max_length]
    return None


_UPDATE = re.compile(r"\s*UPDATE\s+(?P<table>\S+)\s+SET\s+(?P<set>.*?)(?:\s+WHERE\s.*)?\s*;?\s*$", re.I | re.S)


def _name(quoted: str) -> str:
    """An SQL identifier without its quotes and its table prefix: `"t"."c"` is c."""
    return quoted.strip().rsplit(".", 1)[-1].strip('"`[] ')


def set_columns(sql: str) -> list[tuple[str, str]]:
    """The (table, column) pairs an UPDATE statement sets; nothing for any other statement."""
    found = _UPDATE.match(sql)
    if found is None:
        return []
    assignments, depth, quote, start = [], 0, "", 0
    clause = found["set"]
    for index, char in enumerate(clause):  # split at the commas outside parentheses and quotes
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            assignments.append(clause[start:index])
            start = index + 1
    assignments.append(clause[start:])
    return [(_name(found["table"]), _name(part.split("=", 1)[0])) for part in assignments if "=" in part]


@contextmanager
def columns_updated() -> Iterator[set[tuple[str, str]]]:
    """The (table, column) pairs the UPDATE statements run in the block set, ORM or raw SQL alike."""
    updated: set[tuple[str, str]] = set()

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def record(execute: Callable[..., object], sql: str, params: object, many: bool, context: object) -> object:
        updated.update(set_columns(sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield updated


@pytest.mark.contract(7)
@pytest.mark.lesson("DJ-3")
@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_writes_only_the_columns_it_changes(service: str) -> None:
    call, changes, written = SERVICES[service]
    overwritten: list[str] = []
    others: list[str] = []
    extra: set[str] = set()  # the columns an UPDATE of the service sets besides its own
    timestamp = ""
    with time_machine.travel(CREATED, tick=False):
        invoice = InvoiceFactory.create(amount_due_cents=1_000)
    row: models.Model = invoice if changes == "invoice" else invoice.organization
    model = type(row)
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in written:
            continue
        new = changed_behind_its_back(row, field)
        if new is None:
            continue
        others.append(field.name)
        loaded = model._default_manager.get(pk=row.pk)  # what the caller holds
        model._default_manager.filter(pk=row.pk).update(**{field.name: new})  # another request, meanwhile
        expected = getattr(model._default_manager.get(pk=row.pk), field.attname)
        with time_machine.travel(SERVICE_CALLED, tick=False), columns_updated() as updated:
            call(loaded)
        allowed = {(model._meta.db_table, own.column) for own in model._meta.concrete_fields if own.name in written}
        extra |= {f"{column} (table {table})" for table, column in updated if (table, column) not in allowed}
        stored = model._default_manager.get(pk=row.pk)
        if getattr(stored, field.attname) != expected:
            overwritten.append(
                f"- {field.name} was changed to {expected!r} meanwhile; after {service}() it is "
                f"{getattr(stored, field.attname)!r} again"
            )
        if getattr(stored, "updated_at", None) != SERVICE_CALLED:
            timestamp = f"updated_at is {shown(getattr(stored, 'updated_at', None))}, not {shown(SERVICE_CALLED)}"
        if changes == "invoice":  # the next round needs an open invoice again
            model._default_manager.filter(pk=row.pk).update(status="open")

    check(
        not overwritten,
        f"{service}() writes back columns it did not change. The caller loaded the "
        f"{changes}, another request changed one of its other columns in the database, and then:\n"
        + "\n".join(overwritten)
        + f"\nA full `save()` writes every column from the caller's copy, so it reverts what others wrote "
        "meanwhile (a rename, a corrected amount): a lost update. Each service writes only the columns it "
        f'changes: `save(update_fields=[...])` naming them and "updated_at" ({", ".join(sorted(written))}), '
        "or an `update()` of those columns.",
    )
    check(
        not extra,
        f"{service}() writes columns it does not change: {', '.join(sorted(extra))}. Between the moment "
        "the service reads the row (a refresh_from_db() just before included) and the moment its write reaches "
        "the database, another request can change any of them, and that change is lost. Contract 7: each "
        f"service writes only the columns it changes and updated_at ({', '.join(sorted(written))}), so that "
        "no stale value of another column can travel with it.",
    )
    check(
        not timestamp,
        f'{service}() changed the {changes} at {shown(SERVICE_CALLED)}, but {timestamp}. List "updated_at" '
        "in `save(update_fields=[...])`, or set it yourself in an `update()`.",
    )
    check(bool(others), f"The {changes} has no column besides {', '.join(sorted(written))} to check.")


@pytest.mark.contract(4)
@pytest.mark.guard("DJ-2")
def test_the_migrations_match_the_models() -> None:
    output = io.StringIO()
    with kata_migrations():
        try:
            call_command(
                "makemigrations", SLUG, check=True, dry_run=True, interactive=False, stdout=output, stderr=output
            )
            matching = True
        except SystemExit:  # makemigrations --check exits non-zero when a migration is missing
            matching = False
        except Exception as error:  # a migration Django cannot even load: say which and why, in words
            raise AssertionError(f"Django cannot read the migrations of {SLUG}: {migration_failure(error)}") from None

    check(
        matching,
        "The models and the migrations disagree: `makemigrations --check` found changes that no migration "
        "makes:\n"
        + output.getvalue().strip()
        + "\n(Here makemigrations cannot ask whether a model was renamed, so it shows a rename as a create "
        "and a delete.) The tables in production are changed by migrations, not by models.py: without one, the renamed "
        "models look for tables that do not exist and the new columns are never added. Write the "
        f"operations in {SLUG}/migrations/0002_singular_names_and_timestamps.py: RenameModel for each "
        "renamed model, AddField for each new field.",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("DJ-2")
def test_the_migrations_keep_every_row() -> None:
    with kata_migrations():
        try:
            loader = MigrationLoader(None, ignore_no_migrations=True)
        except Exception as error:  # a migration Django cannot even load: say which and why, in words
            raise AssertionError(f"Django cannot read the migrations of {SLUG}: {migration_failure(error)}") from None
    dropping = [
        f"{name}: {operation.describe()}"
        for (app_label, name), migration in sorted(loader.disk_migrations.items())
        if app_label == SLUG
        for operation in migration.operations
        if isinstance(operation, DeleteModel | RemoveField)
    ]

    check(
        not dropping,
        "A migration drops data that production holds:\n"
        + "\n".join(f"- {entry}" for entry in dropping)
        + "\nA model renamed by deleting it and creating it anew loses every row: every organization and "
        "invoice would be gone after the deploy. (This is what `makemigrations` writes when it asks "
        '"Was the model renamed?" and hears no, e.g. with --noinput.) Use '
        "`migrations.RenameModel(old_name=..., new_name=...)`, which renames the table and keeps its rows.",
    )


#: what runs SQL of one's own: a cursor's or schema editor's execute(), a manager's raw(), a queryset's extra()
RAW_SQL_CALLS = frozenset({"execute", "executemany", "executescript", "raw", "extra"})
RAW_SQL_NAMES = frozenset({"RunSQL", "RawSQL"})


def every_operation(operations: Sequence[Operation]) -> list[Operation]:
    """The operations, those inside SeparateDatabaseAndState included."""
    found: list[Operation] = []
    for operation in operations:
        found.append(operation)
        if isinstance(operation, SeparateDatabaseAndState):
            found += every_operation([*operation.database_operations, *operation.state_operations])
    return found


def raw_sql_written() -> list[str]:
    """Where the kata's migrations, models and services run SQL of their own, each as `where: what`."""
    with kata_migrations():
        try:
            loader = MigrationLoader(None, ignore_no_migrations=True)
        except Exception as error:  # a migration Django cannot even load: say which and why, in words
            raise AssertionError(f"Django cannot read the migrations of {SLUG}: {migration_failure(error)}") from None
    found = [
        f"migration {name}: RunSQL({shortened(str(operation.sql))})"
        for (app_label, name), migration in sorted(loader.disk_migrations.items())
        if app_label == SLUG
        for operation in every_operation(migration.operations)
        if isinstance(operation, RunSQL)
    ]
    folder = grading.kata_dir(SLUG)
    for path in sorted(folder.rglob("*.py")):  # every module of the kata, its migrations included
        for node in ast.walk(ast.parse(grading.read_source(path))):
            if not isinstance(node, ast.expr):
                continue
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
            method = node.func.attr if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else ""
            if name in RAW_SQL_NAMES or method in RAW_SQL_CALLS:
                found.append(f"{path.relative_to(folder)}:{node.lineno}: {shortened(ast.unparse(node))}")
    return sorted(set(found))


def shortened(text: str, width: int = 100) -> str:
    return text[:width] + "…" * (len(text) > width)


@pytest.mark.contract(5)
@pytest.mark.guard("DJ-2")
def test_the_tables_change_without_raw_sql() -> None:
    written = raw_sql_written()
    check(
        not written,
        "The migrations or the code run SQL written by hand:\n"
        + "\n".join(f"- {where}" for where in written)
        + "\nThe backend standard allows raw SQL only when it is absolutely necessary, and renaming a model's "
        "table or adding a column never needs it: Django's operations write the SQL for each database, rename "
        "what depends on the table with it, keep the migration state and the database in step, and reverse "
        "themselves. Replace the RunSQL (in SeparateDatabaseAndState or not), or the SQL run from RunPython, "
        "with the operations that do the same, and let the services use the ORM.",
    )


def migrated_production() -> dict[str, Any]:
    """What the kata's migrations do to a database holding rows made by 0001_initial (see migration_probe)."""
    kata_root = grading.kata_dir(SLUG).parent.resolve()
    with tempfile.TemporaryDirectory(prefix="dojo-migrations-") as scratch:
        completed = subprocess.run(  # noqa: S603 - our own interpreter running the kata's migrations
            [sys.executable, migration_probe.__file__, str(kata_root), str(Path(scratch) / "production.sqlite3")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    try:
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        error = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": "loading the migrations", "error": "", "message": error, "where": ""}
    return result


@pytest.mark.command_line_only(
    "it runs the migrations on a copy of production in a process of its own, which the browser cannot start"
)
@pytest.mark.lesson("DJ-2")
@pytest.mark.contract(5)
@pytest.mark.timeout(90)  # a process of its own sets Django up and runs every migration
def test_the_migrations_run_on_production_rows() -> None:
    result = migrated_production()
    if "failed" in result:
        if result["error"] == "KeyError":
            explained = migration_failure(KeyError(eval_key(result["message"])))
        else:
            explained = (
                f"{result['error']}: {result['message']}".lstrip(": ")
                + ". Every operation must run on the database 0001_initial made, rows included: each names the "
                "models and fields as the operations before it left them, and a new column that may not be "
                "NULL needs a value for the rows already there."
            )
        check(
            False,
            f"Migrating a copy of production (2 organizations and 3 invoices, made by 0001_initial) failed at "
            f"{result['failed']}: {explained}",
        )
    rows = result["rows"]
    organizations: list[dict[str, Any]] = next(
        (found for found in rows.values() if found and "billing_email" in found[0]), []
    )
    invoices: list[dict[str, Any]] = next((found for found in rows.values() if found and "number" in found[0]), [])
    kept_organizations = [(row["name"], row["billing_email"]) for row in organizations]
    by_id = {row["id"]: row["name"] for row in organizations}
    kept_invoices = [
        (row["number"], by_id.get(row["organization_id"]), row["amount_due_cents"], row["status"]) for row in invoices
    ]
    expected_invoices = [
        (number, migration_probe.ORGANIZATIONS[owner][0], cents, status)
        for number, owner, cents, status in migration_probe.INVOICES
    ]
    check(
        kept_organizations == migration_probe.ORGANIZATIONS and kept_invoices == expected_invoices,
        "After the migrations, a copy of production no longer holds its rows as they were:\n"
        f"  organizations: {kept_organizations}, where {migration_probe.ORGANIZATIONS} were due\n"
        f"  invoices: {kept_invoices}, where {expected_invoices} were due\n"
        "A rename must keep the table's rows (RenameModel renames the table; a delete and a create drop it).",
    )
    undated = [
        f"{model} {row.get('number') or row.get('name')}"
        for model, found in rows.items()
        for row in found
        if not row.get("created_at") or not row.get("updated_at")
    ]
    check(
        not undated,
        f"After the migrations, these rows of production have no created_at or updated_at: {', '.join(undated)}. "
        "Every row gets both columns, the rows already there too: when they were made is not known, so the "
        "migration's run time is the honest value (`default=timezone.now` with `preserve_default=False` on "
        "the AddField, or `auto_now_add`/`auto_now`, which Django fills in for existing rows).",
    )


def eval_key(message: str) -> object:
    """The key of a KeyError as the probe printed it (`('app', 'model')`), back as a value."""
    try:
        return ast.literal_eval(message)
    except (ValueError, SyntaxError):
        return message
