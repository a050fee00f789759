"""Grader of `webhook_idempotency`: a redelivered event changes nothing and sends nothing."""

import itertools
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
from webhook_idempotency.models import Invoice, Payment

from .factories import InvoiceFactory
from .fakes import FakeEmailClient

pytestmark = pytest.mark.django_db

Committed = Callable[[], AbstractContextManager[object]]

_event_ids = itertools.count(1)


def fresh_worker() -> ModuleType:
    """The services module loaded anew, as by another worker process: nothing kept in memory is shared."""
    return another_worker("webhook_idempotency.services")


def payment_event(invoice: Invoice, amount_cents: int, event_id: str | None = None) -> Any:
    number = next(_event_ids)
    return fresh_worker().PaymentSucceeded(
        event_id=event_id or f"evt_{number:06d}",
        invoice_number=invoice.number,
        payment_id=f"pay_{number:06d}",
        amount_cents=amount_cents,
    )


def database_fails_after_the_payment_row() -> AbstractContextManager[None]:
    """The connection drops right after the payment row is written, once."""
    return fails_once_when_saved(Payment, OperationalError("server closed the connection unexpectedly"))


def test_a_delivery_records_the_payment_settles_the_invoice_and_sends_a_receipt(
    emails: FakeEmailClient, committed: Committed
) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)

    with committed():
        fresh_worker().handle_payment_succeeded(payment_event(invoice, 12_000), emails=emails)

    invoice.refresh_from_db()
    assert list(Payment.objects.values_list("invoice_id", "amount_cents")) == [(invoice.pk, 12_000)]
    assert (invoice.status, invoice.amount_paid_cents) == (Invoice.Status.PAID, 12_000)
    assert [mail.to for mail in emails.sent] == [invoice.customer.email]


@pytest.mark.guard("DATA-3")
def test_distinct_events_are_all_applied(emails: FakeEmailClient, committed: Committed) -> None:
    """Distinct events for the same invoice and the same amount are all applied"""
    invoice = InvoiceFactory(amount_due_cents=12_000)
    first, second = payment_event(invoice, 6_000), payment_event(invoice, 6_000)

    for event in (first, second):  # two instalments of 60.00: two events, two payment IDs, one amount
        with committed():
            fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        payments == 2 and invoice.amount_paid_cents == 12_000 and len(emails.sent) == 2,
        f"Two different events ({first.event_id} and {second.event_id}, payments {first.payment_id} and "
        f"{second.payment_id}) each paid 60.00 of invoice {invoice.number}; your handler recorded {payments} "
        f"payment(s), {invoice.amount_paid_cents / 100:.2f} paid and {len(emails.sent)} receipt(s). Only the "
        "event ID says whether an event is a redelivery: two instalments of the same amount are two events.",
    )


@pytest.mark.lesson("DATA-3")
def test_a_redelivered_event_is_applied_once(emails: FakeEmailClient, committed: Committed) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    event = payment_event(invoice, 5_000)

    for _delivery in range(3):  # the provider retries; each delivery may reach another worker
        with committed():
            fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        payments == 1 and len(emails.sent) == 1 and invoice.amount_paid_cents == 5_000,
        f"The provider delivered event {event.event_id} three times, to three different workers, and "
        f"your handler recorded {payments} payment(s), counted {invoice.amount_paid_cents / 100:.2f} paid "
        f"instead of 50.00 and sent {len(emails.sent)} receipt(s). Remember which event IDs were applied, "
        "in the database (memory is not shared by workers and does not survive a restart), and do "
        "nothing for an event already applied.",
    )


@pytest.mark.guard("DATA-1")
def test_a_delivery_that_failed_half_way_can_be_delivered_again(emails: FakeEmailClient, committed: Committed) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    event = payment_event(invoice, 12_000)

    with committed(), database_fails_after_the_payment_row(), pytest.raises(OperationalError):
        fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    check(
        Payment.objects.count() == 0 and invoice.amount_paid_cents == 0 and not emails.sent,
        "The first delivery failed half-way, yet it left a payment, a paid amount or an email behind: "
        "every write of one delivery must commit together or not at all (transaction.atomic()).",
    )

    with committed():
        fresh_worker().handle_payment_succeeded(event, emails=emails)  # the provider retries

    invoice.refresh_from_db()
    check(
        Payment.objects.count() == 1 and invoice.status == Invoice.Status.PAID and len(emails.sent) == 1,
        f"After a failed first attempt, the retry of {event.event_id} was not applied: the handler "
        "remembered the event as processed although its work was rolled back. Record the event ID in "
        "the same transaction as the work it stands for.",
    )


@pytest.mark.guard("DATA-2")
def test_the_receipt_is_sent_after_the_commit(emails: FakeEmailClient, committed: Committed) -> None:
    """The receipt is sent after the commit, also when the handler runs in a caller's transaction"""
    alone, nested = InvoiceFactory(), InvoiceFactory()

    with committed():
        fresh_worker().handle_payment_succeeded(payment_event(alone, 5_000), emails=emails)
    with committed(), transaction.atomic():  # a caller (a view, a job) that opened a transaction first
        fresh_worker().handle_payment_succeeded(payment_event(nested, 5_000), emails=emails)

    inside = [mail.subject for mail in emails.sent if mail.inside_transaction]
    check(
        len(emails.sent) == 2 and not inside,
        f"The receipt went out while a database transaction was still open ({inside or emails.sent}). Until "
        "the commit, the payment can still roll back (the customer then holds a receipt for nothing), and "
        "the email provider's answer holds the invoice's row lock. Register the email with "
        "transaction.on_commit() inside the block, as the handler did before your change.",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.lesson("DATA-4")
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_apply_once() -> None:
    """Concurrent deliveries of one event apply once, however the two workers interleave"""
    ways: list[tuple[str, Interleave]] = [
        ("the other one applied it and committed {where}, when your code had made its checks", interleaved)
    ]
    if connection.vendor == "postgresql":  # there, two workers also run truly at once
        ways.append(("the first was held before its first write until the other had made its checks ({where})", race))

    for how, run in ways:
        invoice = InvoiceFactory(amount_due_cents=12_000)
        event = payment_event(invoice, 5_000)
        emails = FakeEmailClient()
        ours, theirs = fresh_worker(), fresh_worker()
        outcome = run(
            partial(ours.handle_payment_succeeded, event, emails=emails),
            partial(theirs.handle_payment_succeeded, event, emails=emails),
        )

        invoice.refresh_from_db()
        payments = Payment.objects.filter(invoice=invoice).count()
        check(
            payments == 1 and len(emails.sent) == 1 and invoice.amount_paid_cents == 5_000,
            f"Two workers received event {event.event_id} at the same moment: "
            f"{how.format(where=outcome.interleaving)}. Together they recorded {payments} payments, "
            f"{invoice.amount_paid_cents / 100:.2f} paid and {len(emails.sent)} receipts. A check first and "
            "an insert later leaves a gap between the two, and so does an insert that ignores a conflict "
            "without telling you: let the database refuse the second record of the event (a unique "
            "constraint on the event ID) inside the transaction, and do nothing when it was refused. "
            f"Errors seen: {outcome.failures() or 'none'}",
        )


@pytest.mark.guard("DATA-3")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["webhook_idempotency"].files
    edited = unexpected_edits("webhook_idempotency", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset webhook_idempotency` restores the whole kata, after a backup).",
    )
