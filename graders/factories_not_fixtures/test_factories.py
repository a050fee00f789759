"""Grader of `factories_not_fixtures`: a factory for every model, with its parents, unique values and a build().

Unique values must be guaranteed, not likely: a field drawn at random (`FuzzyInteger(1, 10_000)`, a
Faker value) passes one batch and breaks another. The batch check runs under many seeds of
factory_boy's random generator (drawn by hypothesis, so the same on every run), and reads the unique
fields and constraints from the models themselves, so that every constraint of the app is graded.
"""

import hashlib
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from unittest import mock

import factory
import factory.random
import pytest
from django.apps import apps
from django.db import models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from hypothesis import given
from hypothesis import strategies as st

from dojo.grading import check, count_queries
from dojo.scenarios import rolled_back, scenarios
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


@contextmanager
def same_chance(seed: int) -> Iterator[None]:
    """Every source of chance starts again from `seed`: factory_boy's (and Faker's) generator, the random
    module, new random.Random() instances, and the operating system's bytes behind uuid4(), secrets and
    SystemRandom, which give the same bytes on every read. A value unique by luck repeats in here."""
    factory.random.reseed_random(seed)  # type: ignore[no-untyped-call]  # factory_boy's, untyped
    random.seed(seed)
    pinned = hashlib.sha512(str(seed).encode()).digest()
    original_seed = random.Random.seed

    def same_bytes(size: int) -> bytes:
        return (pinned * (size // len(pinned) + 1))[:size]

    def seeded(self: random.Random, a: object = None, version: int = 2) -> None:
        original_seed(self, seed if a is None else a, version)  # type: ignore[arg-type]  # as random passes it

    with (
        mock.patch.object(os, "urandom", same_bytes),
        mock.patch.object(random, "_urandom", same_bytes),
        mock.patch.object(random.Random, "seed", seeded),
    ):
        yield


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in GRAPH}


@pytest.mark.contract(1)
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


@pytest.mark.contract(2, 3)
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


@pytest.mark.contract(4)
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
        '`number = factory.Sequence(lambda n: f"INV-{n:05d}")`, '
        "`position = factory.Sequence(lambda n: n % 32_767 + 1)`.",
    )


#: a test's realistic needs beyond the README's 50: one long invoice (a few hundred lines), and several
#: batches in a row on the same parent (a test that adds lines in steps)
LONG_BATCH = 300
BATCHES_IN_A_ROW = (30, 30, 30)


@pytest.mark.contract(4)
@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db
def test_unique_values_hold_for_long_and_repeated_batches_on_one_parent() -> None:
    """A few hundred rows on one parent, and several batches in a row on it, respect every unique constraint"""
    failures: dict[str, str] = {}
    for model in GRAPH:
        model_factory = factory_for(model)
        parent = parent_field(model)
        for sizes in ((LONG_BATCH,), BATCHES_IN_A_ROW):
            made: list[object] = []
            overrides: dict[str, object] = {}
            shared = ""
            if parent is not None:
                overrides[parent.name] = factory_for(parent.related_model)()
                shared = f", {parent.name}=one_{parent.name}"
            calls = " then ".join(f"{model_factory.__name__}.create_batch({size}{shared})" for size in sizes)

            def make(
                sizes: tuple[int, ...] = sizes,
                overrides: dict[str, object] = overrides,
                made: list[object] = made,
                model_factory: Any = model_factory,  # Any: the learner's factory class
            ) -> None:
                for size in sizes:
                    made.extend(model_factory.create_batch(size, **overrides))

            error = attempt(make)
            if error is not None:
                failures[calls] = f"{type(error).__name__}: {error}"
            elif len({getattr(row, "pk", id(row)) for row in made}) != sum(sizes):
                failures[calls] = f"gave {len({getattr(row, 'pk', id(row)) for row in made})} distinct rows"
    check(
        not failures,
        "A test that needs more rows than the README's 50, on one parent, breaks a unique constraint:\n"
        + "\n".join(f"  {calls}: {problem}" for calls, problem in failures.items())
        + "\nAn invoice with a few hundred lines, or lines added in several batches, is an ordinary test. A "
        "sequence wrapped at a small number (`n % 50 + 1`) starts again at 1 and repeats a value the unique "
        "constraint forbids: the 50 is an example, not a limit. Let a sequence run as far as the field allows "
        "(a PositiveSmallIntegerField position: `factory.Sequence(lambda n: n % 32_767 + 1)`).",
    )


@pytest.mark.contract(5)
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


def unique_sets(model: type[models.Model]) -> list[tuple[str, ...]]:
    """The field sets the model keeps unique: unique fields (the primary key aside) and unique constraints."""
    sets: list[tuple[str, ...]] = [
        (field.name,)
        for field in model._meta.get_fields()
        if getattr(field, "unique", False) and not getattr(field, "primary_key", False)
    ]
    sets += [
        tuple(constraint.fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
    ]
    sets += [tuple(together) for together in model._meta.unique_together]
    return sets


def parent_field(model: type[models.Model]) -> models.ForeignKey[Any, Any] | None:
    return next((field for field in model._meta.get_fields() if isinstance(field, models.ForeignKey)), None)


def key(row: models.Model, fields: tuple[str, ...]) -> tuple[object, ...]:
    """The values of `fields` on an unsaved row: a parent by its identity, since unsaved rows have no pk."""
    values: list[object] = []
    for name in fields:
        value = getattr(row, name)
        values.append(id(value) if isinstance(value, models.Model) else value)
    return tuple(values)


@pytest.mark.lesson("TEST-4")
@pytest.mark.contract(4)
@pytest.mark.timeout(60)  # generated seeds: the default 10 s is for one scenario
@scenarios(25)
@given(seed=st.integers(0, 2**32 - 1))
def test_unique_values_are_guaranteed_under_any_seed(seed: int) -> None:
    # no django_db mark: build_batch() stays in memory, as the README asks of build()
    clashes: list[str] = []
    for model in GRAPH:
        model_factory = factory_for(model)
        parent = parent_field(model)
        for shared in (False, True) if parent is not None else (False,):
            overrides: dict[str, object] = {}
            call = f"{model_factory.__name__}.build_batch({BATCH})"
            if shared and parent is not None:
                overrides[parent.name] = factory_for(parent.related_model).build()
                call = f"{model_factory.__name__}.build_batch({BATCH}, {parent.name}=one_{parent.name})"
            try:
                with same_chance(seed):
                    rows = model_factory.build_batch(BATCH, **overrides)
            except Exception as error:  # reported to the learner
                clashes.append(f"  {call} raised {type(error).__name__}: {error}")
                continue
            for fields in unique_sets(model):
                keys = [key(row, fields) for row in rows]
                if len(set(keys)) != len(keys):
                    repeated = next(k for k in keys if keys.count(k) > 1)
                    shown_value = ", ".join(
                        f"{name}={value!r}"
                        for name, value in zip(fields, repeated, strict=True)
                        if not isinstance(getattr(rows[0], name), models.Model)
                    )
                    clashes.append(f"  {call}: two rows share {shown_value or fields} (unique: {', '.join(fields)})")
    check(
        not clashes,
        f"With factory_boy's random generator seeded with {seed} (and every other source of chance, the random "
        "module, uuid4() and the operating system's random bytes, pinned alike), these batches repeat a value "
        "that must be unique:\n" + "\n".join(clashes) + "\nA value drawn at random (`FuzzyInteger`, `Faker`, "
        "`random`, a uuid4() or a part of one) is unique only by luck: the batch that draws the same value "
        "twice breaks a unique constraint in a test that has nothing to do with it, on one run in ten. Give "
        "every unique field, and every field of a unique constraint, a factory.Sequence, which never repeats.",
    )


@pytest.mark.lesson("TEST-4")
@pytest.mark.contract(2)
@pytest.mark.django_db
def test_each_factory_makes_its_row_and_its_parents_and_nothing_else() -> None:
    problems: list[str] = []
    for index, model in enumerate(GRAPH):
        model_factory = factory_for(model)
        before = row_counts()
        error = attempt(model_factory)
        created = {name: count - before[name] for name, count in row_counts().items()}
        expected = {other.__name__: 1 if position <= index else 0 for position, other in enumerate(GRAPH)}
        if error is not None:
            problems.append(f"  {model_factory.__name__}() raised {type(error).__name__}: {error}")
        elif created != expected:
            problems.append(f"  {model_factory.__name__}() created {created}, where {expected} was due")
    check(
        not problems,
        "A factory called with no arguments makes one row of its model and the parents that row needs, "
        "nothing else:\n" + "\n".join(problems) + "\nRows a test did not ask for (lines made by an "
        "invoice's RelatedFactory or post_generation hook, a second organization) change every count and "
        "sum it asserts. Make parents with SubFactory; let a test that wants children ask for them "
        "(`InvoiceLineFactory.create_batch(3, invoice=invoice)`).",
    )


# --- any override a test may make, and a run that has made many rows before ---


#: names two rows may share, and one as long as a field allows (cut to the field's max_length), with letters
#: that are not ASCII: a value derived from a name must hold for every name the model accepts
NAMES = ("Acme GmbH", "Globex")
LONG_NAME = "Ærøskøbing Kommune Økonomi og Løn " * 8


def allowed_values(field: "models.Field[Any, Any]", *, unique_too: bool = False) -> list[object]:
    """Values the model allows in `field`, for a test to override it with: None where null is allowed, each
    choice, a few dates and numbers; [] for a field no override is drawn for (a parent, a unique value unless
    `unique_too`: one row may hold any value its field allows)."""
    if field.primary_key or field.is_relation or (field.unique and not unique_too) or not field.editable:
        return []
    values: list[object] = [None] if field.null else []
    if field.choices:
        return values + [value for value, _ in field.flatchoices]
    if isinstance(field, models.DateField):
        return [*values, date(2026, 1, 31), date(2026, 12, 31)]
    if isinstance(field, models.PositiveIntegerField | models.PositiveSmallIntegerField):
        return [*values, 0, 1, 7]
    if isinstance(field, models.EmailField):
        return [*values, "billing@globex.test"]
    if isinstance(field, models.SlugField):  # letters, digits, hyphens and underscores, anywhere
        return [*values, "acme-gmbh", "acme_billing", "ACME", "-acme-", "_", "9" * (field.max_length or 60)]
    if isinstance(field, models.CharField):  # a name two rows may share: the same text in every call
        return [*values, *(text[: field.max_length] for text in (*NAMES, LONG_NAME))]
    return values


def shown_value(value: object) -> str:
    """A value as the message shows it: a parent with the fields that were given to it."""
    if isinstance(value, models.Model):
        fields = ", ".join(
            f"{field.name}={getattr(value, field.attname)!r}"
            for field in value._meta.concrete_fields
            if not field.primary_key and not field.is_relation and allowed_values(field, unique_too=True)
        )
        return f"<{type(value).__name__} {fields}>"
    return repr(value)


def relations_of(model: type[models.Model]) -> list[str]:
    """Its parents: checked by the database when saved, not by clean_fields() on an unsaved row."""
    return [field.name for field in model._meta.concrete_fields if field.is_relation]


@st.composite
def overrides(draw: st.DrawFn, model: type[models.Model]) -> dict[str, object]:
    """Some fields of `model`, each overridden with a value the model allows."""
    chosen: dict[str, object] = {}
    for field in model._meta.concrete_fields:
        values = allowed_values(field)
        if bool(values) and draw(st.booleans()):  # bool(): mypy types `and` by its left operand
            chosen[field.name] = draw(st.sampled_from(values))
    return chosen


def a_parent_of_any_values(data: st.DataObject, model: type[models.Model]) -> tuple[models.Model, str]:
    """A row of `model` built with any values its fields allow (unique ones too), and its parents alike."""
    chosen: dict[str, object] = {}
    for field in model._meta.concrete_fields:
        values = allowed_values(field, unique_too=True)
        if bool(values) and data.draw(st.booleans(), label=f"{model.__name__}.{field.name} set"):
            chosen[field.name] = data.draw(st.sampled_from(values), label=f"{model.__name__}.{field.name}")
    shown = ", ".join(f"{name}={value!r}" for name, value in chosen.items())
    parent = parent_field(model)
    if parent is not None:
        chosen[parent.name], above = a_parent_of_any_values(data, parent.related_model)
        shown = ", ".join(filter(None, (shown, f"{parent.name}=<{above}>")))
    return factory_for(model).build(**chosen), f"{model.__name__}({shown})"


@pytest.mark.contract(3)
@pytest.mark.lesson("TEST-4")
@scenarios(60)
@given(data=st.data())
def test_any_override_a_test_makes_gives_a_valid_row(data: st.DataObject) -> None:
    """Generated overrides (a draft without an issue date, say), and parents of any allowed values: valid rows"""
    model = data.draw(st.sampled_from(GRAPH), label="model")
    chosen = data.draw(overrides(model), label="overrides")
    made = factory_for(model)
    parent = parent_field(model)
    if parent is not None and data.draw(st.booleans(), label="a parent of any values"):
        chosen[parent.name], _ = a_parent_of_any_values(data, parent.related_model)
    try:
        row = made.build(**chosen)
        row.clean_fields(exclude=relations_of(model))
        problem: object = None
    except Exception as error:  # reported to the learner
        problem = error
    check(
        problem is None,
        f"{made.__name__}.build({', '.join(f'{name}={shown_value(value)}' for name, value in chosen.items())}) "
        f"failed: {type(problem).__name__}: {problem}. A test overrides the fields it is about with any value "
        "the model allows, and gives it parents holding any values their models allow; the factory makes a "
        "valid row around them: a declaration that derives one field from another, or from a parent's "
        "(LazyAttribute), must accept every value the other may hold (None included, for a draft that has no "
        "issue date yet; a slug with an underscore, which no email domain accepts), on every branch.",
    )


CALLS = 3  # calls of one factory with the same overrides, the random generator reseeded before each


def in_a_unique_set(model: type[models.Model]) -> set[str]:
    """The fields a unique field or constraint holds: two rows may not both be given the same value there."""
    return {name for fields in unique_sets(model) for name in fields}


def repeated_calls(
    model_factory: Any,  # Any: the learner's factory class
    arguments: dict[str, object],
    seed: int,
) -> tuple[list[models.Model], Exception | None]:
    """`model_factory(**arguments)` CALLS times, each in a savepoint with every source of chance reseeded alike."""
    made: list[models.Model] = []
    for _ in range(CALLS):
        with same_chance(seed):
            error = attempt(lambda: made.append(model_factory(**arguments)))
        if error is not None:
            return made, error
    return made, None


@pytest.mark.contract(3, 4)
@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db
@pytest.mark.timeout(60)  # generated scenarios: the default 10 s is for one scenario
@scenarios(25)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_the_same_call_twice_makes_distinct_rows_whatever_the_overrides_and_seed(
    data: st.DataObject, seed: int
) -> None:
    """The same overrides in several calls, factory_boy's random reseeded alike before each: distinct rows"""
    failures: list[str] = []
    for model in GRAPH:
        model_factory = factory_for(model)
        parent = parent_field(model)
        shared = parent is not None and data.draw(st.booleans(), label=f"{model.__name__}: one shared parent")
        chosen = {
            name: value
            for name, value in data.draw(overrides(model), label=f"{model.__name__} overrides").items()
            if name not in in_a_unique_set(model)
        }
        shown = ", ".join(f"{name}={value!r}" for name, value in chosen.items())
        if shared and parent is not None:
            shown = ", ".join(filter(None, (f"{parent.name}=one_{parent.name}", shown)))
        call = f"{model_factory.__name__}({shown})"
        with rolled_back():
            arguments = dict(chosen)
            if shared and parent is not None:
                arguments[parent.name] = factory_for(parent.related_model)()
            made, error = repeated_calls(model_factory, arguments, seed)
        if error is not None:
            failures.append(f"  {call} raised {type(error).__name__}: {error}")
            continue
        if len({row.pk for row in made}) != CALLS:
            failures.append(f"  {call} gave {len({row.pk for row in made})} distinct rows in {CALLS} calls")
            continue
        for fields in unique_sets(model):
            columns = [model._meta.get_field(name) for name in fields]
            keys = [
                tuple(getattr(row, column.attname) for column in columns if isinstance(column, models.Field))
                for row in made
            ]
            if len(set(keys)) != len(keys):
                failures.append(f"  {call}: two rows share {', '.join(fields)}")
    check(
        not failures,
        f"The same call made {CALLS} times, with factory_boy's random generator reseeded with {seed} before "
        "each (as a test, or a plugin that pins the seed per test, does) and every other source of chance "
        "(the random module, uuid4(), the operating system's random bytes) repeating alike, must make distinct "
        "rows:\n"
        + "\n".join(failures)
        + "\nA test overrides the fields it is about, and two tests (or one test, twice) may give them the "
        'same values: two organizations both named "Acme GmbH", two customers named "Globex" in one '
        "organization. A unique value derived from a field a test may set (`slug = slugify(name)`, an email "
        "built from the name) repeats with it, and one drawn at random (`FuzzyText`, `Faker`) repeats when "
        "the seed does (a uuid4() cut short is unique by luck too). Give every unique field, and every field "
        "of a unique constraint, a factory.Sequence (or a LazyAttributeSequence that uses its n): it never "
        "repeats, whatever else the row holds.",
    )


MANY = 20  # rows of one build_batch() with the same overrides


@st.composite
def shared_overrides(draw: st.DrawFn, model: type[models.Model]) -> dict[str, object]:
    """Overrides a test may give every row of a batch: the allowed values, and any name the field holds."""
    chosen: dict[str, object] = {}
    for field in model._meta.concrete_fields:
        values = allowed_values(field)
        if not values or field.name in in_a_unique_set(model) or not draw(st.booleans()):
            continue
        named = isinstance(field, models.CharField) and not field.choices and type(field) is models.CharField
        written = st.text(
            st.characters(codec="utf-8", categories=("L", "N", "Zs", "Pd")), min_size=1, max_size=field.max_length
        )
        chosen[field.name] = draw(st.one_of(st.sampled_from(values), written) if named else st.sampled_from(values))
    return chosen


@pytest.mark.contract(3, 4)
@pytest.mark.lesson("TEST-4")
@pytest.mark.timeout(60)  # generated scenarios: the default 10 s is for one scenario
@scenarios(30)
@given(data=st.data())
def test_many_rows_with_the_same_overrides_are_valid_and_unique(data: st.DataObject) -> None:
    """build_batch() of every factory, every row given the same names (long ones, any letters): valid, unique"""
    failures: list[str] = []
    for model in GRAPH:
        model_factory = factory_for(model)
        parent = parent_field(model)
        shared = parent is not None and data.draw(st.booleans(), label=f"{model.__name__}: one shared parent")
        chosen = data.draw(shared_overrides(model), label=f"{model.__name__} overrides")
        arguments = dict(chosen)
        shown = ", ".join(f"{name}={value!r}" for name, value in chosen.items())
        if shared and parent is not None:
            arguments[parent.name] = factory_for(parent.related_model).build()
            shown = ", ".join(filter(None, (f"{parent.name}=one_{parent.name}", shown)))
        call = f"{model_factory.__name__}.build_batch({MANY}, {shown})".replace(", )", ")")
        try:
            rows = model_factory.build_batch(MANY, **arguments)
            for row in rows:
                row.clean_fields(exclude=relations_of(model))
        except Exception as error:  # reported to the learner
            failures.append(f"  {call} failed: {type(error).__name__}: {error}")
            continue
        failures += [
            f"  {call}: two rows share {', '.join(fields)}"
            for fields in unique_sets(model)
            if len({key(row, fields) for row in rows}) != len(rows)
        ]
    check(
        not failures,
        "Many rows made with the same overrides, as a test that is about other fields makes them, must each be "
        "valid and keep every unique field and constraint unique:\n"
        + "\n".join(failures)
        + "\nA unique value derived from a field a test may set (a slug from the name) repeats when the names "
        "do, and fails when the name is long or not ASCII: a slug cut to its max_length loses the number that "
        "made it unique, one that is not cut is longer than the field allows. Give every unique field its own "
        "factory.Sequence, or keep the sequence's number whole within the field's max_length.",
    )


def copyable(model: type[models.Model]) -> list["models.Field[Any, Any]"]:
    """The fields a test can give a factory: every editable concrete field but the primary key."""
    return [field for field in model._meta.concrete_fields if field.editable and not field.primary_key]


def two_rows(
    model_factory: Any,  # Any: the learner's factory class
    arguments: dict[str, object],
) -> list[models.Model]:
    """What `create_batch(2, **arguments)` hands back; nothing when it fails (a unique constraint stops it)."""
    made: list[models.Model] = []
    attempt(lambda: made.extend(model_factory.create_batch(2, **arguments)))
    return made


@pytest.mark.contract(4)
@pytest.mark.lesson("TEST-4")
@pytest.mark.django_db
def test_a_factory_never_hands_back_a_row_that_was_there() -> None:
    """Called with the values of a row already saved, a factory makes a new row or fails: never the old one"""
    failures: list[str] = []
    for model in GRAPH:
        model_factory = factory_for(model)
        with rolled_back():
            existing = model_factory()
            fields = copyable(model)
            same = {field.name: getattr(existing, field.name) for field in fields}
            given_sets = [
                tuple(field.name for field in fields if field.name in unique_set) for unique_set in unique_sets(model)
            ]
            for names in [tuple(same), *given_sets]:
                arguments = {name: same[name] for name in names}
                made = two_rows(model_factory, arguments)
                handed_back = [row for row in made if row.pk == existing.pk]
                if handed_back or len({row.pk for row in made}) != len(made):
                    failures.append(
                        f"  {model_factory.__name__}.create_batch(2, {', '.join(names)} as an existing "
                        f"{model.__name__} has them) handed back a row it did not make"
                    )
                    break
    check(
        not failures,
        "A factory returned rows that were already in the database instead of making new ones:\n"
        + "\n".join(failures)
        + "\nA test that asks a factory for a row gets a new one: two calls are two rows, or a unique "
        "constraint stops the second. `django_get_or_create` looks the row up by the fields it names and "
        "returns it when it is there, so two tests, or two objects of one test, silently share one row, and "
        "a test of a unique constraint never sees it break. Drop it, and let each unique field's "
        "factory.Sequence make every row distinct.",
    )


FAR_ALONG = 32_765  # a batch of 5 from here crosses the largest smallint: the edge of a wrapped sequence


def out_of_range(row: models.Model) -> None:
    """Raise ValueError for an integer outside what its column holds on every database (SQLite holds more)."""
    for field in row._meta.concrete_fields:
        limits = BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type())
        value = getattr(row, field.attname)
        if limits is not None and isinstance(value, int) and not limits[0] <= value <= limits[1]:
            raise ValueError(
                f"{field.name}={value} is outside {field.get_internal_type()}'s {limits[0]} to {limits[1]}"
            )


@pytest.mark.contract(4)
@pytest.mark.lesson("TEST-4")
def test_values_stay_in_range_however_far_a_sequence_has_counted() -> None:
    """After tens of thousands of rows in a test run, every factory still makes valid rows"""
    problems: dict[str, str] = {}
    for model in GRAPH:
        made = factory_for(model)
        made.reset_sequence(FAR_ALONG)  # a long test run: its sequences are far along, the batch across 32,767
        try:
            rows = made.build_batch(5)
            for row in rows:
                row.clean_fields(exclude=relations_of(model))
                out_of_range(row)
        except Exception as error:  # reported to the learner
            problems[made.__name__] = f"{type(error).__name__}: {error}"
        finally:
            made.reset_sequence()
    check(
        not problems,
        f"After a test run has made {FAR_ALONG:,} rows (a factory's sequence at {FAR_ALONG:,}), "
        + "; ".join(f"{name}.build_batch(5) gave {problem}" for name, problem in problems.items())
        + ". A sequence counts for the whole run, not per test: a value derived from it must stay within "
        "its field's range however far it has counted (a PositiveSmallIntegerField holds 0 to 32,767).",
    )


def room(model: type[models.Model]) -> int:
    """How many rows one parent can hold: the count of values of the smallest bounded integer field in a
    unique set of `model` (a line's PositiveSmallIntegerField position: 32,767); 0 when none is bounded."""
    sizes = []
    for name in in_a_unique_set(model):
        field = model._meta.get_field(name)
        limits = BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type())
        if limits is not None and not field.is_relation and not getattr(field, "primary_key", False):
            sizes.append(limits[1] - max(limits[0], 1) + 1)  # positions from 1: a test's first row is 1, not 0
    return min(sizes, default=0)


@pytest.mark.contract(4)
@pytest.mark.lesson("TEST-4")
@pytest.mark.cpu_seconds(60)  # 32,767 rows from the learner's factory: about 8 s with Faker text, idle
def test_one_parent_holds_as_many_rows_as_its_unique_integers_allow() -> None:
    """Several build_batch() in a row on one parent, up to the range of the unique integer: still unique"""
    failures: list[str] = []
    for model in GRAPH:
        size = room(model)
        parent = parent_field(model)
        if not size:
            continue
        model_factory = factory_for(model)
        overrides: dict[str, object] = {}
        shared = ""
        if parent is not None:
            overrides[parent.name] = factory_for(parent.related_model).build()
            shared = f", {parent.name}=one_{parent.name}"
        batches = (size // 3, size // 3, size - 2 * (size // 3))  # several batches in a row, filling the room
        calls = " then ".join(f"{model_factory.__name__}.build_batch({part:_}{shared})" for part in batches)
        try:
            rows = [row for part in batches for row in model_factory.build_batch(part, **overrides)]
        except Exception as error:  # reported to the learner
            failures.append(f"  {calls} raised {type(error).__name__}: {error}")
            continue
        for fields in unique_sets(model):
            seen: dict[tuple[object, ...], int] = {}
            for index, row in enumerate(rows):
                first = seen.setdefault(key(row, fields), index)
                if first != index:
                    values = ", ".join(
                        f"{name}={getattr(row, name)!r}"
                        for name in fields
                        if not isinstance(getattr(row, name), models.Model)
                    )
                    failures.append(f"  {calls}: rows {first + 1:_} and {index + 1:_} share {values or fields}")
                    break
    check(
        not failures,
        "One parent must hold as many rows as its unique integer field allows (a smallint position: 32,767 "
        "lines on one invoice), made in one batch or several in a row:\n"
        + "\n".join(failures)
        + '\nA sequence wrapped below the field\'s range (`n % 999 + 1`, "an invoice never has more lines") '
        "starts again at 1 and repeats a value the unique constraint forbids as soon as a test, or several "
        "batches on one parent, pass the wrap. Let the sequence run through the whole range the field allows.",
    )


@pytest.mark.contract(4, 5)
@pytest.mark.lesson("TEST-3")
@pytest.mark.django_db
def test_build_on_a_saved_parent_stays_in_memory_and_unique() -> None:
    """build() and build_batch() given a parent already saved: no query, and every unique set still holds"""
    queried: list[str] = []
    clashes: list[str] = []
    for model in GRAPH:
        parent = parent_field(model)
        if parent is None:
            continue
        model_factory = factory_for(model)
        saved = factory_for(parent.related_model)()
        given = {parent.name: saved}
        call = f"{model_factory.__name__}.build_batch({BATCH}, {parent.name}=a_saved_{parent.name})"
        with count_queries() as log:
            try:
                rows = [model_factory.build(**given), *model_factory.build_batch(BATCH, **given)]
            except Exception as error:  # reported to the learner
                clashes.append(f"  {call} raised {type(error).__name__}: {error}")
                continue
        if log.count:
            queried.append(f"  {model_factory.__name__}.build() then {call}: {log.describe(limit=2)}")
        clashes += [
            f"  {model_factory.__name__}.build() then {call}: two rows share {', '.join(fields)}"
            for fields in unique_sets(model)
            if len({key(row, fields) for row in rows}) != len(rows)
        ]
    check(
        not queried,
        "build() must make the row in memory without a single query, also when the test gives it a parent "
        "that is already saved:\n"
        + "\n".join(queried)
        + "\nA value computed from the database (a count of the invoice's lines) runs a query in every "
        "build(), fails in a test without the database, and is only as good as what is saved: rows built "
        "and not yet saved are not counted. Give each unique field a factory.Sequence, which needs no query.",
    )
    check(
        not clashes,
        "Rows built on one saved parent repeat a value that must be unique:\n"
        + "\n".join(clashes)
        + "\nThe database holds none of the rows of a build_batch() yet, so a value counted from it (the "
        "number of the invoice's lines plus one) is the same for every row of the batch. A factory.Sequence "
        "gives every row its own value, built or created.",
    )
