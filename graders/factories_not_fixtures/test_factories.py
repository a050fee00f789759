"""Grader of `factories_not_fixtures`: a factory for every model, with its parents, unique values and a build()."""

from collections.abc import Callable
from typing import Any

import factory
import pytest
from django.apps import apps
from django.db import models, transaction

from dojo.grading import check
from factories_not_fixtures import factories
from factories_not_fixtures.models import Customer, Invoice, InvoiceLine, Organization

BATCH = 50
GRAPH = (Organization, Customer, Invoice, InvoiceLine)  # each model with every model it depends on before it


def app_models() -> list[type[models.Model]]:
    return list(apps.get_app_config("factories_not_fixtures").get_models())


def factories_of(model: type[models.Model]) -> list[Any]:  # Any: the learner's factory classes
    """The learner's factories for `model`, the one named `<Model>Factory` first."""
    found = [
        value
        for value in vars(factories).values()
        if isinstance(value, type)
        and issubclass(value, factory.django.DjangoModelFactory)
        and getattr(value._meta, "model", None) is model
    ]
    return sorted(found, key=lambda candidate: candidate.__name__ != f"{model.__name__}Factory")


def factory_for(model: type[models.Model]) -> Any:
    found = factories_of(model)
    check(
        found,
        f"factories.py has no factory_boy factory for {model.__name__}. Write `class {model.__name__}Factory("
        f"factory.django.DjangoModelFactory[{model.__name__}])` with `class Meta: model = {model.__name__}`.",
    )
    return found[0]


def attempt(make: Callable[[], object]) -> Exception | None:
    """Run `make` in a savepoint; the error it raised, if any (the test's transaction stays usable)."""
    try:
        with transaction.atomic():
            make()
    except Exception as error:  # reported to the learner
        return error
    return None


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in GRAPH}


@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db  # no query here: the mark keeps it first (pytest-django runs database tests first)
def test_every_model_has_a_factory() -> None:
    missing = [model.__name__ for model in app_models() if not factories_of(model)]
    check(
        not missing,
        f"factories.py has no factory_boy factory for {', '.join(missing)}. The make_*() helpers create "
        "one fixed row each: a second call breaks a unique constraint, a test cannot ask for 50 rows or for "
        "an unsaved object, and every test that needs a slightly different row grows a helper of its own. "
        "Write one `factory.django.DjangoModelFactory` per model (OrganizationFactory, CustomerFactory, "
        "InvoiceFactory, InvoiceLineFactory), and let tests override only the fields they are about.",
    )


@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db
def test_a_line_factory_creates_its_invoice_customer_and_organization() -> None:
    line_factory = factory_for(InvoiceLine)
    before = row_counts()
    lines: list[InvoiceLine] = []

    errors = [attempt(lambda: lines.append(line_factory())) for _ in range(2)]

    created = {name: count - before[name] for name, count in row_counts().items()}
    problems = [f"{type(error).__name__}: {error}" for error in errors if error is not None]
    check(
        not problems and created == dict.fromkeys(created, 2),
        f"Calling {line_factory.__name__}() twice, with nothing else set up, must create two lines, each with "
        f"an invoice, customer and organization of its own. It created {created}"
        + (f" and raised {problems}" if problems else "")
        + ". Make every parent with factory.SubFactory(ParentFactory): a parent looked up in the database "
        "(`Customer.objects.first()`) is missing in an empty test database, and shared by tests that then "
        "depend on each other. And give every unique field a factory.Sequence, or the second call breaks "
        "a unique constraint.",
    )
    for line in lines:
        for row in (line, line.invoice, line.invoice.customer, line.invoice.customer.organization):
            error = attempt(row.full_clean)
            check(
                error is None, f"{type(row).__name__}Factory made a {type(row).__name__} that fails validation: {error}"
            )


@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db
def test_create_batch_gives_unique_values() -> None:
    organization_factory, customer_factory = factory_for(Organization), factory_for(Customer)
    invoice_factory, line_factory = factory_for(Invoice), factory_for(InvoiceLine)
    batches: dict[str, Callable[[], list[object]]] = {
        f"{organization_factory.__name__}.create_batch({BATCH})": lambda: organization_factory.create_batch(BATCH),
        f"{customer_factory.__name__}.create_batch({BATCH}, organization=one_organization)": (
            lambda: customer_factory.create_batch(BATCH, organization=organization_factory())
        ),
        f"{invoice_factory.__name__}.create_batch({BATCH})": lambda: invoice_factory.create_batch(BATCH),
        f"{line_factory.__name__}.create_batch({BATCH}, invoice=one_invoice)": (
            lambda: line_factory.create_batch(BATCH, invoice=invoice_factory())
        ),
        f"{line_factory.__name__}.create_batch({BATCH})": lambda: line_factory.create_batch(BATCH),
    }

    failures: dict[str, str] = {}
    for call, make in batches.items():
        made: list[object] = []
        error = attempt(lambda make=make, made=made: made.extend(make()))  # type: ignore[misc]
        if error is not None:
            failures[call] = f"{type(error).__name__}: {error}"
        elif len({getattr(row, "pk", id(row)) for row in made}) != BATCH:
            distinct = len({getattr(row, "pk", id(row)) for row in made})
            failures[call] = f"gave {distinct} distinct rows, not {BATCH} (get_or_create on a fixed value?)"
    check(
        not failures,
        "These batches break a unique constraint, or do not give as many rows as asked:\n"
        + "\n".join(f"  {call}: {problem}" for call, problem in failures.items())
        + '\nA fixed value (`number = "INV-00001"`) is fine for one row and breaks at the second, and '
        "`django_get_or_create` on it hides the break by handing back the same row. Give every unique field, "
        "and every field of a unique constraint, a factory.Sequence: "
        '`number = factory.Sequence(lambda n: f"INV-{n:05d}")`, `position = factory.Sequence(lambda n: n + 1)`.',
    )


@pytest.mark.lesson("TEST-3")
def test_build_touches_no_database() -> None:
    # no django_db mark: pytest-django refuses any database access in this test
    problems = []
    built: dict[str, models.Model] = {}
    for model in GRAPH:
        model_factory = factory_for(model)
        try:
            built[model.__name__] = model_factory.build()
        except Exception as error:  # reported to the learner
            problems.append(f"{model_factory.__name__}.build() raised {type(error).__name__}: {error}")

    check(
        not problems,
        "build() must make objects in memory only, so that a unit test without the database (no "
        "`django_db` mark: pytest-django blocks every query) can use them:\n"
        + "\n".join(f"  {problem}" for problem in problems)
        + "\nLet factory_boy make the parents (factory.SubFactory follows the strategy: built with build(), "
        "created with create()), instead of calling a factory or the ORM in a LazyFunction.",
    )
    line = built["InvoiceLine"]
    assert isinstance(line, InvoiceLine)
    graph = [line, line.invoice, line.invoice.customer, line.invoice.customer.organization]
    check(
        all(row.pk is None for row in graph),
        "InvoiceLineFactory.build() must build its invoice, customer and organization too, unsaved.",
    )
