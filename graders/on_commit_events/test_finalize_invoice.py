"""Grader of `on_commit_events`: invoice.finalized goes out once, after the outermost commit, never for a rollback."""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from types import ModuleType

import pytest
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InternalError,
    OperationalError,
    connection,
    transaction,
)
from django.db.transaction import TransactionManagementError
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.grading import check, fails_once_when_saved
from dojo.scenarios import reference, rolled_back, scenarios
from on_commit_events.models import BillingPeriod, Invoice, LedgerEntry
from on_commit_events.services import (
    InvoiceNotDraftError,
    PeriodClosedError,
    close_billing_period,
    finalize_invoice,
)

from .factories import BillingPeriodFactory, InvoiceFactory, InvoiceLineFactory, LedgerEntryFactory
from .fakes import FakeEventBus

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


def draft(period: BillingPeriod | None = None) -> Invoice:
    """A draft invoice of 55.00: three seats at 10.00 and an add-on at 25.00."""
    invoice = InvoiceFactory.create() if period is None else InvoiceFactory.create(billing_period=period)
    InvoiceLineFactory.create(invoice=invoice, quantity=3, unit_price_cents=1_000)
    InvoiceLineFactory.create(invoice=invoice, quantity=1, unit_price_cents=2_500)
    return invoice


def with_leftover_booking(invoice: Invoice) -> Invoice:
    """Booking this invoice will conflict with a ledger entry that a botched import left behind."""
    LedgerEntryFactory.create(invoice=invoice)
    return invoice


def closing_the_period_fails() -> AbstractContextManager[None]:
    """The database fails when the period is written as closed (the close's last write), once."""
    return fails_once_when_saved(BillingPeriod, OperationalError("could not extend file: No space left on device"))


@pytest.mark.contract(1)
def test_finalizing_totals_opens_books_and_announces_the_invoice(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = draft()

    with django_capture_on_commit_callbacks(execute=True):
        finalize_invoice(invoice.pk, bus=bus)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.total_cents) == (Invoice.Status.OPEN, 5_500)
    assert invoice.finalized_at is not None
    assert list(invoice.ledger_entries.values_list("kind", "amount_cents")) == [(LedgerEntry.Kind.RECEIVABLE, 5_500)]
    assert [(p.name, p.payload) for p in bus.publications] == [
        ("invoice.finalized", {"invoice": invoice.number, "total_cents": 5_500})
    ]


@pytest.mark.contract(1, 2)
def test_only_a_draft_can_be_finalized_and_a_period_closes_once(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create(status=Invoice.Status.OPEN, total_cents=4_000)
    closed = BillingPeriodFactory.create(status=BillingPeriod.Status.CLOSED)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InvoiceNotDraftError):
            finalize_invoice(invoice.pk, bus=bus)
        with pytest.raises(PeriodClosedError):
            close_billing_period(closed.pk, bus=bus)

    assert bus.publications == []
    assert not LedgerEntry.objects.exists()


@pytest.mark.contract(2)
def test_closing_a_period_finalizes_its_drafts_and_skips_one_that_cannot_be_booked(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory.create()
    first, conflicting, last = draft(period), with_leftover_booking(draft(period)), draft(period)
    already_open = InvoiceFactory.create(billing_period=period, status=Invoice.Status.OPEN, total_cents=4_000)
    InvoiceFactory.create(status=Invoice.Status.DRAFT)  # another period's draft

    with django_capture_on_commit_callbacks(execute=True):
        result = close_billing_period(period.pk, bus=bus)

    assert (result.finalized, result.skipped) == ([first.number, last.number], [conflicting.number])
    period.refresh_from_db()
    assert period.status == BillingPeriod.Status.CLOSED
    assert dict(Invoice.objects.filter(billing_period=period).values_list("number", "status")) == {
        first.number: Invoice.Status.OPEN,
        conflicting.number: Invoice.Status.DRAFT,
        last.number: Invoice.Status.OPEN,
        already_open.number: Invoice.Status.OPEN,
    }


@pytest.mark.contract(3, 4)
@pytest.mark.lesson("DATA-5")
def test_a_finalization_that_fails_publishes_nothing(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = with_leftover_booking(draft())

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(IntegrityError):
        finalize_invoice(invoice.pk, bus=bus)

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT, "A finalization that fails must leave the invoice a draft."
    check(
        bus.publications == [],
        f"Booking {invoice.number} in the ledger failed, so its finalization rolled back and the invoice is "
        f"still a draft; yet invoice.finalized went out for {bus.invoices()}. The customer now gets the PDF "
        "of an invoice that does not exist. Register the publication with transaction.on_commit(): Django "
        "runs the callback after the commit, and drops it when the transaction rolls back.",
    )


@pytest.mark.contract(3)
@pytest.mark.lesson("DATA-5")
def test_the_event_is_published_once_after_the_commit(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = draft()

    with django_capture_on_commit_callbacks() as callbacks:
        finalize_invoice(invoice.pk, bus=bus)
    early = [p.payload.get("invoice") for p in bus.publications if p.inside_transaction]
    for callback in callbacks:
        callback()  # the commit

    check(
        not early,
        f"invoice.finalized for {invoice.number} was published while the transaction that finalizes it was "
        "still open. Until that transaction commits, the invoice can still roll back, and the services that "
        "react to the event (the PDF email, revenue reporting) cannot see it yet: they read a draft, or "
        "nothing. Publish from transaction.on_commit().",
    )
    check(
        bus.invoices() == [invoice.number],
        f"After the commit, invoice.finalized must be published exactly once for {invoice.number}; it was "
        f"published for {bus.invoices()}.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-5")
def test_a_period_close_that_rolls_back_publishes_nothing(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory.create()
    drafts = [draft(period), draft(period)]

    with (
        django_capture_on_commit_callbacks(execute=True),
        closing_the_period_fails(),
        pytest.raises(OperationalError),
    ):
        close_billing_period(period.pk, bus=bus)

    assert not Invoice.objects.filter(status=Invoice.Status.OPEN).exists(), "A failed close must finalize nothing."
    check(
        bus.publications == [],
        f"close_billing_period() finalized {len(drafts)} invoices inside its transaction, then its last write "
        "(closing the period) failed and the whole transaction rolled back: both invoices are still drafts. Yet "
        f"invoice.finalized went out for {bus.invoices()}. Here finalize_invoice() runs inside its caller's "
        "transaction, so the end of its own `with transaction.atomic():` block is not a commit: it only "
        "releases a savepoint. transaction.on_commit() waits for the outermost transaction to commit, and "
        "drops the callback when that transaction rolls back.",
    )


@pytest.mark.contract(3, 4)
@pytest.mark.lesson("DATA-5")
def test_an_invoice_the_period_close_skips_is_not_announced(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory.create()
    first, conflicting, last = draft(period), with_leftover_booking(draft(period)), draft(period)

    with django_capture_on_commit_callbacks() as callbacks:
        close_billing_period(period.pk, bus=bus)
    before_commit = bus.invoices()
    for callback in callbacks:
        callback()  # the commit of the close's transaction

    check(
        conflicting.number not in bus.invoices(),
        f"close_billing_period() skipped {conflicting.number}: booking it failed, the savepoint around its "
        "finalization rolled back, and the invoice is still a draft. Yet invoice.finalized went out for it. "
        "A callback registered with transaction.on_commit() inside a savepoint that rolls back is dropped "
        "with the savepoint; a direct publish cannot be taken back.",
    )
    check(
        before_commit == [],
        f"invoice.finalized went out for {before_commit} before the period close committed. finalize_invoice() "
        "ran inside close_billing_period()'s transaction, so leaving its own `with transaction.atomic():` "
        "block only released a savepoint: had the close failed after that, these events would announce "
        "invoices that were rolled back. transaction.on_commit() waits for the outermost transaction.",
    )
    check(
        bus.invoices() == [first.number, last.number],
        f"After the close committed, invoice.finalized must go out once for each invoice it finalized, "
        f"{[first.number, last.number]}; it went out for {bus.invoices()}.",
    )


@pytest.mark.contract(3, 4)
@pytest.mark.lesson("DATA-5")
@pytest.mark.django_db(transaction=True)
def test_a_caller_with_autocommit_off_gets_the_events_after_its_own_commit(bus: FakeEventBus) -> None:
    """A caller that turned autocommit off: its commit() or rollback() decides, not the end of the function's block"""
    undone, kept = draft(), draft()
    period = BillingPeriodFactory.create()
    closed = [draft(period), draft(period)]
    published: dict[str, list[str]] = {}
    refused: TransactionManagementError | None = None

    transaction.set_autocommit(False)  # the caller manages its transaction itself, as a script or a job may
    try:
        finalize_invoice(undone.pk, bus=bus)
        published["before the rollback"] = bus.invoices()
        transaction.rollback()
        finalize_invoice(kept.pk, bus=bus)
        close_billing_period(period.pk, bus=bus)
        published["before the commit"] = bus.invoices()
        transaction.commit()
    except TransactionManagementError as error:  # Django's refusal of on_commit() outside any atomic() block
        refused = error
        transaction.rollback()
    except BaseException:
        transaction.rollback()
        raise
    finally:
        transaction.set_autocommit(True)  # Django runs the committed transaction's on_commit() callbacks here

    early = sorted({number for numbers in published.values() for number in numbers})
    check(
        not early and undone.number not in bus.invoices(),
        "The caller turned autocommit off, so nothing commits until it calls commit(): the end of "
        "finalize_invoice()'s own `with transaction.atomic():` block commits nothing then. Yet invoice.finalized "
        f"went out for {early or bus.invoices()} before the caller's commit ({published}), and the caller then "
        f"rolled back {undone.number}'s finalization. Whether a transaction is open is not something to guess: "
        "register the publication with transaction.on_commit(), which Django runs after the commit that "
        "really ends the transaction, and drops on a rollback.",
    )
    announced = [] if refused else [kept.number] + [invoice.number for invoice in closed]
    check(
        bus.invoices() == announced,
        f"After the caller's commit, invoice.finalized must go out once for each invoice it committed, "
        f"{announced}, and never for {undone.number}, rolled back; it went out for {bus.invoices()}.",
    )


# --- Closes and finalizations, generated: every way a block around the writes commits or rolls back ---

SCENARIO_SECONDS = 600  # a guard against a loop that never ends: the examples take seconds, more on a busy machine
PERIOD_WRITE = re.compile(rf'^\s*UPDATE\s+"?{BillingPeriod._meta.db_table}"?\s', re.IGNORECASE)
BOOKING = re.compile(rf'^\s*INSERT\s+INTO\s+"?{LedgerEntry._meta.db_table}"?\s*\(([^)]*)\)', re.IGNORECASE)
#: database errors that are not a booking conflict, as the scene calls them: the class raised, its message
FAILURES: dict[str, tuple[type[DatabaseError], str]] = {
    "a lock timeout": (OperationalError, "canceling statement due to lock timeout"),
    "a serialization failure": (OperationalError, "could not serialize access due to concurrent update"),
    "a lost connection": (DatabaseError, "server closed the connection unexpectedly"),
    "an internal error": (InternalError, "current transaction is aborted, commands ignored"),
    "a value out of range": (DataError, "numeric field overflow"),
}
WAYS = (
    "closes the period",
    "closes the period inside a caller's transaction",
    "closes the period inside a caller's transaction that then rolls back",
    "closes the period, whose last write (the period's) fails",
    "finalizes each invoice on its own",
    "finalizes each invoice in a savepoint that the caller then rolls back",
)


class CallerRollsBackError(Exception):
    """The caller's own failure after the call: its block rolls back."""


@dataclass(frozen=True)
class Period:
    """The invoices (a draft?, lines as (quantity, unit price), a leftover booking?) and the way the job runs."""

    invoices: tuple[tuple[bool, tuple[tuple[int, int], ...], bool], ...]
    way: str
    booking_fails: tuple[int, str] | None = None  # (invoice, one of FAILURES): its booking fails once with it

    def describe(self) -> str:
        lines = ["A billing period whose invoices are, in number order:"]
        for number, (is_draft, items, leftover) in enumerate(self.invoices, 1):
            priced = " + ".join(f"{quantity} x {price / 100:.2f}" for quantity, price in items) or "no lines"
            conflict = ", with a leftover ledger entry (its booking conflicts)" if leftover else ""
            lines.append(f"  INV-{number}: {'a draft' if is_draft else 'already open'}, {priced}{conflict}")
        lines.append(f"The job {self.way}.")
        if self.booking_fails is not None:
            number, failure = self.booking_fails
            error, text = FAILURES[failure]
            lines.append(f"Booking INV-{number} in the ledger fails once with {failure} ({error.__name__}: {text}).")
        return "\n".join(lines)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    item = st.tuples(st.integers(1, 3), st.sampled_from((0, 1_000, 2_500)))
    invoice = st.tuples(st.booleans() | st.just(True), st.lists(item, max_size=2).map(tuple), st.booleans())
    return Period(tuple(draw(st.lists(invoice, min_size=1, max_size=4))), draw(st.sampled_from(WAYS)))


@st.composite
def periods_whose_booking_fails(draw: st.DrawFn) -> Period:
    """A period (closed, or its invoices finalized one by one) in which one draft's booking fails, not by conflict."""
    period = draw(periods())
    invoices = list(period.invoices)
    failing = draw(st.integers(0, len(invoices) - 1))
    invoices[failing] = (True, *invoices[failing][1:])
    way = draw(st.sampled_from(WAYS[:2] + WAYS[4:5]))
    return Period(tuple(invoices), way, (failing + 1, draw(st.sampled_from(sorted(FAILURES)))))


def booked_invoices(columns: str, params: object, many: bool) -> list[object]:
    """The invoice ids of the ledger entries an INSERT writes, read from its columns and parameters."""
    names = [name.strip().strip('"`') for name in columns.split(",")]
    if "invoice_id" not in names or not isinstance(params, list | tuple):
        return []
    rows = list(params) if many else [params[i : i + len(names)] for i in range(0, len(params), len(names))]
    return [row[names.index("invoice_id")] for row in rows if len(row) == len(names)]


@contextmanager
def booking_fails(invoice_id: int | None, failure: str | None) -> Iterator[None]:
    """The database fails, once, when a ledger entry of the invoice is written: not a conflict, another error."""
    armed = [failure] if invoice_id is not None and failure is not None else []

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def wrapper(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        booking = BOOKING.match(sql) if armed else None
        if booking and invoice_id in booked_invoices(booking.group(1), params, many):
            error, text = FAILURES[armed.pop()]
            raise error(text)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


@contextmanager
def period_write_fails(fails: bool) -> Iterator[None]:
    """The database fails at the period's write (an UPDATE of its row, whatever its shape), once."""
    armed = [fails]

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def wrapper(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if armed[0] and PERIOD_WRITE.match(sql):
            armed[0] = False
            raise OperationalError("could not extend file: No space left on device")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


#: events as (name, sorted payload items)
Published = tuple[tuple[str, tuple[tuple[str, object], ...]], ...]
#: what a way of finalizing left: its answers, the period's status, the invoices (number, status, total), the ledger
#: (invoice, amount), the events published before the commit and all of them
PeriodOutcome = tuple[
    tuple[str, ...], str, tuple[tuple[str, str, int], ...], tuple[tuple[str, int], ...], Published, Published
]


def run_period(period: Period, services: ModuleType, capture: CaptureCallbacks) -> PeriodOutcome:
    """What the way returned or raised, the rows after it, and the events before and after the commit."""
    billing_period = BillingPeriodFactory.create(starts_on=date(2026, 3, 1))
    invoices = []
    for number, (is_draft, items, leftover) in enumerate(period.invoices, 1):
        status = Invoice.Status.DRAFT if is_draft else Invoice.Status.OPEN
        invoice = InvoiceFactory.create(billing_period=billing_period, number=f"INV-{number}", status=status)
        for quantity, price in items:
            InvoiceLineFactory.create(invoice=invoice, quantity=quantity, unit_price_cents=price)
        if leftover:
            LedgerEntryFactory.create(invoice=invoice)
        invoices.append(invoice)
    bus = FakeEventBus()
    answers: list[str] = []

    def answer(call: Callable[[], object]) -> None:
        try:
            result = call()
            answers.append(
                # the graded code's result or the reference's, each of a class of its own: read by its fields
                f"finalized {result.finalized}, skipped {result.skipped}"  # type: ignore[attr-defined]
                if hasattr(result, "skipped")
                else "returned"
            )
        except CallerRollsBackError:
            answers.append("the caller rolled back")
        except Exception as error:  # compared by class name with what the reference raises
            answers.append(f"raised {type(error).__name__}")

    def rolled_back_by_the_caller(call: Callable[[], object]) -> Callable[[], object]:
        def caller() -> object:
            with transaction.atomic():
                call()
                raise CallerRollsBackError

        return caller

    def in_caller(call: Callable[[], object]) -> Callable[[], object]:
        def caller() -> object:
            with transaction.atomic():
                return call()

        return caller

    close = partial(services.close_billing_period, billing_period.pk, bus=bus)
    failing, failure = period.booking_fails or (None, None)
    with (
        capture() as callbacks,
        period_write_fails(period.way.endswith("fails")),
        booking_fails(None if failing is None else invoices[failing - 1].pk, failure),
    ):
        if period.way.startswith("finalizes each"):
            for invoice in invoices:
                finalize = partial(services.finalize_invoice, invoice.pk, bus=bus)
                answer(rolled_back_by_the_caller(finalize) if "savepoint" in period.way else finalize)
        elif "rolls back" in period.way:
            answer(rolled_back_by_the_caller(close))
        elif "caller" in period.way:
            answer(in_caller(close))
        else:
            answer(close)
        before_commit = [(p.name, tuple(sorted(p.payload.items()))) for p in bus.publications]
    for callback in callbacks:
        callback()  # the commit of the outermost transaction
    billing_period.refresh_from_db()
    return (
        tuple(answers),
        billing_period.status,
        tuple(Invoice.objects.order_by("number").values_list("number", "status", "total_cents")),
        tuple(
            LedgerEntry.objects.order_by("invoice__number", "amount_cents").values_list(
                "invoice__number", "amount_cents"
            )
        ),
        tuple(before_commit),
        tuple((p.name, tuple(sorted(p.payload.items()))) for p in bus.publications),
    )


def shown_outcome(outcome: PeriodOutcome) -> str:
    answers, status, invoices, ledger, before, published = outcome
    return (
        f"answers {list(answers)}; period {status}; invoices (number, status, total) {list(invoices)}; "
        f"ledger {list(ledger)}; published before the commit {[dict(p) for _, p in before]}; published in all "
        f"{[dict(p) for _, p in published]}"
    )


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    """The reference solution, on the learner's models (this kata does not let them change)."""
    return reference("on_commit_events.services")


def services_graded() -> ModuleType:
    """The learner's services, as imported by the checks above."""
    graded = ModuleType("on_commit_events.services (graded)")
    graded.finalize_invoice = finalize_invoice  # type: ignore[attr-defined]
    graded.close_billing_period = close_billing_period  # type: ignore[attr-defined]
    return graded


@pytest.mark.lesson("DATA-5")
@pytest.mark.contract(1, 2, 3, 4, 5)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(period=periods())
def test_any_close_or_finalization_gives_the_references_rows_and_events(
    period: Period, oracle: ModuleType, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """Any period, closed or finalized in any block that commits or rolls back, gives the reference's rows and events"""
    with rolled_back():
        theirs = run_period(period, oracle, django_capture_on_commit_callbacks)
    with rolled_back():
        yours = run_period(period, services_graded(), django_capture_on_commit_callbacks)
    check(
        yours == theirs,
        f"{period.describe()}\nExpected (README, Contract): {shown_outcome(theirs)}.\nYours: {shown_outcome(yours)}.\n"
        "Publish invoice.finalized with transaction.on_commit(), registered inside finalize_invoice()'s block: "
        "it then goes out once, after the outermost transaction commits, and never for writes that a block "
        "around them rolls back (DATA-5). What the functions return, write and raise must not change.",
    )


@pytest.mark.guard("DATA-5")
@pytest.mark.contract(2, 5)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(20)
@given(period=periods_whose_booking_fails())
def test_a_close_skips_only_a_conflicting_booking_and_rolls_back_on_any_other_error(
    period: Period, oracle: ModuleType, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A booking that fails for another reason than a conflict stops the close, which rolls back, as the reference's"""
    with rolled_back():
        theirs = run_period(period, oracle, django_capture_on_commit_callbacks)[:4]
    with rolled_back():
        yours = run_period(period, services_graded(), django_capture_on_commit_callbacks)[:4]
    expected, got = (
        f"answers {list(answers)}; period {status}; invoices (number, status, total) {list(invoices)}; "
        f"ledger {list(ledger)}"
        for answers, status, invoices, ledger in (theirs, yours)
    )
    check(
        yours == theirs,
        f"{period.describe()}\nExpected (README, Contract 2 and 5): {expected}.\nYours: {got}.\n"
        "close_billing_period() skips only an invoice whose booking conflicts with a ledger entry already "
        "there (an IntegrityError). Any other database error (a lock timeout, a lost connection) says nothing "
        "about the invoice: skipping it closes the period over a draft that no later close will ever bill. "
        "That error must propagate and roll the whole close back, so that it can be run again: catch "
        "IntegrityError, not DatabaseError or Exception, around finalize_invoice().",
    )


# --- One worker's life, generated: commits and rollbacks one after the other, in one process ---

STEPS = (
    "finalizes {a} on its own",
    "finalizes {a} inside a caller's transaction",
    "finalizes {a} inside a caller's transaction that then rolls back",
    "finalizes {a} inside nested blocks of a caller, whose outer block then rolls back",
    "finalizes {a} in a savepoint that the caller rolls back, then {b} in the same transaction, which commits",
    "closes the period",
    "closes the period inside a caller's transaction that then rolls back",
    "closes the period, whose last write (the period's) fails",
)


@dataclass(frozen=True)
class Life:
    """A period's draft invoices (a leftover booking each?), and what one worker process does with them, in order.

    `steps`: (one of STEPS, invoice a, invoice b), each step a transaction of its own that commits or rolls back.
    """

    leftovers: tuple[bool, ...]
    steps: tuple[tuple[str, int, int], ...]

    def describe(self) -> str:
        lines = ["A billing period with the drafts, in number order (1 x 10.00 each):"]
        for number, leftover in enumerate(self.leftovers, 1):
            conflict = ", with a leftover ledger entry (its booking conflicts)" if leftover else ""
            lines.append(f"  INV-{number}{conflict}")
        lines.append("One worker process, one event bus, then:")
        for step, (way, a, b) in enumerate(self.steps, 1):
            lines.append(f"  {step}. it {way.format(a=f'INV-{a + 1}', b=f'INV-{b + 1}')}.")
        return "\n".join(lines)


@st.composite
def lives(draw: st.DrawFn) -> Life:
    leftovers = tuple(draw(st.lists(st.booleans() | st.just(False), min_size=1, max_size=3)))
    invoice = st.integers(0, len(leftovers) - 1)
    step = st.tuples(st.sampled_from(STEPS), invoice, invoice)
    return Life(leftovers, tuple(draw(st.lists(step, min_size=2, max_size=6))))


#: what each step answered, the invoices announced before its commit and at its commit (number, total);
#: then the invoices' statuses at the end
LifeOutcome = tuple[tuple[tuple[str, tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]], ...], tuple[str, ...]]


def live(life: Life, services: ModuleType, capture: CaptureCallbacks) -> LifeOutcome:
    """Each step of the life in a transaction of its own, on one bus: what it answered and published, and when."""
    billing_period = BillingPeriodFactory.create(starts_on=date(2026, 3, 1))
    invoices = []
    for number, leftover in enumerate(life.leftovers, 1):
        invoice = InvoiceFactory.create(billing_period=billing_period, number=f"INV-{number}")
        InvoiceLineFactory.create(invoice=invoice, quantity=1, unit_price_cents=1_000)
        if leftover:
            LedgerEntryFactory.create(invoice=invoice)
        invoices.append(invoice)
    bus = FakeEventBus()

    def finalize(index: int) -> object:
        return services.finalize_invoice(invoices[index].pk, bus=bus)

    def close() -> object:
        return services.close_billing_period(billing_period.pk, bus=bus)

    def run(way: str, a: int, b: int) -> object:
        if way.startswith("closes"):
            if "caller" not in way:
                return close()
            with transaction.atomic():
                close()
                raise CallerRollsBackError
        if way.endswith("on its own"):
            return finalize(a)
        with transaction.atomic():
            if "nested" in way:
                with transaction.atomic():
                    finalize(a)
            elif "savepoint" in way:
                try:
                    with transaction.atomic():
                        finalize(a)
                        raise CallerRollsBackError
                except CallerRollsBackError:
                    pass
                return finalize(b)
            else:
                result = finalize(a)
                if not way.endswith("rolls back"):
                    return result
            raise CallerRollsBackError

    def published(start: int) -> tuple[tuple[str, int], ...]:
        return tuple((str(p.payload["invoice"]), int(p.payload["total_cents"])) for p in bus.publications[start:])

    steps = []
    for way, a, b in life.steps:
        start = len(bus.publications)
        with capture() as callbacks, period_write_fails(way.endswith("fails")):
            try:
                result = run(way, a, b)
                # the graded code's result or the reference's, each of a class of its own: read by its fields
                answer = (
                    f"finalized {result.finalized}, skipped {result.skipped}"  # type: ignore[attr-defined]
                    if hasattr(result, "skipped")
                    else "returned"
                )
            except CallerRollsBackError:
                answer = "the caller rolled back"
            except Exception as error:  # compared by class name with what the reference raises
                answer = f"raised {type(error).__name__}"
        before_commit = published(start)
        start = len(bus.publications)
        for callback in callbacks:
            callback()  # the commit of the step's outermost transaction
        steps.append((answer, before_commit, published(start)))
    statuses = tuple(Invoice.objects.order_by("number").values_list("status", flat=True))
    return tuple(steps), statuses


def shown_life(outcome: LifeOutcome) -> str:
    steps, statuses = outcome
    lines = []
    for step, (answer, before, at_commit) in enumerate(steps, 1):
        early = f"; before its commit: {[number for number, _ in before]}" if before else ""
        lines.append(f"  {step}. {answer}; announced at its commit: {[number for number, _ in at_commit]}{early}")
    lines.append(f"  invoices at the end: {', '.join(f'INV-{i} {s}' for i, s in enumerate(statuses, 1))}")
    return "\n".join(lines)


@pytest.mark.lesson("DATA-5")
@pytest.mark.contract(3, 4)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(life=lives())
# a transaction that rolls back, then another that commits, in the same process
@example(life=Life((False, False), ((STEPS[2], 0, 0), (STEPS[0], 1, 1))))
# an invoice whose finalization rolled back, finalized again and committed
@example(life=Life((False,), ((STEPS[4], 0, 0), (STEPS[0], 0, 0))))
def test_one_process_publishes_each_commit_s_events_and_none_of_a_rollback(
    life: Life, oracle: ModuleType, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A worker that commits and rolls back in turn announces, at each commit, what that commit finalized"""
    with rolled_back():
        theirs = live(life, oracle, django_capture_on_commit_callbacks)
    with rolled_back():
        yours = live(life, services_graded(), django_capture_on_commit_callbacks)
    check(
        yours == theirs,
        f"{life.describe()}\nExpected (README, Contract 3 and 4):\n{shown_life(theirs)}\nYours:\n{shown_life(yours)}\n"
        "Each commit announces the invoices that it finalized, and nothing else: not the events of a transaction "
        "or savepoint that rolled back earlier in the same process (it left those invoices drafts), and not "
        "fewer because an invoice's earlier finalization was rolled back. Keep no events or announced invoices "
        "in the process between transactions: register each publication with transaction.on_commit() inside "
        "finalize_invoice()'s block, where Django drops it with the block that rolls back (DATA-5).",
    )
