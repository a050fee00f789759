"""Grader of `atomic_external_call`: no provider call inside a transaction; events only after commit."""

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.db import OperationalError

from atomic_external_call.models import Invoice, Payment
from atomic_external_call.services import InvoiceNotPayableError, collect_payment
from dojo.grading import check, fails_once_when_saved

from .factories import InvoiceFactory
from .fakes import FakeEventBus, FakePaymentProvider

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


def ledger_write_fails() -> AbstractContextManager[None]:
    """The database fails when the payment row is written, once."""
    return fails_once_when_saved(Payment, OperationalError("could not extend file: No space left on device"))


def test_collecting_charges_once_and_records_the_payment(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(amount_due_cents=49_900, currency="EUR")

    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    invoice.refresh_from_db()
    assert [(c.customer_ref, c.amount_cents, c.currency, c.idempotency_key) for c in provider.calls] == [
        (invoice.customer.provider_customer_id, 49_900, "EUR", f"invoice-{invoice.pk}")
    ]
    assert (invoice.status, invoice.provider_charge_id) == (Invoice.Status.PAID, f"ch_invoice-{invoice.pk}")
    assert list(Payment.objects.values_list("invoice_id", "amount_cents")) == [(invoice.pk, 49_900)]
    assert [(event.name, event.payload) for event in bus.published] == [
        ("invoice.paid", {"invoice": invoice.number, "amount_cents": 49_900})
    ]


def test_an_invoice_that_is_not_open_is_refused_without_a_charge(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(status=Invoice.Status.PAID)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvoiceNotPayableError):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    assert provider.calls == []
    assert bus.published == []
    assert Payment.objects.count() == 0


@pytest.mark.lesson("DATA-2")
def test_the_provider_is_not_called_inside_a_transaction(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory()

    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    check(
        provider.calls and not any(call.inside_transaction for call in provider.calls),
        "PaymentProvider.charge() was called inside transaction.atomic(). While the provider answers "
        "(seconds, on a bad day), the transaction holds the invoice's row lock and a database "
        "connection; and if the transaction then rolls back, the customer is charged with no record "
        "of it on our side. Call the provider before the transaction (or after it), and keep the "
        "transaction for the database writes only.",
    )


@pytest.mark.lesson("DATA-5")
def test_nothing_is_published_when_the_transaction_rolls_back(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory()

    with django_capture_on_commit_callbacks(execute=True), ledger_write_fails(), pytest.raises(OperationalError):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN, "The failed collection must leave the invoice open."
    check(
        bus.published == [],
        f"The transaction rolled back (writing the payment failed), yet {len(bus.published)} event(s) "
        f"went out: {[event.name for event in bus.published]}. Other services now believe an invoice "
        "is paid that our database says is open. Register the publication with "
        "transaction.on_commit(), so that it happens only if the transaction commits.",
    )


@pytest.mark.lesson("DATA-5")
def test_the_event_is_published_once_after_the_commit(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory()

    with django_capture_on_commit_callbacks() as on_commit:
        collect_payment(invoice.pk, provider=provider, bus=bus)
        published_before_commit = list(bus.published)

    check(
        published_before_commit == [],
        "invoice.paid was published before the transaction committed. Until the commit, the "
        "payment may still roll back, and a consumer that reacts at once does not see our rows yet. "
        "Publish from transaction.on_commit().",
    )
    for callback in on_commit:
        callback()  # the commit
    check(
        [event.name for event in bus.published] == ["invoice.paid"],
        f"After the commit, exactly one invoice.paid event must be published; got "
        f"{[event.name for event in bus.published]}.",
    )
