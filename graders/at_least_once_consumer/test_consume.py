"""Grader of `at_least_once_consumer`: repeated and late messages leave the newest state, one email per change."""

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from at_least_once_consumer.clients import SubscriptionUpdated
from at_least_once_consumer.models import Subscription
from dojo import paths
from dojo.fakes import FakeEmailClient
from dojo.grading import WorkerKilled, check, kata_dir
from dojo.races import another_worker, interleaved, race
from dojo.scenarios import reference, rolled_back, scenarios

from .factories import SubscriptionFactory
from .fakes import FakeQueue

pytestmark = pytest.mark.django_db

Committed = Callable[[], AbstractContextManager[object]]
SERVICES = "at_least_once_consumer.services"
Drain = Callable[[FakeQueue, FakeEmailClient], None]

STARTER, TEAM, BUSINESS = Subscription.Plan.STARTER, Subscription.Plan.TEAM, Subscription.Plan.BUSINESS
ACTIVE, PAST_DUE = Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE


def change(
    subscription: Subscription, version: int, *, plan: str, seats: int, status: str = ACTIVE
) -> SubscriptionUpdated:
    """The provider's message for a subscription's `version`-th change; each copy has the same message ID."""
    return SubscriptionUpdated(
        message_id=f"msg_{subscription.provider_ref}_{version}",
        subscription_ref=subscription.provider_ref,
        version=version,
        plan=plan,
        seats=seats,
        status=status,
    )


@pytest.fixture
def drain(committed: Committed) -> Callable[[FakeQueue, FakeEmailClient], None]:
    """Consume until the queue is empty. Each batch goes to another worker, so nothing kept in memory
    is shared, and each batch's on_commit callbacks (its emails) run as its transactions commit."""

    def consume_all(queue: FakeQueue, emails: FakeEmailClient) -> None:
        while True:
            with committed():
                if not another_worker(SERVICES).consume(queue, emails=emails):
                    return

    return consume_all


def state(subscription: Subscription) -> tuple[str, int, str]:
    subscription.refresh_from_db()
    return subscription.plan, subscription.seats, subscription.status


def shown(plan_seats_status: tuple[str, int, str]) -> str:
    plan, seats, status = plan_seats_status
    return f"{Subscription.Plan(plan).label}, {seats} seats, {status}"


def plans_emailed(emails: FakeEmailClient) -> list[str]:
    return [mail.subject.removeprefix("Your plan is now ") for mail in emails.sent]


@pytest.mark.contract(1, 3, 4)
def test_an_update_brings_the_new_state_and_emails_the_change_of_plan(
    queue: FakeQueue, emails: FakeEmailClient, drain: Drain
) -> None:
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=25)

    queue.deliver(upgrade)
    drain(queue, emails)

    assert state(subscription) == (BUSINESS, 25, ACTIVE)
    assert [(mail.to, mail.subject) for mail in emails.sent] == [
        (subscription.organization.billing_email, "Your plan is now Business")
    ]
    assert queue.deleted == [upgrade]


@pytest.mark.contract(1, 3)
def test_changes_that_keep_the_plan_send_no_email(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    acme = SubscriptionFactory.create(plan=TEAM, seats=10)
    globex = SubscriptionFactory.create(plan=BUSINESS, seats=40)

    queue.deliver(
        change(acme, 1, plan=TEAM, seats=12),
        change(globex, 1, plan=BUSINESS, seats=40, status=PAST_DUE),  # each subscription counts its own versions
        change(acme, 2, plan=TEAM, seats=15),
    )
    drain(queue, emails)

    assert state(acme) == (TEAM, 15, ACTIVE)
    assert state(globex) == (BUSINESS, 40, PAST_DUE)
    assert emails.sent == []


@pytest.mark.contract(4)
def test_every_delivery_is_deleted_from_the_queue(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory.create(plan=STARTER, seats=3)
    first, second = change(subscription, 1, plan=TEAM, seats=5), change(subscription, 2, plan=TEAM, seats=8)
    deliveries = [first, second, second, first]

    queue.deliver(*deliveries)
    drain(queue, emails)

    assert queue.deleted == deliveries, (
        "Every message must be deleted from the queue once handled, even one that changes nothing: a "
        "message that is not deleted is delivered again, and again."
    )


@pytest.mark.contract(2, 3, 8)
@pytest.mark.lesson("DATA-3")
def test_a_redelivered_message_is_applied_once(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=10)
    downgrade = change(subscription, 2, plan=TEAM, seats=10)

    queue.deliver(upgrade, downgrade, upgrade)  # the upgrade's delete was lost: SQS delivers it again
    drain(queue, emails)

    now = state(subscription)
    check(
        now == (TEAM, 10, ACTIVE) and plans_emailed(emails) == ["Business", "Team"],
        "The queue delivered the upgrade to Business (version 1), the downgrade to Team (version 2), then "
        "the upgrade again: its delete had been lost, so SQS delivered it a second time. The subscription "
        "must end on Team with two emails sent (Business, then Team); it ended as "
        f"{shown(now)}, and the organization got {len(emails.sent)} emails: {plans_emailed(emails)}. A "
        "message delivered again must change nothing and send nothing. Keep, in the database, what tells "
        "you a message was already applied (the version applied last, or the IDs of applied messages) "
        "and ignore the message when it was.",
    )


@pytest.mark.contract(2, 3)
@pytest.mark.lesson("DATA-4")
def test_an_older_message_never_overwrites_a_newer_state(
    queue: FakeQueue, emails: FakeEmailClient, drain: Drain
) -> None:
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=12)
    more_seats = change(subscription, 2, plan=BUSINESS, seats=20)

    queue.deliver(more_seats, upgrade)  # the upgrade was delayed and arrives after the newer change
    drain(queue, emails)

    now = state(subscription)
    check(
        now == (BUSINESS, 20, ACTIVE),
        "The queue delivered version 2 of the subscription (Business, 20 seats) before version 1 "
        "(Business, 12 seats), which had been delayed; SQS does not keep messages in order. The "
        f"subscription must end in the newer state, Business with 20 seats; it ended as {shown(now)}: the "
        "older message overwrote the newer state. Store the version of the last message applied, and "
        "ignore a message whose version is not newer. Remembering message IDs is not enough: this "
        "late message was never seen before.",
    )
    check(
        plans_emailed(emails) == ["Business"],
        "The plan changed once (Team to Business), so the organization must get exactly one email; it got "
        f"{plans_emailed(emails)}.",
    )


@pytest.mark.contract(2, 3)
@pytest.mark.lesson("DATA-3")
def test_the_plan_email_goes_out_once_per_real_change(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    v1 = change(subscription, 1, plan=BUSINESS, seats=10)  # upgrade
    v2 = change(subscription, 2, plan=BUSINESS, seats=14)  # more seats
    v3 = change(subscription, 3, plan=TEAM, seats=14)  # downgrade
    v4 = change(subscription, 4, plan=TEAM, seats=14, status=PAST_DUE)  # a payment failed
    deliveries = [v1, v3, v2, v1, v4, v3, v2]

    queue.deliver(*deliveries)
    drain(queue, emails)

    order = ", ".join(f"v{message.version}" for message in deliveries)
    now = state(subscription)
    check(
        now == (TEAM, 14, PAST_DUE),
        f"The queue delivered the subscription's four changes as {order}. The subscription must end in the "
        f"state of the newest, v4 (Team, 14 seats, past_due); it ended as {shown(now)}: an older message "
        "overwrote a newer state. Store the version of the last message applied, and ignore a message "
        "whose version is not newer.",
    )
    check(
        plans_emailed(emails) == ["Business", "Team"],
        f"The queue delivered the subscription's four changes as {order}. The plan really changed twice "
        "(Team to Business at v1, back to Team at v3), so the organization must get two emails, Business "
        f"then Team; it got {len(emails.sent)}: {plans_emailed(emails)}. Decide on the email only for a "
        "message you actually apply, by comparing the plan before and after applying it; a redelivered "
        "or overtaken message must send nothing.",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.lesson("DATA-4")
@pytest.mark.contract(8)
@pytest.mark.django_db(transaction=True)
def test_an_older_message_loses_to_a_newer_one_applied_meanwhile() -> None:
    """An older message never overwrites a newer one that another worker applies meanwhile"""
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=12)
    more_seats = change(subscription, 2, plan=BUSINESS, seats=20)
    emails = FakeEmailClient()
    ours, theirs = another_worker(SERVICES), another_worker(SERVICES)

    outcome = interleaved(
        lambda: ours.apply_subscription_updated(upgrade, emails=emails),
        lambda: theirs.apply_subscription_updated(more_seats, emails=emails),
    )

    now = state(subscription)
    check(
        now == (BUSINESS, 20, ACTIVE) and plans_emailed(emails) == ["Business"],
        "Two workers received messages of the same subscription at the same moment: yours the upgrade "
        "(version 1, Business, 12 seats), the other the newer change (version 2, Business, 20 seats), which "
        f"it committed {outcome.interleaving}. The subscription must end as Business with 20 seats and one "
        f"email; it ended as {shown(now)}, with emails {plans_emailed(emails)}. Your code decided on a "
        "version it had read before the other worker committed. Read the subscription with "
        "select_for_update() inside the transaction, before comparing versions (or make the write itself "
        "conditional on the version), so that the second worker waits and then sees the newer version. "
        f"Errors seen: {outcome.failures() or 'none'}",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.guard("DATA-4")
@pytest.mark.contract(8)
@pytest.mark.django_db(transaction=True)
def test_a_message_of_another_subscription_applied_meanwhile_is_kept() -> None:
    """A message of another subscription, applied by another worker meanwhile, is kept, and so is yours"""
    acme, globex = SubscriptionFactory.create(plan=TEAM, seats=10), SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade, downgrade = change(acme, 1, plan=BUSINESS, seats=12), change(globex, 1, plan=STARTER, seats=3)
    emails = FakeEmailClient()
    ours, theirs = another_worker(SERVICES), another_worker(SERVICES)

    outcome = interleaved(
        lambda: ours.apply_subscription_updated(upgrade, emails=emails),
        lambda: theirs.apply_subscription_updated(downgrade, emails=emails),
    )

    now = (state(acme), state(globex))
    check(
        now == ((BUSINESS, 12, ACTIVE), (STARTER, 3, ACTIVE))
        and sorted(plans_emailed(emails)) == ["Business", "Starter"],
        "Two workers received messages of two subscriptions at the same moment: yours Acme's upgrade to "
        f"Business, the other Globex's downgrade to Starter, which it committed {outcome.interleaving}. Both "
        f"must be applied, with one email each; they ended as {shown(now[0])} and {shown(now[1])}, with "
        f"emails {plans_emailed(emails)}. Lock and compare only the subscription the message is about. "
        f"Errors seen: {outcome.failures() or 'none'}",
    )


@pytest.mark.threads  # another worker commits from a thread of its own
@pytest.mark.guard("DATA-4")
@pytest.mark.contract(3, 8)
@pytest.mark.django_db(transaction=True)
def test_a_newer_message_after_an_older_one_applied_meanwhile_emails_no_change_twice() -> None:
    """The email compares the plan under the row lock: an older message applied meanwhile changed it already"""
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=12)
    more_seats = change(subscription, 2, plan=BUSINESS, seats=20)
    emails = FakeEmailClient()
    ours, theirs = another_worker(SERVICES), another_worker(SERVICES)

    outcome = interleaved(
        lambda: ours.apply_subscription_updated(more_seats, emails=emails),
        lambda: theirs.apply_subscription_updated(upgrade, emails=emails),
    )

    now = state(subscription)
    check(
        now == (BUSINESS, 20, ACTIVE) and plans_emailed(emails) == ["Business"],
        "Two workers received messages of the same subscription (on Team) at the same moment: yours version 2 "
        "(Business, 20 seats), the other version 1, the upgrade to Business, which it committed "
        f"{outcome.interleaving}. The plan changed once, so one email goes out; the subscription ended as "
        f"{shown(now)}, with emails {plans_emailed(emails)}. Compare the plan you replace with the one you "
        "read under the row lock, inside the transaction, not with one read before it. "
        f"Errors seen: {outcome.failures() or 'none'}",
    )


@pytest.mark.threads  # another worker holds the row lock from a thread of its own
@pytest.mark.guard("DATA-4")
@pytest.mark.contract(1, 4, 8)
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_newer_message_waits_for_another_worker_holding_the_row() -> None:
    """On PostgreSQL: a newer message that arrives while another worker holds the row is applied, not dropped"""
    subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=12)
    downgrade = change(subscription, 2, plan=TEAM, seats=8)
    queue, emails = Sqs(per_receive=1), FakeEmailClient()
    queue.deliver(downgrade)
    theirs, ours = another_worker(SERVICES), another_worker(SERVICES)

    # the other worker is held right before its first write, with the row lock it took by then; your
    # consumer runs until it finishes or PostgreSQL reports it waiting for that lock, then the other goes on
    outcome = race(
        lambda: theirs.apply_subscription_updated(upgrade, emails=emails),
        lambda: ours.consume(queue, emails=emails),
    )
    for _receive in range(MAX_RECEIVES):  # a message your consumer did not delete comes again, to a new worker
        if not (queue.deliveries or queue.in_flight):
            break
        try:
            another_worker(SERVICES).consume(queue, emails=emails)
        except Exception:  # noqa: S112 - the worker died; SQS hands its messages out again
            continue

    now = state(subscription)
    acknowledged = [message.message_id for message in queue.acknowledged]
    check(
        now == (TEAM, 8, ACTIVE)
        and acknowledged == [downgrade.message_id]
        and sorted(plans_emailed(emails)) == ["Business", "Team"],
        "Another worker was applying version 1 of a subscription (the upgrade from Team to Business) and held "
        "its row lock when your consumer received version 2 (the downgrade to Team, 8 seats): "
        f"{outcome.interleaving.replace('the second', 'your consumer')}. The subscription must end on Team "
        f"with 8 seats, {downgrade.message_id} deleted once, and two emails, Business and Team (in either "
        "order: each worker sends its own after its commit); it ended as "
        f"{shown(now)}, with {acknowledged or 'nothing'} deleted and emails {plans_emailed(emails)}. A row "
        "locked by another worker does not mean that your message is handled: the other worker may be "
        "applying an older one. Skipping the locked row (skip_locked=True) and deleting the message loses "
        "the newer state for good. Let select_for_update() wait for the lock (or fail, and leave the message "
        "on the queue to come again), then compare versions: delete a message only once it is applied or "
        f"found not newer. Errors seen: {outcome.failures() or 'none'}",
    )


@pytest.mark.contract(7)
@pytest.mark.guard("DATA-2")
def test_the_plan_email_is_sent_after_the_commit(
    queue: FakeQueue, emails: FakeEmailClient, committed: Committed
) -> None:
    """The plan email is sent after the commit, also when the consumer runs in a caller's transaction"""
    alone, nested = SubscriptionFactory.create(plan=TEAM), SubscriptionFactory.create(plan=TEAM)

    with committed():
        queue.deliver(change(alone, 1, plan=BUSINESS, seats=10))
        another_worker(SERVICES).consume(queue, emails=emails)
    with committed(), transaction.atomic():  # a caller (a job runner) that opened a transaction first
        queue.deliver(change(nested, 1, plan=BUSINESS, seats=10))
        another_worker(SERVICES).consume(queue, emails=emails)

    inside = [mail.to for mail in emails.sent if mail.inside_transaction]
    check(
        len(emails.sent) == 2 and not inside,
        f"The plan email went out while a database transaction was still open (to {inside or 'nobody'}; "
        f"{len(emails.sent)} of 2 emails sent). Until the commit, the change can still roll back, and the email "
        "provider's answer holds the subscription's row lock. Register the email with transaction.on_commit() "
        "inside the block, as the consumer did before your change.",
    )


# --- Queue histories, generated: repeats, late copies, batches, failures mid-handler, lost deletes ---

SCENARIO_SECONDS = 600  # a guard against a loop that never ends: the examples take seconds, more on a busy machine
MAX_RECEIVES = 60  # a consumer that never empties the queue is told so, not left to loop
PLANS = (STARTER, TEAM, BUSINESS)
STATUSES = (ACTIVE, PAST_DUE, Subscription.Status.CANCELED)
SUBSCRIPTION_WRITE = re.compile(rf'^\s*UPDATE\s+"?{Subscription._meta.db_table}"?\s', re.IGNORECASE)


class DeleteLostError(ConnectionError):
    """The queue's answer to a delete was lost: the message stays on the queue, and comes again."""


@dataclass(frozen=True)
class QueueHistory:
    """Subscriptions (their plan before), the provider's changes of each, and the queue's deliveries.

    `fails_at`: at the n-th write of a subscription row, once, the database drops the connection right
    after it (`failure` "drops"), or the worker is killed just before it ("killed"); either way the
    worker sends no further query, and the next batch goes to a new one. `delete_lost_at`: the n-th
    delete is lost, once. A message not deleted comes again.
    """

    plans_before: tuple[str, ...]
    changes: tuple[tuple[tuple[str, int, str], ...], ...]  # per subscription, change 1, 2, ...: plan, seats, status
    deliveries: tuple[tuple[int, int], ...]  # (subscription, its change: 1 for the first, 2 for the second…)
    per_receive: int
    fails_at: int | None
    delete_lost_at: int | None
    versions: tuple[tuple[int, ...], ...] = ()  # per subscription, the provider's version of each change; 1, 2… if none
    failure: str = "drops"  # at `fails_at`: "drops" (the connection, right after the write) or "killed" (before it)
    caller: str = ""  # the first batch runs in a caller's transaction that "commits" or "rolls back"; "": none

    def version(self, subscription: int, change: int) -> int:
        """The version the provider gave the subscription's `change`-th change (counted from 1)."""
        return self.versions[subscription][change - 1] if self.versions else change

    def describe(self) -> str:
        lines = [
            f"Subscriptions: {', '.join(f'sub_{i + 1} on {plan}' for i, plan in enumerate(self.plans_before))}. "
            "The provider's changes:"
        ]
        for index, changes in enumerate(self.changes):
            for change, (plan, seats, status) in enumerate(changes, 1):
                lines.append(f"  sub_{index + 1} v{self.version(index, change)}: {plan}, {seats} seats, {status}")
        order = ", ".join(f"sub_{s + 1} v{self.version(s, c)}" for s, c in self.deliveries)
        lines.append(f"The queue delivers {order}, at most {self.per_receive} per receive.")
        if self.fails_at and self.failure == "killed":
            lines.append(
                f"The worker is killed just before the {_nth(self.fails_at)} write of a subscription, once: "
                "no `except` of its code reaches the database, and the next batch goes to a new worker."
            )
        elif self.fails_at:
            lines.append(
                f"The database connection drops right after the {_nth(self.fails_at)} write of a subscription, "
                "once: that worker's further queries fail, and the next batch goes to a new worker."
            )
        if self.delete_lost_at:
            lines.append(f"The {_nth(self.delete_lost_at)} delete is lost, once (the message comes again).")
        if self.caller:
            lines.append(
                f"The first batch runs inside a caller's transaction (a job runner's), which then {self.caller}."
            )
        return "\n".join(lines)


#: a version whose successor has one digit more: compared as text, the newer version sorts first ("10" < "9")
BOUNDARY_VERSIONS = (9, 99, 999, 9_999)
#: the largest version the README promises (Contract 1), and versions at the edges of the narrower integer columns
#: on the way (a smallint holds up to 32,767, an unsigned one 65,535), where a version no longer fits
LARGEST_VERSION = 2**31 - 1
WIDE_VERSIONS = (32_766, 32_767, 65_534, 65_535, 16_777_215, LARGEST_VERSION - 3_000)


def _nth(number: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")


@st.composite
def queue_histories(draw: st.DrawFn) -> QueueHistory:
    count = draw(st.integers(1, 2))
    plans_before = tuple(draw(st.sampled_from(PLANS)) for _ in range(count))
    change = st.tuples(st.sampled_from(PLANS), st.sampled_from((5, 12)), st.sampled_from(STATUSES))
    changes = tuple(tuple(draw(st.lists(change, min_size=1, max_size=4))) for _ in range(count))
    message = st.integers(0, count - 1).flatmap(lambda s: st.tuples(st.just(s), st.integers(1, len(changes[s]))))
    # the provider's versions grow without bound (README, Contract 1): from 1 to beyond 10,000, across the
    # places where a version gains a digit (9 then 10, 99 then 100), where a comparison as text goes wrong
    first = st.sampled_from(BOUNDARY_VERSIONS) | st.integers(1, 7_000) | st.sampled_from(WIDE_VERSIONS)
    step = st.just(1) | st.integers(1, 1_000)
    versions = []
    for subscription_changes in changes:
        steps = draw(st.lists(step, min_size=len(subscription_changes) - 1, max_size=len(subscription_changes) - 1))
        versions.append(tuple(itertools.accumulate(steps, initial=draw(first))))
    return QueueHistory(
        plans_before=plans_before,
        changes=changes,
        deliveries=tuple(draw(st.lists(message, min_size=1, max_size=8))),
        per_receive=draw(st.integers(1, 3)),
        fails_at=draw(st.one_of(st.none(), st.integers(1, 4))),
        delete_lost_at=draw(st.one_of(st.none(), st.integers(1, 4))),
        versions=tuple(versions),
        failure=draw(st.sampled_from(("drops", "killed"))),
        caller=draw(st.sampled_from(("", "", "commits", "rolls back"))),
    )


@dataclass
class Sqs(FakeQueue):
    """The queue as SQS behaves: a message received but not deleted comes again, after the others."""

    delete_lost_at: int | None = None
    in_flight: list[Any] = field(default_factory=list)
    acknowledged: list[Any] = field(default_factory=list)  # every delete asked for, lost or not

    def receive(self, *, max_messages: int) -> list[Any]:
        self.deliveries.extend(self.in_flight)  # their visibility timeout is over: they come again
        self.in_flight = super().receive(max_messages=max_messages)
        return list(self.in_flight)

    def delete(self, message: Any) -> None:
        self.acknowledged.append(message)
        if len(self.acknowledged) == self.delete_lost_at:
            raise DeleteLostError(f"the delete of {message.message_id} timed out")
        if message in self.in_flight:
            self.in_flight.remove(message)
        super().delete(message)


@dataclass(frozen=True)
class QueueOutcome:
    """What the contract lists: the subscriptions' states, the emails, the messages acknowledged, in order."""

    states: tuple[tuple[str, int, str], ...]
    emails: tuple[tuple[str, str, str], ...]
    acknowledged: tuple[str, ...]  # the deletes asked for, in order, the lost one included
    left: tuple[str, ...]  # messages still on the queue when the consumer gave up

    def describe(self) -> str:
        states = ", ".join(
            f"sub_{i + 1} {plan}, {seats} seats, {status}" for i, (plan, seats, status) in enumerate(self.states)
        )
        emails = ", ".join(f"{to.split('@')[0]}: {subject}" for to, subject, _ in self.emails)
        return f"{states}; {len(self.emails)} email(s){': ' + emails if emails else ''}"


#: what the database does on its own for a worker that died: it rolls back the open transaction
TRANSACTION_END = re.compile(r"^\s*(SAVEPOINT|ROLLBACK|RELEASE)\b", re.IGNORECASE)


@dataclass
class DatabaseFailure:
    """An execute wrapper: at the `at`-th write of a subscription row, once, the connection drops right after
    the write, or the worker is killed just before it. The worker then sends no further query (its code's
    `except` that would undo an earlier commit never reaches the database) until `new_worker()`."""

    at: int | None
    kind: str
    writes: int = 0
    dead: bool = False

    def new_worker(self) -> None:
        self.dead = False

    # Django's execute-wrapper protocol: untyped parameters and results, passed through as they are
    def __call__(
        self, execute: Callable[..., object], sql: str, params: object, many: bool, context: dict[str, object]
    ) -> object:
        if self.dead and not TRANSACTION_END.match(sql):
            if self.kind == "killed":
                raise WorkerKilled("the worker was killed: a dead process sends no query")
            raise OperationalError("the connection is closed")
        if not SUBSCRIPTION_WRITE.match(sql):
            return execute(sql, params, many, context)
        self.writes += 1
        if self.writes != self.at:
            return execute(sql, params, many, context)
        self.dead = True
        if self.kind == "killed":
            raise WorkerKilled("the worker was killed (a worker timeout) just before a write of a subscription")
        execute(sql, params, many, context)
        raise OperationalError("server closed the connection unexpectedly")


def messages_of(history: QueueHistory, subscriptions: list[Subscription]) -> list[SubscriptionUpdated]:
    return [
        SubscriptionUpdated(
            message_id=f"msg_{index + 1}_{history.version(index, change)}",
            subscription_ref=subscriptions[index].provider_ref,
            version=history.version(index, change),
            plan=history.changes[index][change - 1][0],
            seats=history.changes[index][change - 1][1],
            status=history.changes[index][change - 1][2],
        )
        for index, change in history.deliveries
    ]


def outcome_of(subscriptions: list[Subscription], emails: FakeEmailClient, queue: Sqs) -> QueueOutcome:
    return QueueOutcome(
        states=tuple(state(subscription) for subscription in subscriptions),
        emails=tuple((mail.to, mail.subject, mail.body) for mail in emails.sent),
        acknowledged=tuple(message.message_id for message in queue.acknowledged),
        left=tuple(message.message_id for message in [*queue.deliveries, *queue.in_flight]),
    )


class CallerRolledBackError(Exception):
    """The caller's transaction around a batch rolls back (its own work failed after the consumer returned)."""


@contextmanager
def a_callers_transaction(kind: str) -> Iterator[None]:
    """A caller's transaction around the consumer, which then "commits" or "rolls back"; none for ""."""
    if not kind:
        yield
        return
    try:
        with transaction.atomic():
            yield
            if kind == "rolls back":
                raise CallerRolledBackError
    except CallerRolledBackError:
        pass


def consume_history(
    history: QueueHistory, subscriptions: list[Subscription], worker: Callable[[], ModuleType], committed: Committed
) -> QueueOutcome:
    """Consume until the queue is empty, each batch by `worker()`; a batch that raised is a worker that died.

    Each commit runs its on_commit() callbacks at once (`committed`), so that a worker killed, or whose
    connection drops, between two of its transactions leaves what the first committed, as a real one does.
    """
    queue, emails = Sqs(per_receive=history.per_receive, delete_lost_at=history.delete_lost_at), FakeEmailClient()
    queue.deliver(*messages_of(history, subscriptions))
    failure = DatabaseFailure(history.fails_at, history.failure)
    with connection.execute_wrapper(failure):
        for receive in range(MAX_RECEIVES):
            if not (queue.deliveries or queue.in_flight):
                break
            failure.new_worker()
            try:
                with committed(), a_callers_transaction(history.caller if receive == 0 else ""):
                    worker().consume(queue, emails=emails)
            except (Exception, WorkerKilled):  # the worker died; SQS hands its messages out again
                # what it committed stays; the grader's block, which stands in for those commits, goes on
                transaction.set_rollback(False)
    return outcome_of(subscriptions, emails, queue)


def applied_in_order(
    history: QueueHistory,
    subscriptions: list[Subscription],
    acknowledged: tuple[str, ...],
    oracle: ModuleType | None,
    committed: Committed,
) -> tuple[tuple[tuple[str, int, str], ...], tuple[tuple[str, str, str], ...]]:
    """The states and emails that the messages acknowledged bring, applied in the order acknowledged.

    A consumer deletes a message once it has handled it: what it asked to delete, in that order, is
    what it says it applied (a delete that was lost included). The reference's
    `apply_subscription_updated()` applies them where it runs on the models graded; the contract's
    rule (a version not newer changes nothing; an email when the plan changes) stands in for it on
    other models.
    """
    by_id = {message.message_id: message for message in messages_of(history, subscriptions)}
    emails = FakeEmailClient()
    if oracle is not None:
        with rolled_back():
            for message_id in acknowledged:
                with committed():
                    oracle.apply_subscription_updated(by_id[message_id], emails=emails)
            states = tuple(state(subscription) for subscription in subscriptions)
        return states, tuple((mail.to, mail.subject, mail.body) for mail in emails.sent)
    # as the history starts: each subscription on its plan before, 10 seats, active, no version applied
    current: dict[str, tuple[str, int, str, int]] = {
        s.provider_ref: (plan, 10, ACTIVE, 0) for s, plan in zip(subscriptions, history.plans_before, strict=True)
    }
    organizations = {s.provider_ref: s.organization for s in subscriptions}
    sent = []
    for message_id in acknowledged:
        message = by_id[message_id]
        plan, _seats, _status, version = current[message.subscription_ref]
        if message.version <= version:
            continue
        current[message.subscription_ref] = (message.plan, message.seats, message.status, message.version)
        if message.plan != plan:
            label, organization = Subscription.Plan(message.plan).label, organizations[message.subscription_ref]
            body = f"{organization.name} is now on the {label} plan."
            sent.append((organization.billing_email, f"Your plan is now {label}", body))
    return tuple(current[s.provider_ref][:3] for s in subscriptions), tuple(sent)


@pytest.fixture(scope="module")
def oracle() -> ModuleType | None:
    """The reference solution, where it runs on the models graded: they are the reference's own.

    A right fix may keep the version elsewhere (a table of its own): the reference cannot run on
    those models, and the contract's rule stands in for it (`applied_in_order`); on the reference's
    models, the scenario check proves that the two agree.
    """
    shipped = (paths.SOLUTIONS / "at_least_once_consumer" / "models.py").read_bytes()
    if (kata_dir("at_least_once_consumer") / "models.py").read_bytes() != shipped:
        return None
    return reference(SERVICES)


@pytest.mark.lesson("DATA-3")
@pytest.mark.contract(1, 2, 3, 4, 5, 6, 7, 8)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(history=queue_histories())
# versions 9 then 10, and 99 then 100, delivered in order: each brings a change of plan
@example(
    history=QueueHistory(
        plans_before=(STARTER, STARTER),
        changes=(((TEAM, 5, ACTIVE), (BUSINESS, 12, ACTIVE)), ((TEAM, 5, ACTIVE), (BUSINESS, 12, PAST_DUE))),
        deliveries=((0, 1), (0, 2), (1, 1), (1, 2)),
        per_receive=1,
        fails_at=None,
        delete_lost_at=None,
        versions=((9, 10), (99, 100)),
    )
)
# versions across the integer widths: past the largest smallint, and up to the largest the README promises
@example(
    history=QueueHistory(
        plans_before=(STARTER, STARTER),
        changes=(((TEAM, 5, ACTIVE), (BUSINESS, 12, ACTIVE)), ((TEAM, 5, ACTIVE), (BUSINESS, 12, PAST_DUE))),
        deliveries=((0, 1), (0, 2), (1, 1), (1, 2), (0, 1)),
        per_receive=1,
        fails_at=None,
        delete_lost_at=None,
        versions=((32_767, 32_768), (LARGEST_VERSION - 1, LARGEST_VERSION)),
    )
)
# the only message is handled inside a caller's transaction that rolls back: it must stay on the queue, and come again
@example(
    history=QueueHistory(
        plans_before=(STARTER,),
        changes=(((TEAM, 5, ACTIVE),),),
        deliveries=((0, 1),),
        per_receive=1,
        fails_at=None,
        delete_lost_at=None,
        caller="rolls back",
    )
)
# the only message's handling fails once: it must stay on the queue, come again, and be applied
@example(
    history=QueueHistory(
        plans_before=(STARTER,),
        changes=(((TEAM, 5, ACTIVE),),),
        deliveries=((0, 1),),
        per_receive=1,
        fails_at=1,
        delete_lost_at=None,
    )
)
# the worker is killed at the second write of the only message, and then the connection drops there:
# handled in one transaction, the message has one write, and nothing fails; handled in two, the second fails
@example(
    history=QueueHistory(
        plans_before=(STARTER,),
        changes=(((TEAM, 5, ACTIVE),),),
        deliveries=((0, 1),),
        per_receive=1,
        fails_at=2,
        delete_lost_at=None,
        failure="killed",
    )
)
@example(
    history=QueueHistory(
        plans_before=(STARTER,),
        changes=(((TEAM, 5, ACTIVE),),),
        deliveries=((0, 1),),
        per_receive=1,
        fails_at=2,
        delete_lost_at=None,
    )
)
def test_any_history_of_the_queue_ends_as_the_messages_acknowledged_bring(
    history: QueueHistory, committed: Committed, oracle: ModuleType | None
) -> None:
    """Any history of the queue (repeats, late copies, failures, lost deletes) ends as the reference says"""
    with rolled_back():
        subscriptions = [
            SubscriptionFactory.create(plan=plan, seats=10, provider_ref=f"sub_{index + 1}")
            for index, plan in enumerate(history.plans_before)
        ]
        with rolled_back():
            yours = consume_history(history, subscriptions, partial(another_worker, SERVICES), committed)
        if oracle is not None:  # the grader's own proof: the contract's rule is the reference's behaviour
            with rolled_back():
                theirs = consume_history(history, subscriptions, lambda: oracle, committed)
            by_rule = applied_in_order(history, subscriptions, theirs.acknowledged, None, committed)
            check(by_rule == (theirs.states, theirs.emails), f"Grader bug, please report it: {theirs}, {by_rule}.")
        states, emails = applied_in_order(history, subscriptions, yours.acknowledged, oracle, committed)
    expected = QueueOutcome(states, emails, yours.acknowledged, ())
    delivered = {message.message_id for message in messages_of(history, subscriptions)}
    check(
        yours == expected and delivered <= set(yours.acknowledged),
        f"{history.describe()}\nYour consumer deleted {', '.join(yours.acknowledged) or 'nothing'}"
        f"{' and left ' + ', '.join(yours.left) + ' on the queue' if yours.left else ''}. Applied once each, in "
        f"that order, those messages give: {expected.describe()}.\nYours gave: {yours.describe()}.\n"
        "Delete a message only once it is applied and committed (or found not newer): a message whose "
        "handling failed stays on the queue and comes again, and must not be lost; inside a caller's "
        "transaction, the change commits only with it, so the delete waits for that commit too (README, "
        "Contract 4 and 7). Apply it in one "
        "transaction: a worker that dies between two of its commits cannot undo the first. A message that comes "
        "again, or late, changes nothing and sends nothing: compare its version with the one applied, as "
        "numbers (version 10 is newer than 9), in the database, under the row lock, in a column that holds every "
        f"version up to {LARGEST_VERSION:,}; email only a real change "
        "of plan, on commit (DATA-3, DATA-4).",
    )


@dataclass(frozen=True)
class Redelivery:
    """One subscription's changes, the first `applied` of them consumed in order, then copies of those again."""

    changes: tuple[tuple[str, int, str], ...]  # change 1, 2, ...: plan, seats, status
    versions: tuple[int, ...]  # the provider's version of each change
    applied: int
    again: tuple[int, ...]  # the changes (counted from 1, none beyond `applied`) delivered again, in this order
    per_receive: int

    def describe(self) -> str:
        lines = ["A subscription on Team, 10 seats, active. The provider's changes:"]
        for version, (plan, seats, status) in zip(self.versions, self.changes, strict=True):
            lines.append(f"  v{version}: {plan}, {seats} seats, {status}")
        applied = ", ".join(f"v{version}" for version in self.versions[: self.applied])
        again = ", ".join(f"v{self.versions[change - 1]}" for change in self.again)
        lines.append(
            f"The queue delivers {applied}, each consumed; then it delivers {again} again, at most "
            f"{self.per_receive} per receive."
        )
        return "\n".join(lines)


@st.composite
def redeliveries(draw: st.DrawFn) -> Redelivery:
    change = st.tuples(st.sampled_from(PLANS), st.sampled_from((5, 12)), st.sampled_from(STATUSES))
    changes = tuple(draw(st.lists(change, min_size=1, max_size=3)))
    first = draw(st.sampled_from(BOUNDARY_VERSIONS) | st.integers(1, 7_000) | st.sampled_from(WIDE_VERSIONS))
    steps = draw(st.lists(st.just(1) | st.integers(1, 1_000), min_size=len(changes) - 1, max_size=len(changes) - 1))
    applied = draw(st.integers(1, len(changes)))
    again = draw(st.lists(st.integers(1, applied), min_size=1, max_size=4))
    return Redelivery(
        changes=changes,
        versions=tuple(itertools.accumulate(steps, initial=first)),
        applied=applied,
        again=(applied, *again) if draw(st.booleans()) else tuple(again),
        per_receive=draw(st.integers(1, 3)),
    )


def row(subscription: Subscription) -> dict[str, object]:
    """Every column of the subscription's row as stored, its updated_at and any field of the learner's included."""
    return dict(Subscription.objects.filter(pk=subscription.pk).values().get())


@pytest.mark.lesson("DATA-3")
@pytest.mark.contract(2, 6)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(redelivery=redeliveries())
# the message applied last comes again: it is no newer than the version applied, and must not be written again
@example(
    redelivery=Redelivery(
        changes=((BUSINESS, 12, ACTIVE), (TEAM, 5, ACTIVE)), versions=(4, 5), applied=2, again=(2,), per_receive=1
    )
)
def test_a_redelivery_changes_no_column_of_the_row(
    redelivery: Redelivery, queue: FakeQueue, emails: FakeEmailClient, drain: Drain
) -> None:
    """Generated redeliveries of messages already applied leave every column of the row as it was"""
    start = timezone.now()
    ticks = itertools.count(1)
    with rolled_back(), mock.patch.object(timezone, "now", side_effect=lambda: start + timedelta(seconds=next(ticks))):
        subscription = SubscriptionFactory.create(plan=TEAM, seats=10)
        messages = [
            change(subscription, version, plan=plan, seats=seats, status=status)
            for version, (plan, seats, status) in zip(redelivery.versions, redelivery.changes, strict=True)
        ]
        queue.deliveries, queue.deleted, queue.per_receive = [], [], redelivery.per_receive
        for message in messages[: redelivery.applied]:
            queue.deliver(message)
            drain(queue, emails)
        before, sent = row(subscription), len(emails.sent)
        copies = [messages[change - 1] for change in redelivery.again]
        queue.deleted = []
        queue.deliver(*copies)
        drain(queue, emails)
        after = row(subscription)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    check(
        not changed and len(emails.sent) == sent and queue.deleted == copies,
        f"{redelivery.describe()}\nThe copies delivered again "
        + (
            "changed the row: " + ", ".join(f"{name} {old!r} -> {new!r}" for name, (old, new) in changed.items())
            if changed
            else "left the row as it was"
        )
        + f", sent {len(emails.sent) - sent} email(s), and your consumer deleted "
        f"{', '.join(message.message_id for message in queue.deleted) or 'nothing'} of them.\n"
        "README item 2: a message delivered again changes nothing and sends nothing: not the plan, seats or "
        "status, and not the row's updated_at either (a write of the same values is still a write: it moves "
        "updated_at and takes the row for nothing). A version equal to the one applied is a redelivery: "
        "compare with 'not newer', not 'older'. Each copy is still deleted (item 4) (DATA-3).",
    )
