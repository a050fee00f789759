"""Grader of `atomic_external_call`: no provider call inside a transaction; events only after commit."""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import OperationalError, connection, models

from atomic_external_call.clients import ChargeDeclinedError
from atomic_external_call.models import ChargeAttempt, Invoice, Payment
from atomic_external_call.services import InvoiceNotPayableError, collect_payment
from dojo.grading import check, unexpected_edits
from dojo.manifest import kata_by_slug

from .factories import InvoiceFactory
from .fakes import FakeEventBus, FakePaymentProvider

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


@contextmanager
def first_write_fails(model: type[models.Model]) -> Iterator[None]:
    """The database fails at the first INSERT or UPDATE of a `model` row, once (`.save()` or `.update()`)."""
    table = re.escape(model._meta.db_table)
    writes = re.compile(rf'^\s*(INSERT\s+INTO|UPDATE)\s+"?{table}"?\s', re.IGNORECASE)
    failed = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not failed and writes.match(sql):
            failed.append(sql)
            raise OperationalError("could not extend file: No space left on device")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def ledger_write_fails() -> AbstractContextManager[None]:
    """The database fails when the payment row is written, once."""
    return first_write_fails(Payment)


def columns_holding(value: str) -> list[str]:
    """The `model.field` columns of the kata's tables that hold `value`."""
    found = []
    for model in apps.get_app_config("atomic_external_call").get_models():
        for model_field in model._meta.concrete_fields:
            if (
                isinstance(model_field, models.CharField)
                and model._default_manager.filter(**{model_field.name: value}).exists()
            ):
                found.append(f"{model.__name__}.{model_field.name}")
    return found


def test_collecting_charges_once_and_records_the_payment(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(amount_due_cents=49_900, currency="EUR")

    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    invoice.refresh_from_db()
    attempt = ChargeAttempt.objects.get(invoice=invoice)
    assert [(c.customer_ref, c.amount_cents, c.currency, c.idempotency_key) for c in provider.calls] == [
        (invoice.customer.provider_customer_id, 49_900, "EUR", attempt.idempotency_key)
    ]
    assert (invoice.status, invoice.provider_charge_id) == (Invoice.Status.PAID, "ch_0001")
    assert (attempt.outcome, attempt.provider_charge_id) == (ChargeAttempt.Outcome.CHARGED, "ch_0001")
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


@pytest.mark.lesson("DATA-2")
def test_a_collection_that_crashed_after_the_charge_charges_once_when_retried(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(amount_due_cents=49_900)

    with django_capture_on_commit_callbacks(execute=True), ledger_write_fails(), pytest.raises(OperationalError):
        collect_payment(invoice.pk, provider=provider, bus=bus)
    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # the job retries the collection

    invoice.refresh_from_db()
    keys = [call.idempotency_key for call in provider.calls]
    check(
        len(provider.charges) == 1 and Payment.objects.filter(invoice=invoice).count() == 1,
        f"The first collection charged the customer, then writing the payment failed; the retry charged "
        f"again: the customer now has {len(provider.charges)} charges of 499.00 for one invoice (keys "
        f"{keys}). The attempt and its idempotency key were rolled back with the transaction the provider "
        "was called in, so the retry made a new attempt with a new key. Commit the attempt before "
        "calling the provider (outside any transaction), so that a retry finds it and sends the same key: "
        "the provider then returns the charge it already made.",
    )


@pytest.mark.guard("DATA-2")
def test_after_a_decline_the_next_collection_is_a_new_attempt(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory(amount_due_cents=49_900)
    provider.declines = 1  # the card is declined once; the customer then updates it

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ChargeDeclinedError):
        collect_payment(invoice.pk, provider=provider, bus=bus)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN, "A declined collection must leave the invoice open."
    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    invoice.refresh_from_db()
    keys = [call.idempotency_key for call in provider.calls]
    check(
        invoice.status == Invoice.Status.PAID and len(set(keys)) == 2,
        f"The card was declined, the customer updated it, and the next collection must charge it. It "
        f"sent the idempotency keys {keys}: the provider keeps the first result of a key, the decline "
        "too (for about 24 hours), and answered the second collection with the old decline. A key "
        "belongs to one attempt (ChargeAttempt): mark a declined attempt as such, and start a new one, "
        "with a new key, for the next collection.",
    )


@pytest.mark.guard("DATA-1")
@pytest.mark.parametrize("failing", [Invoice, Payment], ids=["invoice write", "payment write"])
def test_a_collection_that_fails_half_way_leaves_nothing_behind(
    failing: type[models.Model],
    provider: FakePaymentProvider,
    bus: FakeEventBus,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    """A collection whose invoice or payment write fails leaves nothing behind"""
    invoice = InvoiceFactory()

    with django_capture_on_commit_callbacks(execute=True), first_write_fails(failing), pytest.raises(OperationalError):
        collect_payment(invoice.pk, provider=provider, bus=bus)

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        invoice.status == Invoice.Status.OPEN and payments == 0,
        f"Writing the {failing.__name__.lower()} failed half-way through the collection, and it left "
        f"behind: the invoice {invoice.status}, with {payments} payment(s). The invoice and its payment "
        "belong together: write them in one transaction.atomic() block, after the provider's answer.",
    )


@pytest.mark.guard("DATA-2")
def test_a_charge_that_can_no_longer_be_applied_is_not_lost(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A charge made for an invoice paid meanwhile is recorded and reported, not dropped"""
    invoice = InvoiceFactory(amount_due_cents=49_900)

    def paid_elsewhere() -> None:  # the customer paid by bank transfer while the provider answered
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, provider_charge_id="tr_bank")

    provider.meanwhile = paid_elsewhere
    raised: Exception | None = None
    with django_capture_on_commit_callbacks(execute=True):
        try:
            collect_payment(invoice.pk, provider=provider, bus=bus)
        except Exception as error:  # the service must say so; which error it raises is its choice
            raised = error
    if provider.meanwhile is not None:
        return  # the provider was called inside a transaction, which no other write could get past

    invoice.refresh_from_db()
    charge_id = provider.charges[0].id if provider.charges else "?"
    recorded = columns_holding(charge_id)
    check(
        raised is not None and recorded and not bus.published and invoice.provider_charge_id == "tr_bank",
        f"While the provider charged the customer ({charge_id}), the invoice was paid by bank transfer. "
        "The collection must not treat that as success, nor drop the charge: the customer has now paid "
        f"twice. It {'raised ' + type(raised).__name__ if raised else 'returned silently'}, recorded the "
        f"charge in {recorded or 'no table'}, published {len(bus.published)} event(s), and left the invoice "
        f"on {invoice.provider_charge_id}. Record the charge on its attempt (as unapplied, to be refunded) "
        "and raise an error that says so.",
    )


@pytest.mark.guard("DATA-2")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["atomic_external_call"].files
    edited = unexpected_edits("atomic_external_call", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset atomic_external_call` restores the whole kata, after a backup).",
    )
