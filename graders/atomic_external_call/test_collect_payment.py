"""Grader of `atomic_external_call`: no provider call inside a transaction; events only after commit."""

import importlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from django.db import OperationalError, connection, models, transaction
from hypothesis import example, given
from hypothesis import strategies as st

from atomic_external_call.clients import ChargeDeclinedError
from atomic_external_call.models import ChargeAttempt, Invoice, Payment
from atomic_external_call.services import ChargeNotAppliedError, InvoiceNotPayableError, collect_payment
from dojo.grading import WorkerKill, WorkerKilled, check, worker_killed_at_update
from dojo.races import Meanwhile, another_worker, meanwhile, race
from dojo.scenarios import reference, rolled_back, scenarios

from .factories import InvoiceFactory
from .fakes import FakeCharge, FakeEventBus, FakePaymentProvider

pytestmark = pytest.mark.django_db

# where the race holds the bank transfer: its write of the invoice, under the row lock it took
INVOICE_UPDATE = re.compile(rf'^\s*UPDATE\s+"?{Invoice._meta.db_table}"?\s', re.IGNORECASE)
# where the race holds the collection: its first row lock, or its first write of the invoice
LOCK_OR_INVOICE_WRITE = re.compile(
    rf'\bFOR (NO KEY )?UPDATE\b|^\s*UPDATE\s+"?{Invoice._meta.db_table}"?\s', re.IGNORECASE
)

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], object]]]]
# collect_payment() is given the FakePaymentProvider on purpose: its charges are FakeCharge, with the fields of
# the kata's Charge, which fakes.py may not import (a broken kata must not stop the conftest): hence the
# `type: ignore[arg-type]` at those calls


@contextmanager
def first_write_fails(model: type[models.Model]) -> Iterator[None]:
    """The database fails at the first INSERT or UPDATE of a `model` row, once (`.save()` or `.update()`)."""
    table = re.escape(model._meta.db_table)
    writes = re.compile(rf'^\s*(INSERT\s+INTO|UPDATE)\s+"?{table}"?\s', re.IGNORECASE)
    failed: list[str] = []

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


def the_worker_is_killed_at_the_invoice_write() -> AbstractContextManager[object]:
    """The worker is killed just before its first UPDATE of the invoice table, once (`WorkerKill`)."""
    return worker_killed_at_update(Invoice, "the invoice's write")


@pytest.mark.contract(1)
def test_collecting_charges_once_and_records_the_payment(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create(amount_due_cents=49_900, currency="EUR")

    with django_capture_on_commit_callbacks(execute=True):
        returned = collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

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
    mismatch = returned_invoice(returned, invoice)
    check(
        not mismatch,
        f"The collection charged and paid the invoice, and gave back {''.join(mismatch)}. {RETURNED_ADVICE}",
    )


@pytest.mark.contract(2)
def test_an_invoice_that_is_not_open_is_refused_without_a_charge(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create(status=Invoice.Status.PAID)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvoiceNotPayableError):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

    assert provider.calls == []
    assert bus.published == []
    assert Payment.objects.count() == 0


@pytest.mark.contract(3)
@pytest.mark.lesson("DATA-2")
def test_the_provider_is_not_called_inside_a_transaction(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create()

    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

    check(
        provider.calls and not any(call.inside_transaction for call in provider.calls),
        "PaymentProvider.charge() was called inside transaction.atomic(). While the provider answers "
        "(seconds, on a bad day), the transaction holds the invoice's row lock and a database "
        "connection; and if the transaction then rolls back, the customer is charged with no record "
        "of it on our side. Call the provider before the transaction (or after it), and keep the "
        "transaction for the database writes only.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-5")
def test_nothing_is_published_when_the_transaction_rolls_back(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create()

    with django_capture_on_commit_callbacks(execute=True), ledger_write_fails(), pytest.raises(OperationalError):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN, "The failed collection must leave the invoice open."
    check(
        bus.published == [],
        f"The transaction rolled back (writing the payment failed), yet {len(bus.published)} event(s) "
        f"went out: {[event.name for event in bus.published]}. Other services now believe an invoice "
        "is paid that our database says is open. Register the publication with "
        "transaction.on_commit(), so that it happens only if the transaction commits.",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-5")
def test_the_event_is_published_once_after_the_commit(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create()

    with django_capture_on_commit_callbacks() as on_commit:
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]
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


@pytest.mark.contract(5, 6)
@pytest.mark.lesson("DATA-2")
@pytest.mark.parametrize("failure", ["OperationalError", "WorkerKilled"], ids=["payment write", "killed"])
def test_a_collection_that_crashed_after_the_charge_charges_once_when_retried(
    provider: FakePaymentProvider,
    bus: FakeEventBus,
    django_capture_on_commit_callbacks: CaptureCallbacks,
    failure: str,
) -> None:
    invoice = InvoiceFactory.create(amount_due_cents=49_900)

    crash = ledger_write_fails() if failure == "OperationalError" else the_worker_is_killed_at_the_invoice_write()
    with (
        django_capture_on_commit_callbacks(execute=True),
        crash,
        pytest.raises(OperationalError if failure == "OperationalError" else WorkerKilled),
    ):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]
    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]  # the job retries the collection

    invoice.refresh_from_db()
    keys = [call.idempotency_key for call in provider.calls]
    check(
        len(provider.charges) == 1 and Payment.objects.filter(invoice=invoice).count() == 1,
        f"The first collection charged the customer, then {CRASH_IN_WORDS[failure]}; the retry charged "
        f"again: the customer now has {len(provider.charges)} charges of 499.00 for one invoice (keys "
        f"{keys}). Either the attempt and its idempotency key were rolled back with the transaction the provider "
        "was called in, or the attempt was marked charged before the invoice's transaction, so the retry made a "
        "new attempt with a new key. Commit the attempt as pending before calling the provider (outside any "
        "transaction), so that a retry finds it and sends the same key (the provider then returns the charge it "
        "already made), and mark it charged in the transaction that writes the invoice and the payment: an "
        "undo in an `except` clause does not run when the worker is killed.",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("DATA-2")
def test_after_a_decline_the_next_collection_is_a_new_attempt(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    provider.declines = 1  # the card is declined once; the customer then updates it

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ChargeDeclinedError):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN, "A declined collection must leave the invoice open."
    with django_capture_on_commit_callbacks(execute=True):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

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


@pytest.mark.contract(4)
@pytest.mark.guard("DATA-1")
@pytest.mark.parametrize("failing", [Invoice, Payment], ids=["invoice write", "payment write"])
def test_a_collection_that_fails_half_way_leaves_nothing_behind(
    failing: type[models.Model],
    provider: FakePaymentProvider,
    bus: FakeEventBus,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    """A collection whose invoice or payment write fails leaves nothing behind"""
    invoice = InvoiceFactory.create()

    with django_capture_on_commit_callbacks(execute=True), first_write_fails(failing), pytest.raises(OperationalError):
        collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]

    invoice.refresh_from_db()
    payments = Payment.objects.filter(invoice=invoice).count()
    check(
        invoice.status == Invoice.Status.OPEN and payments == 0,
        f"Writing the {failing.__name__.lower()} failed half-way through the collection, and it left "
        f"behind: the invoice {invoice.status}, with {payments} payment(s). The invoice and its payment "
        "belong together: write them in one transaction.atomic() block, after the provider's answer.",
    )


def collect_reporting(
    invoice: Invoice,
    provider: FakePaymentProvider,
    bus: FakeEventBus,
    capture: CaptureCallbacks,
    gave_back: list[object] | None = None,
) -> Exception | None:
    """Collect `invoice`, its on-commit callbacks run; what the collection raised, or None (what it returned is
    appended to `gave_back`)."""
    with capture(execute=True):
        try:
            value = collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]
            if gave_back is not None:
                gave_back.append(value)
        except Exception as error:  # the checks say what the error should have been
            return error
    return None


def paid_by_bank_transfer(invoice: Invoice, applied: list[bool] | None = None) -> Callable[[], None]:
    """Another request records the customer's bank transfer, under the invoice's lock; `applied` says
    whether it found the invoice open and marked it paid."""

    def pay() -> None:
        with transaction.atomic():
            current = Invoice.objects.select_for_update().get(pk=invoice.pk)
            is_open = current.status == Invoice.Status.OPEN
            if is_open:
                Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, provider_charge_id="tr_bank")
        if applied is not None:
            applied.append(is_open)

    return pay


CORRECTED_CENTS = 45_000


def amount_corrected(invoice: Invoice) -> Callable[[], None]:
    """Another request corrects the open invoice's amount due (a discount), in a transaction of its own."""

    def correct() -> None:
        Invoice.objects.filter(pk=invoice.pk).update(amount_due_cents=CORRECTED_CENTS)

    return correct


def returned_invoice(value: object, invoice: Invoice) -> tuple[str, ...]:
    """What collect_payment() gave back, against the invoice as the database now holds it: () when it is that
    invoice with the status and the charge stored, else what it was, in words (Contract 1)."""
    stored = Invoice.objects.get(pk=invoice.pk)
    if not isinstance(value, Invoice) or value.pk != stored.pk:
        return (f"{type(value).__name__} {value!r}, not the invoice",)
    if (value.status, value.provider_charge_id) == (stored.status, stored.provider_charge_id):
        return ()
    return (
        f"the invoice {value.status} on {value.provider_charge_id or 'no charge'}, while the database has it "
        f"{stored.status} on {stored.provider_charge_id or 'no charge'}",
    )


RETURNED_ADVICE = (
    "collect_payment() returns the invoice as the collection left it (README, Contract 1): paid, on the charge's "
    "ID, as stored; an object read before the charge still says open."
)


def report_of_the_unapplied_charge(
    invoice: Invoice, provider: FakePaymentProvider, bus: FakeEventBus, raised: Exception | None
) -> tuple[bool, str]:
    """Whether the collection recorded its charge for a refund and said so, and what it did instead."""
    invoice.refresh_from_db()
    charge_id = provider.charges[0].id if provider.charges else "?"
    attempts = list(ChargeAttempt.objects.filter(invoice=invoice).values_list("outcome", "provider_charge_id"))
    payments = list(Payment.objects.filter(invoice=invoice).values_list("provider_charge_id", flat=True))
    right = (
        isinstance(raised, ChargeNotAppliedError)
        and attempts == [(ChargeAttempt.Outcome.UNAPPLIED, charge_id)]
        and payments == []
        and not bus.published
        and invoice.provider_charge_id == "tr_bank"
    )
    done = (
        f"It {'raised ' + type(raised).__name__ if raised else 'returned silently'}; its attempts hold "
        f"(outcome, charge) {attempts}; the invoice's payments are {payments}; it published "
        f"{len(bus.published)} event(s); and the invoice is on {invoice.provider_charge_id or 'no charge'}."
    )
    return right, done


UNAPPLIED_ADVICE = (
    "The invoice keeps the payment that came first, your charge is recorded on its attempt as "
    "unapplied (ChargeAttempt.Outcome.UNAPPLIED, with the charge's id), to be refunded, with no "
    "Payment row and no event, and the collection raises ChargeNotAppliedError: recorded as charged, "
    "it would never be refunded; any other error tells the caller nothing was charged."
)


@pytest.mark.contract(7)
@pytest.mark.guard("DATA-2")
def test_a_charge_that_can_no_longer_be_applied_is_not_lost(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """A charge made for an invoice paid meanwhile is recorded for a refund and reported, not dropped"""
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    provider.meanwhile = paid_by_bank_transfer(invoice)  # the customer paid while the provider answered
    raised = collect_reporting(invoice, provider, bus, django_capture_on_commit_callbacks)
    if provider.meanwhile is not None:
        return  # the provider was called inside a transaction, which the lesson's check rejects

    right, done = report_of_the_unapplied_charge(invoice, provider, bus, raised)
    check(
        right,
        f"While the provider charged the customer, the invoice was paid by bank transfer: the customer "
        f"has now paid twice. {done} {UNAPPLIED_ADVICE}",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.guard("DATA-1")
@pytest.mark.contract(7)
@pytest.mark.django_db(transaction=True)  # the transfer is another worker's: it commits for the collection to see
def test_a_payment_that_commits_just_before_the_invoice_is_written_is_not_overwritten(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """The invoice is re-read under a lock (or written conditionally) after the provider's answer"""
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    after_the_charge = ExitStack()
    late: list[Meanwhile] = []

    def then_paid_by_bank_transfer() -> None:
        # from the provider's answer on, the bank transfer commits at the last moment a real database
        # lets it: just before the collection locks a row, or, if it locks none, before its first write
        late.append(after_the_charge.enter_context(meanwhile(paid_by_bank_transfer(invoice))))

    provider.meanwhile = then_paid_by_bank_transfer
    with after_the_charge:
        raised = collect_reporting(invoice, provider, bus, django_capture_on_commit_callbacks)
    if not late:
        return  # the provider was called inside a transaction, which the lesson's check rejects

    right, done = report_of_the_unapplied_charge(invoice, provider, bus, raised)
    overwritten = invoice.provider_charge_id != "tr_bank"
    check(
        right,
        f"After the provider's answer, the customer's bank transfer was recorded {late[0].when or 'at no point'}. "
        f"{done} "
        + (
            "Your code read the invoice as still open before the transfer committed, and then wrote over "
            "it: the customer has paid twice and nothing says so. Inside the transaction, re-read the "
            "invoice with select_for_update() (or mark it paid with a conditional update and look at its "
            "row count). "
            if overwritten
            else ""
        )
        + UNAPPLIED_ADVICE,
    )


@pytest.mark.contract(8)
@pytest.mark.guard("DATA-2")
def test_a_charge_recorded_meanwhile_by_the_same_attempt_is_not_refunded(
    provider: FakePaymentProvider, bus: FakeEventBus, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    """Two collections of one attempt share its charge: the second finds it recorded, and that is success"""
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    other_worker = another_worker("atomic_external_call.services")
    other_bus = FakeEventBus()

    def collected_by_another_worker() -> None:  # the job ran twice: the same attempt, the same key
        other_worker.collect_payment(invoice.pk, provider=provider, bus=other_bus)

    provider.meanwhile = collected_by_another_worker
    gave_back: list[object] = []
    raised = collect_reporting(invoice, provider, bus, django_capture_on_commit_callbacks, gave_back)
    if provider.meanwhile is not None:
        return  # the provider was called inside a transaction, which the lesson's check rejects

    invoice.refresh_from_db()
    charge_ids = [charge.id for charge in provider.charges]
    attempts = list(ChargeAttempt.objects.filter(invoice=invoice).values_list("outcome", "provider_charge_id"))
    payments = list(Payment.objects.filter(invoice=invoice).values_list("provider_charge_id", flat=True))
    events = [event.name for event in other_bus.published + bus.published]
    check(
        raised is None
        and charge_ids == ["ch_0001"]
        and invoice.provider_charge_id == "ch_0001"
        and attempts == [(ChargeAttempt.Outcome.CHARGED, "ch_0001")]
        and payments == ["ch_0001"]
        and events == ["invoice.paid"],
        f"Two workers collected the same invoice at once, with the same attempt and key: the provider "
        f"made one charge ({charge_ids}) and the other worker recorded it. Yours then found the invoice "
        f"paid by that very charge, which is success, not a charge to refund. It "
        f"{'raised ' + type(raised).__name__ if raised else 'returned'}; the attempts hold {attempts}; the "
        f"payments are {payments}; the events {events}. When the invoice is paid by your own charge, "
        "record the attempt as charged and return the invoice.",
    )
    mismatch = returned_invoice(gave_back[0], invoice) if gave_back else ()
    check(
        not mismatch,
        "Two workers collected the same invoice at once, with the same attempt and key, and the other worker "
        f"recorded the charge; yours found it recorded and gave back {''.join(mismatch)}. {RETURNED_ADVICE}",
    )


@pytest.mark.contract(7, 8)
@pytest.mark.guard("DATA-1")
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ["collection", "transfer"], ids=["collection held", "transfer holds the lock"])
def test_a_bank_transfer_racing_the_collection_is_not_overwritten(
    provider: FakePaymentProvider, bus: FakeEventBus, held: str
) -> None:
    """On PostgreSQL: a bank transfer committed between the collection's re-read and its write, or holding the
    invoice's row lock when the collection wants it"""
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    raised: list[Exception] = []
    transfer_applied: list[bool] = []
    gave_back: list[tuple[str, ...]] = []

    def collection() -> None:
        try:
            value = collect_payment(invoice.pk, provider=provider, bus=bus)  # type: ignore[arg-type]
            gave_back.append(returned_invoice(value, invoice))
        except Exception as error:  # which one is checked below
            raised.append(error)

    if held == "collection":
        result = race(collection, paid_by_bank_transfer(invoice, transfer_applied), hold_at=LOCK_OR_INVOICE_WRITE)
    else:
        # the transfer holds the invoice's row lock, about to write it: the collection must wait for its commit.
        # The job's retry of an attempt in flight: the collection then writes nothing (an attempt's insert would
        # wait for the lock too, through its foreign key) before it charges and re-reads the invoice.
        ChargeAttempt.objects.create(invoice=invoice)
        result = race(paid_by_bank_transfer(invoice, transfer_applied), collection, hold_at=INVOICE_UPDATE)
    check(not result.failures(), f"The race itself failed: {result.failures()}")
    invoice.refresh_from_db()
    charge_ids = [charge.id for charge in provider.charges]
    attempts = list(ChargeAttempt.objects.filter(invoice=invoice).values_list("outcome", "provider_charge_id"))
    payments = list(Payment.objects.filter(invoice=invoice).values_list("provider_charge_id", flat=True))
    error = raised[0] if len(raised) == 1 else None
    charged = (  # the collection came first; the transfer found the invoice paid
        transfer_applied == [False]
        and not raised
        and charge_ids == ["ch_0001"]
        and invoice.provider_charge_id == "ch_0001"
        and attempts == [(ChargeAttempt.Outcome.CHARGED, "ch_0001")]
        and payments == ["ch_0001"]
        and gave_back == [()]
    )
    refunded = (  # the transfer committed while the collection charged: the charge is to be refunded
        transfer_applied == [True]
        and isinstance(error, ChargeNotAppliedError)
        and charge_ids == ["ch_0001"]
        and invoice.provider_charge_id == "tr_bank"
        and attempts == [(ChargeAttempt.Outcome.UNAPPLIED, "ch_0001")]
        and payments == []
    )
    refused = (  # the transfer committed before the collection checked the invoice: nothing charged
        transfer_applied == [True]
        and isinstance(error, InvoiceNotPayableError)
        and charge_ids == []
        and invoice.provider_charge_id == "tr_bank"
        and payments == []
    )
    check(
        charged or refunded or refused,
        "A collection and a bank transfer of the same invoice ran at once, on two connections; "
        + (
            f"the collection was held just before its first row lock or write of the invoice ({result.interleaving}). "
            if held == "collection"
            else "the transfer held the invoice's row lock, about to write it, when the collection of an attempt "
            f"in flight started ({result.interleaving}): the collection must wait for that lock, not give up with "
            "an error (NOWAIT), and then find the invoice paid. "
        )
        + "Exactly one of them may pay it; the other must find it paid, and a charge made meanwhile is "
        f"recorded as unapplied. The invoice is now on {invoice.provider_charge_id or 'no charge'}, the "
        f"transfer {'was recorded' if transfer_applied == [True] else 'found it paid'}, the collection "
        f"{'raised ' + type(raised[0]).__name__ if raised else 'returned'}, its attempts hold {attempts}, "
        f"the payments are {payments}, and the provider made the charges {charge_ids}"
        + (f"; it gave back {''.join(gave_back[0])}. {RETURNED_ADVICE} " if gave_back and gave_back[0] else ". ")
        + "A collection that "
        "re-reads the invoice without a lock writes over a transfer that committed after its read. Re-read "
        "it with select_for_update() inside the "
        "transaction that writes it (or update it on the condition that it is still open).",
    )


class TransferRecalledError(Exception):
    """The bank recalled the transfer while it was being recorded: its transaction rolls back."""


def bank_transfer_rolled_back(invoice: Invoice) -> Callable[[], None]:
    """Another request starts recording a bank transfer under the invoice's row lock, writes the invoice, and
    rolls back: the bank recalled the transfer."""

    def pay_then_roll_back() -> None:
        try:
            with transaction.atomic():
                Invoice.objects.select_for_update().get(pk=invoice.pk)
                Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, provider_charge_id="tr_bank")
                raise TransferRecalledError(invoice.number)
        except TransferRecalledError:
            pass  # nothing of the transfer is left

    return pay_then_roll_back


@pytest.mark.contract(8)
@pytest.mark.guard("DATA-1")
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("holder", ["transfer", "collection"], ids=["transfer rolls back", "same attempt"])
def test_a_collection_waits_for_the_invoice_lock_and_acts_on_what_its_holder_committed(holder: str) -> None:
    """On PostgreSQL: the invoice's row lock is held, about to be written, by a bank transfer that then rolls back,
    or by another collection of the same attempt; yours waits for it, then finds the invoice open, or paid by
    its own charge"""
    invoice = InvoiceFactory.create(amount_due_cents=49_900)
    ChargeAttempt.objects.create(invoice=invoice)  # the job's retry of an attempt in flight: the same key for both
    results: dict[str, Any] = {}  # the provider's record of the keys, whoever calls it
    yours, theirs = FakePaymentProvider(results=results), FakePaymentProvider(results=results)
    bus, other_bus = FakeEventBus(), FakeEventBus()
    raised: list[Exception] = []
    gave_back: list[tuple[str, ...]] = []

    def collection() -> None:
        try:
            value = collect_payment(invoice.pk, provider=yours, bus=bus)  # type: ignore[arg-type]
            gave_back.append(returned_invoice(value, invoice))
        except Exception as error:  # which one is checked below
            raised.append(error)

    if holder == "transfer":
        holding = bank_transfer_rolled_back(invoice)
    else:
        solution = reference("atomic_external_call.services")
        holding = partial(solution.collect_payment, invoice.pk, provider=theirs, bus=other_bus)
    result = race(holding, collection, hold_at=INVOICE_UPDATE)
    check(not result.failures(), f"The race itself failed: {result.failures()}")
    invoice.refresh_from_db()
    charge_ids = [charge.id for charge in results.values() if isinstance(charge, FakeCharge)]
    attempts = list(ChargeAttempt.objects.filter(invoice=invoice).values_list("outcome", "provider_charge_id"))
    payments = list(Payment.objects.filter(invoice=invoice).values_list("provider_charge_id", flat=True))
    events = len(bus.published) + len(other_bus.published)
    paid_by_the_charge = (
        charge_ids == ["ch_0001"]
        and (invoice.status, invoice.provider_charge_id) == (Invoice.Status.PAID, "ch_0001")
        and attempts == [(ChargeAttempt.Outcome.CHARGED, "ch_0001")]
        and payments == ["ch_0001"]
        and events == 1
    )
    returned = not raised and gave_back == [()]
    # another route: yours checks the invoice under its lock before charging, and finds it paid by the other
    refused = holder == "collection" and len(raised) == 1 and isinstance(raised[0], InvoiceNotPayableError)
    refused = refused and not yours.calls
    check(
        paid_by_the_charge and (returned or refused),
        (
            "A bank transfer held the invoice's row lock, about to write it, and then rolled back (the bank recalled "
            "it)"
            if holder == "transfer"
            else "Another collection of the same attempt (the job ran twice) held the invoice's row lock, about to "
            "write it with the charge both collections share"
        )
        + f", when your collection of the attempt in flight wanted that lock ({result.interleaving}). Yours "
        + (f"raised {type(raised[0]).__name__}" if raised else "returned")
        + (f" and gave back {''.join(gave_back[0])}" if gave_back and gave_back[0] else "")
        + f"; the invoice is {invoice.status} on {invoice.provider_charge_id or 'no charge'}, the attempts hold "
        f"{attempts}, the payments are {payments}, the provider made the charges {charge_ids}, {events} event(s) "
        "were published. A locked row is not a paid invoice: wait for the lock (no NOWAIT, no SKIP LOCKED), then "
        "act on what its holder committed: an invoice still open is paid with your charge, an invoice paid by your "
        "own charge means the attempt is charged and the invoice is returned (README, Contract 8).",
    )


# --- Two collections at once, each finding no attempt in flight: of one invoice, or of two ---

#: where a collection is held while the other one starts: its first row lock, or its first write
FIRST_LOCK_OR_WRITE = re.compile(r"\bFOR (NO KEY )?UPDATE\b|^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
RACE_SECONDS = 5.0


class WaitingForTheProvider(BaseException):  # not an error of the code: the other worker is stopped from outside
    """The other worker's call to the provider has not returned yet: the provider has charged, and the worker is
    stopped there, outside any transaction, with what it committed."""


@dataclass(frozen=True)
class AtOnce:
    """What two collections at once left, in neutral forms: yours first, then the other worker's."""

    raised: tuple[str, str]  # "returned", "raised <error>", or "still waiting for the provider"
    statement: tuple[int, ...]
    invoices: tuple[tuple[str, str], ...]
    payments: tuple[tuple[str, ...], ...]
    attempts: tuple[tuple[tuple[str, str], ...], ...]
    events: tuple[int, int]
    inside_transaction: bool = field(default=False, compare=False)  # a call to the provider was made inside one

    def describe(self) -> str:
        charges = ", ".join(f"{cents / 100:.2f}" for cents in self.statement) or "none"
        invoices = "; ".join(
            f"{whose} invoice {status} on {charge or 'no charge'}, payments {list(payments) or 'none'}, attempts "
            f"(outcome, charge) {list(attempts)}"
            for whose, (status, charge), payments, attempts in zip(
                ("your", "the other's"), self.invoices, self.payments, self.attempts, strict=False
            )
        )
        return (
            f"your collection {self.raised[0]}, the other {self.raised[1]}; the customer(s) charged "
            f"{len(self.statement)} time(s) ({charges}); {invoices}; events published: yours {self.events[0]}, "
            f"the other's {self.events[1]}"
        )


def _outcome(error: BaseException | None) -> str:
    if error is None:
        return "returned"
    if isinstance(error, WaitingForTheProvider):
        return "still waiting for the provider"
    return f"raised {type(error).__name__}"


def _left(
    raised: tuple[str, str],
    invoices: list[Invoice],
    results: dict[str, Any],
    buses: tuple[FakeEventBus, ...],
    providers: tuple[FakePaymentProvider, ...],
) -> AtOnce:
    rows = [Invoice.objects.get(pk=invoice.pk) for invoice in dict.fromkeys(invoices)]
    return AtOnce(
        raised=raised,
        statement=tuple(result.amount_cents for result in results.values() if isinstance(result, FakeCharge)),
        invoices=tuple((row.status, row.provider_charge_id) for row in rows),
        payments=tuple(
            tuple(Payment.objects.filter(invoice=row).values_list("provider_charge_id", flat=True)) for row in rows
        ),
        attempts=tuple(
            tuple(sorted(ChargeAttempt.objects.filter(invoice=row).values_list("outcome", "provider_charge_id")))
            for row in rows
        ),
        events=(len(buses[0].published), len(buses[1].published)),
        inside_transaction=any(call.inside_transaction for provider in providers for call in provider.calls),
    )


def collections_at_once(ours: ModuleType, theirs: ModuleType, same_invoice: bool, *, real: bool) -> AtOnce:
    """Your collection and another worker's, at once, each before any attempt of its invoice is in flight.

    Yours is interrupted at its first row lock or write, when it has found no attempt in flight: the other
    one then starts, commits its attempt and calls the provider, which charges. Emulated (`real` False, on
    any database), the other worker is still waiting for the provider's answer when yours goes on. Raced
    (`real`, PostgreSQL), yours goes on on its own connection while the other one's provider call waits
    for it to finish, or to wait for a lock; then the other one gets its answer and finishes too.
    """
    Payment.objects.all().delete()  # the provider's charge IDs start afresh: those of an earlier run go
    first = InvoiceFactory.create(amount_due_cents=49_900)
    second = first if same_invoice else InvoiceFactory.create(amount_due_cents=35_000)
    results: dict[str, Any] = {}  # the provider's record of the keys, whichever worker calls it
    your_provider, their_provider = FakePaymentProvider(results=results), FakePaymentProvider(results=results)
    buses = (FakeEventBus(), FakeEventBus())
    errors: list[BaseException | None] = [None, None]
    if not real:

        def stopped_at_the_provider() -> None:
            raise WaitingForTheProvider

        def their_collection() -> None:
            their_provider.meanwhile = stopped_at_the_provider
            theirs.collect_payment(second.pk, provider=their_provider, bus=buses[1])

        with meanwhile(their_collection) as other:
            try:
                ours.collect_payment(first.pk, provider=your_provider, bus=buses[0])
            except Exception as error:  # compared with what the reference raises
                errors[0] = error
        if not other.when:  # your collection neither locked nor wrote: the other one comes after it
            try:
                their_collection()
            except (Exception, WaitingForTheProvider) as error:
                other.error = error
        errors[1] = other.error
        return _left(
            (_outcome(errors[0]), _outcome(errors[1])), [first, second], results, buses, (your_provider, their_provider)
        )

    at_point, release, done = threading.Event(), threading.Event(), threading.Event()
    your_pid: list[int] = []

    def gate(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not at_point.is_set() and FIRST_LOCK_OR_WRITE.search(sql):
            at_point.set()
            release.wait(RACE_SECONDS)
        return execute(sql, params, many, context)

    def yours_waits_for_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", your_pid)
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock"

    def yours_goes_on() -> None:  # the other worker's provider charged; it answers once yours is through
        release.set()
        deadline = time.monotonic() + RACE_SECONDS
        while not done.wait(0.005) and time.monotonic() < deadline and not yours_waits_for_a_lock():
            pass

    def run(index: int, work: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()
            if index == 0:
                your_pid.append(connection.connection.info.backend_pid)
                with connection.execute_wrapper(gate):
                    work()
            else:
                work()
        except BaseException as error:  # compared with what the reference raises
            errors[index] = error
        finally:
            if index == 0:
                at_point.set()
                done.set()
            connection.close()

    their_provider.meanwhile = yours_goes_on
    workers = [
        threading.Thread(
            target=run, args=(0, partial(ours.collect_payment, first.pk, provider=your_provider, bus=buses[0]))
        ),
        threading.Thread(
            target=run, args=(1, partial(theirs.collect_payment, second.pk, provider=their_provider, bus=buses[1]))
        ),
    ]
    workers[0].start()
    at_point.wait(RACE_SECONDS)
    workers[1].start()
    workers[1].join(RACE_SECONDS * 3)
    release.set()
    workers[0].join(RACE_SECONDS * 3)
    return _left(
        (_outcome(errors[0]), _outcome(errors[1])), [first, second], results, buses, (your_provider, their_provider)
    )


@pytest.mark.threads  # the other worker runs in a thread of its own
@pytest.mark.contract(8)
@pytest.mark.guard("DATA-2")
@pytest.mark.django_db(transaction=True)  # each worker commits for the other to see
@pytest.mark.parametrize("same_invoice", [True, False], ids=["same invoice", "different invoices"])
def test_two_collections_that_found_no_attempt_in_flight_give_the_references_outcome(same_invoice: bool) -> None:
    """Two collections at once, each finding no attempt in flight, on one invoice or two: as the reference does"""
    solution = reference("atomic_external_call.services")
    for real in [False, True] if connection.vendor == "postgresql" else [False]:  # raced on PostgreSQL only
        expected = collections_at_once(solution, solution, same_invoice, real=real)
        yours = collections_at_once(
            another_worker("atomic_external_call.services"),
            another_worker("atomic_external_call.services"),
            same_invoice,
            real=real,
        )
        if yours.inside_transaction:
            return  # the provider was called inside a transaction, which the lesson's check rejects
        check(
            yours == expected,
            f"Two workers collected {'the same invoice' if same_invoice else 'two invoices'} at once. Yours found "
            "no attempt in flight, and was interrupted at its first row lock or write: the other worker then "
            "committed its attempt and called the provider, which charged"
            + (
                ", and is still waiting for its answer."
                if not real
                else "; on two connections of PostgreSQL, yours went on while the other waited for the provider's "
                "answer, which came once yours was through."
            )
            + f"\nExpected (README, Contract 8): {expected.describe()}.\nYours: {yours.describe()}.\n"
            "Both collections of one invoice belong to the attempt in flight and its key, which the database keeps "
            "single (one pending attempt per invoice): when it refuses your attempt because another one is in "
            "flight, look that one up and charge with its key, so that the provider makes one charge; collections of "
            "different invoices each charge their own (DATA-2).",
        )


# --- Provider worlds, generated: charges, declines, timeouts before and after the charge, transfers ---

SCENARIO_SECONDS = 600  # a guard against a loop that never ends: the examples take seconds, more on a busy machine
COLLECTIONS = 6  # the job tries that often, at most, until a collection returns or is refused for good
ANSWERS = ("charges", "declines", "times out before charging", "times out after charging")
CRASH_IN_WORDS = {
    "OperationalError": "writing the payment failed",
    "WorkerKilled": "the worker was killed (a worker timeout) just before the invoice's write, with no `except` run",
}


class ProviderTimeoutError(TimeoutError):
    """The provider did not answer in time: the caller cannot know whether the charge was made."""


@dataclass(frozen=True)
class World:
    """How the provider answers its calls, in order (then it charges), and when a bank transfer pays the invoice."""

    answers: tuple[str, ...]
    transfer_during: int | None  # the call (1, 2, ...) during which the customer's bank transfer is recorded
    killed_during: int | None = None  # the collection (1, 2, ...) whose worker is killed before the invoice's write
    corrected_during: int | None = None  # the call during which the invoice's amount is corrected (to 450.00)

    def describe(self) -> str:
        calls = "; ".join(f"call {n}: it {answer}" for n, answer in enumerate(self.answers, 1))
        transfer = (
            f" While it answers call {self.transfer_during}, the customer's bank transfer pays the invoice."
            if self.transfer_during
            else ""
        )
        killed = (
            f" The worker of collection {self.killed_during} is killed just before it writes the invoice (no "
            "`except` runs; what it committed stays, the rest is rolled back)."
            if self.killed_during
            else ""
        )
        corrected = (
            f" While it answers call {self.corrected_during}, the invoice's amount is corrected to "
            f"{CORRECTED_CENTS / 100:.2f} (the invoice stays open)."
            if self.corrected_during
            else ""
        )
        return (
            f"An open invoice of 499.00. The provider answers {calls or 'every call'}"
            f"{'; then it charges' if self.answers else ''}.{transfer}{corrected}{killed} The job collects the invoice "
            "again "
            f"after each error, up to {COLLECTIONS} times, until a collection returns or is refused."
        )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    answers = tuple(draw(st.lists(st.sampled_from(ANSWERS), max_size=4)))
    # a transfer while the provider answers (not while it times out: see the contract's line on timeouts)
    answered = [n for n, answer in enumerate(answers, 1) if not answer.startswith("times out")] + [len(answers) + 1]
    transfer_during = draw(st.one_of(st.none(), st.sampled_from(answered)))
    # the amount corrected while the provider answers: what was charged is what is recorded (Contract 1). Not
    # while it times out, nor with a worker killed: a retry inside collect_payment() resends the amount it read,
    # the job's next collection the corrected one, and the provider answers either with the charge it made
    corrected_during = draw(st.one_of(st.none(), st.sampled_from(answered)))
    # a worker killed at the invoice's write, in a world without a transfer (nor a correction): a right fix may
    # write an invoice already paid (a conditional update) where the reference writes none, and its retry calls
    # the provider again
    killed_during = None if transfer_during or corrected_during else draw(st.one_of(st.none(), st.integers(1, 3)))
    return World(answers, transfer_during, killed_during, corrected_during)


@dataclass
class ScriptedProvider:
    """The provider of a world: it keeps the first result of each key, a decline too, and answers a repeated
    key with it, except that a call may time out (before or after the charge is made)."""

    world: World
    declined: type[Exception]  # the ChargeDeclinedError of the code graded (the reference has its own)
    transfer: Callable[[], None]
    correct: Callable[[], None]  # another request corrects the invoice's amount
    results: dict[str, FakeCharge | Exception] = field(default_factory=dict)
    calls: list[tuple[str, int, str]] = field(default_factory=list)

    def charge(self, *, customer_ref: str, amount_cents: int, currency: str, idempotency_key: str) -> FakeCharge:
        self.calls.append((customer_ref, amount_cents, currency))
        call = len(self.calls)
        answer = self.world.answers[call - 1] if call <= len(self.world.answers) else "charges"
        if answer == "times out before charging":
            raise ProviderTimeoutError(f"no answer from the provider (key {idempotency_key})")
        if idempotency_key not in self.results:
            self.results[idempotency_key] = (
                self.declined(f"card declined ({idempotency_key})")
                if answer == "declines"
                else FakeCharge(id=f"ch_{len(self.results) + 1:04d}", amount_cents=amount_cents)
            )
        if call == self.world.corrected_during:
            self.correct()
        if call == self.world.transfer_during:
            self.transfer()
        if answer == "times out after charging":
            raise ProviderTimeoutError(f"no answer from the provider (key {idempotency_key})")
        result = self.results[idempotency_key]
        if isinstance(result, Exception):
            raise result
        return result

    def statement(self) -> tuple[int, ...]:
        """What the customer sees on their statement: the amounts charged."""
        return tuple(result.amount_cents for result in self.results.values() if isinstance(result, FakeCharge))


@dataclass(frozen=True)
class Collected:
    """What the contract lists, in neutral forms."""

    statement: tuple[int, ...]
    invoice: tuple[str, str]
    payments: tuple[tuple[str, int], ...]
    attempts: tuple[tuple[str, str], ...]
    events: tuple[tuple[str, tuple[tuple[str, str | int], ...]], ...]
    declines_reported: int
    last: str  # what the job's last collection raised, or "returned"
    calls: tuple[tuple[str, int, str], ...]
    returned: tuple[str, ...]  # what the collection that returned gave back: see returned_invoice()

    def describe(self) -> str:
        charges = ", ".join(f"{cents / 100:.2f}" for cents in self.statement) or "none"
        return (
            f"the customer was charged {len(self.statement)} time(s) ({charges}); the invoice is {self.invoice[0]}"
            f" on {self.invoice[1] or 'no charge'}; payments {list(self.payments) or 'none'}; attempts (outcome, "
            f"charge) {list(self.attempts)}; {len(self.events)} event(s) published; {self.declines_reported} "
            f"decline(s) reported; the last collection {self.last}"
            + (f", giving back {self.returned[0]}" if self.returned else "")
        )


def collect_in(
    world: World, invoice: Invoice, services: ModuleType, declined: type[Exception], capture: CaptureCallbacks
) -> Collected:
    """The job: collect until a collection returns or is refused for good, the provider answering as the world says."""
    bus, kill = FakeEventBus(), WorkerKill(Invoice, "the invoice's write", armed=False)
    provider = ScriptedProvider(
        world, declined, kill.spares(paid_by_bank_transfer(invoice)), kill.spares(amount_corrected(invoice))
    )
    last, declines = "returned", 0
    returned: tuple[str, ...] = ()
    with connection.execute_wrapper(kill):
        for collection in range(1, COLLECTIONS + 1):
            kill.armed = collection == world.killed_during
            with capture(execute=True):
                try:
                    returned = returned_invoice(
                        services.collect_payment(invoice.pk, provider=provider, bus=bus), invoice
                    )
                    last = "returned"
                except (Exception, WorkerKilled) as error:  # compared with what the reference raises
                    last = f"raised {type(error).__name__}"
                    declines += isinstance(error, declined)
                finally:
                    kill.armed = kill.dead = False  # the job's next collection runs in a worker alive
            if last == "returned" or "NotPayable" in last or "NotApplied" in last:
                break
    invoice.refresh_from_db()
    attempts = ChargeAttempt.objects.filter(invoice=invoice).values_list("outcome", "provider_charge_id")
    return Collected(
        statement=provider.statement(),
        invoice=(invoice.status, invoice.provider_charge_id),
        payments=tuple(Payment.objects.filter(invoice=invoice).values_list("provider_charge_id", "amount_cents")),
        attempts=tuple(sorted(attempts)),
        events=tuple((event.name, tuple(sorted(event.payload.items()))) for event in bus.published),
        declines_reported=declines,
        last=last,
        calls=tuple(sorted(set(provider.calls))),
        returned=returned,
    )


@pytest.fixture(scope="module")
def oracle() -> tuple[ModuleType, type[Exception]]:
    """The reference solution on the learner's models (which this kata does not let change), and its decline."""
    services = reference("atomic_external_call.services")
    clients = importlib.import_module(services.__name__.rpartition(".")[0] + ".clients")
    return services, clients.ChargeDeclinedError


@pytest.mark.lesson("DATA-2")
@pytest.mark.contract(1, 5, 6, 7)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(world=worlds())
# the provider charges, and the worker is killed just before the invoice's write; the job collects again
@example(world=World(answers=(), transfer_during=None, killed_during=1))
# the provider times out after charging: the next collection must send the same key
@example(world=World(answers=("times out after charging",), transfer_during=None))
# the invoice's amount is corrected while the provider charges: the payment and the event say what was charged
@example(world=World(answers=(), transfer_during=None, corrected_during=1))
def test_any_world_of_the_provider_gives_the_references_outcome(
    world: World,
    oracle: tuple[ModuleType, type[Exception]],
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    """Whatever the provider does (declines, timeouts before or after charging), the reference's outcome"""
    reference_services, reference_decline = oracle
    with rolled_back():
        invoice = InvoiceFactory.create(amount_due_cents=49_900, number="INV-A")
        with rolled_back():
            expected = collect_in(
                world, invoice, reference_services, reference_decline, django_capture_on_commit_callbacks
            )
        with rolled_back():
            yours = collect_in(
                world, invoice, services_graded(), ChargeDeclinedError, django_capture_on_commit_callbacks
            )
    check(
        yours == expected,
        f"{world.describe()}\nExpected (README, Contract): {expected.describe()}.\nYours: {yours.describe()}.\n"
        "A timeout is not a decline: the provider may have charged, so the attempt stays pending and its "
        "retry sends the same idempotency key (the provider then returns the charge it made, once); only "
        "a decline ends an attempt, and the next collection is a new attempt with a new key; an attempt is "
        "marked charged only in the transaction that writes the invoice (a killed worker runs no `except` that "
        "would undo an earlier commit). Re-read the "
        "invoice under a lock after the provider's answer, and record a charge that can no longer be "
        "applied for a refund (DATA-2, DATA-5). The payment and the event record the charge's amount, what the "
        "provider answered, even when the invoice's amount changed meanwhile (Contract 1). " + RETURNED_ADVICE,
    )


def services_graded() -> ModuleType:
    """The learner's services, as imported by the checks above (another_worker() takes the module out of
    sys.modules, so it is not looked up there)."""
    graded = ModuleType("atomic_external_call.services (graded)")
    graded.collect_payment = collect_payment  # type: ignore[attr-defined]
    return graded
