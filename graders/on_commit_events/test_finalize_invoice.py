"""Grader of `on_commit_events`: invoice.finalized goes out once, after the outermost commit, never for a rollback."""

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.db import IntegrityError, OperationalError

from dojo.grading import check, fails_once_when_saved, unexpected_edits
from dojo.manifest import kata_by_slug
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
    invoice = InvoiceFactory() if period is None else InvoiceFactory(billing_period=period)
    InvoiceLineFactory(invoice=invoice, quantity=3, unit_price_cents=1_000)
    InvoiceLineFactory(invoice=invoice, quantity=1, unit_price_cents=2_500)
    return invoice


def with_leftover_booking(invoice: Invoice) -> Invoice:
    """Booking this invoice will conflict with a ledger entry that a botched import left behind."""
    LedgerEntryFactory(invoice=invoice)
    return invoice


def closing_the_period_fails() -> AbstractContextManager[None]:
    """The database fails when the period is written as closed (the close's last write), once."""
    return fails_once_when_saved(BillingPeriod, OperationalError("could not extend file: No space left on device"))


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


def test_only_a_draft_can_be_finalized_and_a_period_closes_once(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(status=Invoice.Status.OPEN, total_cents=4_000)
    closed = BillingPeriodFactory(status=BillingPeriod.Status.CLOSED)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InvoiceNotDraftError):
            finalize_invoice(invoice.pk, bus=bus)
        with pytest.raises(PeriodClosedError):
            close_billing_period(closed.pk, bus=bus)

    assert bus.publications == []
    assert not LedgerEntry.objects.exists()


def test_closing_a_period_finalizes_its_drafts_and_skips_one_that_cannot_be_booked(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory()
    first, conflicting, last = draft(period), with_leftover_booking(draft(period)), draft(period)
    already_open = InvoiceFactory(billing_period=period, status=Invoice.Status.OPEN, total_cents=4_000)
    InvoiceFactory(status=Invoice.Status.DRAFT)  # another period's draft

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


@pytest.mark.lesson("DATA-5")
def test_a_period_close_that_rolls_back_publishes_nothing(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory()
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


@pytest.mark.lesson("DATA-5")
def test_an_invoice_the_period_close_skips_is_not_announced(
    bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    period = BillingPeriodFactory()
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


@pytest.mark.guard("DATA-5")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["on_commit_events"].files
    edited = unexpected_edits("on_commit_events", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset on_commit_events` restores the whole kata, after a backup).",
    )
