"""Grader of `webhook_idempotency`: a redelivered event changes nothing and sends nothing."""

import importlib
import itertools
import threading
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import pytest
from django.db import OperationalError, connection

from dojo.grading import check, fails_once_when_saved
from webhook_idempotency.models import Invoice, Payment

from .factories import InvoiceFactory
from .fakes import FakeEmailClient

pytestmark = pytest.mark.django_db

_event_ids = itertools.count(1)


def fresh_worker() -> ModuleType:
    """The services module imported anew, as by another worker: nothing kept in memory survives."""
    return importlib.reload(importlib.import_module("webhook_idempotency.services"))


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


def test_a_delivery_records_the_payment_settles_the_invoice_and_sends_a_receipt(emails: FakeEmailClient) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)

    fresh_worker().handle_payment_succeeded(payment_event(invoice, 12_000), emails=emails)

    invoice.refresh_from_db()
    assert list(Payment.objects.values_list("invoice_id", "amount_cents")) == [(invoice.pk, 12_000)]
    assert (invoice.status, invoice.amount_paid_cents) == (Invoice.Status.PAID, 12_000)
    assert [mail.to for mail in emails.sent] == [invoice.customer.email]


def test_distinct_events_are_all_applied(emails: FakeEmailClient) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)

    for amount in (5_000, 7_000):  # two partial payments of one invoice: two different events
        fresh_worker().handle_payment_succeeded(payment_event(invoice, amount), emails=emails)

    invoice.refresh_from_db()
    assert Payment.objects.filter(invoice=invoice).count() == 2, "Two different events must give two payments."
    assert (invoice.status, invoice.amount_paid_cents) == (Invoice.Status.PAID, 12_000)
    assert len(emails.sent) == 2


@pytest.mark.lesson("DATA-3")
def test_a_redelivered_event_is_applied_once(emails: FakeEmailClient) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    event = payment_event(invoice, 5_000)

    for _delivery in range(3):  # the provider retries; each delivery may reach another worker
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
def test_a_delivery_that_failed_half_way_can_be_delivered_again(emails: FakeEmailClient) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    event = payment_event(invoice, 12_000)

    with database_fails_after_the_payment_row(), pytest.raises(OperationalError):
        fresh_worker().handle_payment_succeeded(event, emails=emails)

    invoice.refresh_from_db()
    check(
        Payment.objects.count() == 0 and invoice.amount_paid_cents == 0 and not emails.sent,
        "The first delivery failed half-way, yet it left a payment, a paid amount or an email behind: "
        "every write of one delivery must commit together or not at all (transaction.atomic()).",
    )

    fresh_worker().handle_payment_succeeded(event, emails=emails)  # the provider retries

    invoice.refresh_from_db()
    check(
        Payment.objects.count() == 1 and invoice.status == Invoice.Status.PAID and len(emails.sent) == 1,
        f"After a failed first attempt, the retry of {event.event_id} was not applied: the handler "
        "remembered the event as processed although its work was rolled back. Record the event ID in "
        "the same transaction as the work it stands for.",
    )


@pytest.mark.lesson("DATA-4")
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_apply_once(emails: FakeEmailClient) -> None:
    invoice = InvoiceFactory(amount_due_cents=12_000)
    event = payment_event(invoice, 5_000)
    services = fresh_worker()
    start = threading.Barrier(2)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            start.wait(timeout=5)
            services.handle_payment_succeeded(event, emails=emails)
        except Exception as error:  # a worker that loses the race may fail; the effect must still be single
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=8)

    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        payments == 1 and len(emails.sent) == 1,
        f"Two workers received event {event.event_id} at the same moment and together recorded "
        f"{payments} payments and sent {len(emails.sent)} receipts. Checking first and inserting later "
        "leaves a gap between the two: let the database refuse the second record (a unique "
        f"constraint on the event ID) inside the transaction. Errors seen: {errors or 'none'}",
    )
