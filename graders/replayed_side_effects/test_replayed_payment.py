"""Grader of `replayed_side_effects`: one payment announced in two events is applied, and receipted, once."""

import itertools
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from dojo.grading import check, fails_once_when_saved, unexpected_edits
from dojo.manifest import kata_by_slug
from dojo.races import Interleave, another_worker, interleaved, race
from replayed_side_effects.models import Invoice, Payment, ProcessedWebhookEvent

from .factories import InvoiceFactory
from .fakes import FakeEmailClient

pytestmark = pytest.mark.django_db

SLUG = "replayed_side_effects"
Committed = Callable[[], AbstractContextManager[object]]
PAYMENT_INSERT = re.compile(rf'^\s*INSERT\s+INTO\s+"?{Payment._meta.db_table}"?\s', re.IGNORECASE)

# the record of an event ID: each announcement has one of its own, so it cannot concern the other worker
NOT_THE_EVENT_RECORD = re.compile(
    rf'^\s*(UPDATE|DELETE|INSERT\s+(OR\s+\w+\s+)?INTO\s+(?!"?{ProcessedWebhookEvent._meta.db_table}\b))',
    re.IGNORECASE,
)

_numbers = itertools.count(1)


def fresh_worker() -> ModuleType:
    """The services module loaded anew, as by another worker process: nothing kept in memory is shared."""
    return another_worker(f"{SLUG}.services")


def announcements(invoice: Invoice, amount_cents: int, times: int = 2) -> list[Any]:
    """`times` events of the provider about ONE payment: each has an event ID of its own."""
    payment = next(_numbers)
    worker = fresh_worker()
    return [
        worker.PaymentSucceeded(
            event_id=f"evt_{payment:04d}_{copy}",
            invoice_number=invoice.number,
            payment_id=f"pay_{payment:06d}",
            amount_cents=amount_cents,
        )
        for copy in range(1, times + 1)
    ]


def test_a_payment_is_recorded_settles_the_invoice_and_sends_a_receipt(
    emails: FakeEmailClient, committed: Committed
) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    (event,) = announcements(invoice, 12_000, times=1)

    with committed():
        fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    assert list(Payment.objects.values_list("provider_payment_id", "amount_cents")) == [(event.payment_id, 12_000)]
    assert (invoice.status, invoice.amount_paid_cents) == (Invoice.Status.PAID, 12_000)
    assert [mail.to for mail in emails.sent] == [invoice.customer.email]


def test_a_redelivered_event_is_applied_once(emails: FakeEmailClient, committed: Committed) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    (event,) = announcements(invoice, 5_000, times=1)

    for _delivery in range(2):
        with committed():
            fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    assert (Payment.objects.count(), invoice.amount_paid_cents, len(emails.sent)) == (1, 5_000, 1)


@pytest.mark.lesson("DATA-3")
def test_one_payment_announced_in_two_events_is_applied_once(emails: FakeEmailClient, committed: Committed) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    first, second = announcements(invoice, 5_000)  # an instalment: the invoice stays open

    for event in (first, second):
        with committed():
            fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        payments == 1 and invoice.amount_paid_cents == 5_000 and len(emails.sent) == 1,
        f"The provider announced payment {first.payment_id} (50.00) twice, in events {first.event_id} and "
        f"{second.event_id}: two event IDs, one payment. Your handler recorded {payments} payment(s), "
        f"counted {invoice.amount_paid_cents / 100:.2f} paid and sent {len(emails.sent)} receipt(s). "
        "Deduping by event ID catches a redelivery, not a second event about the same fact: make the "
        "effect itself single, keyed by what it is about (a unique constraint on the payment's ID), and "
        "send the receipt only when this event created the payment.",
    )


@pytest.mark.guard("DATA-3")
def test_distinct_payments_of_the_same_amount_are_all_applied(emails: FakeEmailClient, committed: Committed) -> None:
    """Distinct payments of one invoice, of the same amount, are all applied"""
    invoice = InvoiceFactory(amount_due_cents=12_000)
    (first,) = announcements(invoice, 6_000, times=1)
    (second,) = announcements(invoice, 6_000, times=1)

    for event in (first, second):  # two instalments of 60.00: two payments
        with committed():
            fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        payments == 2 and invoice.amount_paid_cents == 12_000 and len(emails.sent) == 2,
        f"Two different payments ({first.payment_id} and {second.payment_id}) each paid 60.00 of invoice "
        f"{invoice.number}; your handler recorded {payments} payment(s), {invoice.amount_paid_cents / 100:.2f} "
        f"paid and {len(emails.sent)} receipt(s). Only the payment's ID says whether two events are about the "
        "same payment: two instalments of the same amount, on the same invoice, are two payments.",
    )


@pytest.mark.guard("DATA-1")
def test_an_announcement_that_failed_half_way_can_be_applied_again(
    emails: FakeEmailClient, committed: Committed
) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    first, second = announcements(invoice, 12_000)

    with (
        committed(),
        fails_once_when_saved(Invoice, OperationalError("server closed the connection unexpectedly")),
        pytest.raises(OperationalError),
    ):
        fresh_worker().handle_payment_succeeded(first, emails=emails)
    with committed():
        fresh_worker().handle_payment_succeeded(second, emails=emails)  # the same payment, announced again

    invoice.refresh_from_db()
    check(
        invoice.status == Invoice.Status.PAID and Payment.objects.count() == 1 and len(emails.sent) == 1,
        f"Applying {first.event_id} failed half-way (the invoice's write), and {second.event_id}, about the "
        f"same payment, came next. The payment must then be applied once: the invoice is {invoice.status}, "
        f"with {Payment.objects.count()} payment(s) and {len(emails.sent)} receipt(s). Whatever records the "
        "payment as applied must be written in the same transaction as the invoice, so that a failure rolls "
        "both back.",
    )


@pytest.mark.guard("DATA-2")
def test_the_receipt_is_sent_after_the_commit(emails: FakeEmailClient, committed: Committed) -> None:
    """The receipt is sent after the commit, also when the handler runs in a caller's transaction"""
    alone, nested = InvoiceFactory(), InvoiceFactory()

    with committed():
        fresh_worker().handle_payment_succeeded(announcements(alone, 5_000, times=1)[0], emails=emails)
    with committed(), transaction.atomic():  # a caller (a view, a job) that opened a transaction first
        fresh_worker().handle_payment_succeeded(announcements(nested, 5_000, times=1)[0], emails=emails)

    inside = [mail.subject for mail in emails.sent if mail.inside_transaction]
    check(
        len(emails.sent) == 2 and not inside,
        f"The receipt went out while a database transaction was still open ({inside or emails.sent}). Until "
        "the commit, the payment can still roll back. Register the email with transaction.on_commit() inside "
        "the block, as the handler did before your change.",
    )


@pytest.mark.lesson("DATA-4")
@pytest.mark.django_db(transaction=True)
def test_two_announcements_of_one_payment_at_once_apply_once() -> None:
    """Two events about one payment, handled at once, apply once, however the two workers interleave"""
    ways: list[tuple[str, Interleave]] = [
        (
            "the other one applied its event and committed {where}, when your code had made its checks",
            partial(interleaved, at=NOT_THE_EVENT_RECORD),
        )
    ]
    if connection.vendor == "postgresql":  # there, two workers also run truly at once
        ways.append(
            (
                "the first was held before it wrote the payment until the other had made its checks ({where})",
                partial(race, hold_at=PAYMENT_INSERT),
            )
        )

    for how, run in ways:
        invoice = InvoiceFactory(amount_due_cents=12_000)
        first, second = announcements(invoice, 5_000)
        emails = FakeEmailClient()
        ours, theirs = fresh_worker(), fresh_worker()
        outcome = run(
            partial(ours.handle_payment_succeeded, first, emails=emails),
            partial(theirs.handle_payment_succeeded, second, emails=emails),
        )

        invoice.refresh_from_db()
        payments = Payment.objects.filter(invoice=invoice).count()
        check(
            payments == 1 and len(emails.sent) == 1 and invoice.amount_paid_cents == 5_000,
            f"Two workers received {first.event_id} and {second.event_id}, both about payment "
            f"{first.payment_id}, at the same moment: {how.format(where=outcome.interleaving)}. Together they "
            f"recorded {payments} payments, {invoice.amount_paid_cents / 100:.2f} paid and {len(emails.sent)} "
            "receipts. A check for the payment followed by an insert leaves a gap between the two, and so "
            "does an insert that ignores a conflict without telling you: let the database refuse the second "
            "record (a unique constraint on the payment's ID), and do nothing when it was refused. Errors "
            f"seen: {outcome.failures() or 'none'}",
        )


@pytest.mark.guard("DATA-3")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()[SLUG].files
    edited = unexpected_edits(SLUG, files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are: "
        "put the others back as shipped (`git diff` shows what you changed; "
        f"`uv run dojo reset {SLUG}` restores the whole kata, after a backup).",
    )
