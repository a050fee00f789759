"""Grader of `at_least_once_consumer`: repeated and late messages leave the newest state, one email per change."""

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.db import transaction

from at_least_once_consumer.clients import SubscriptionUpdated
from at_least_once_consumer.models import Subscription
from dojo.grading import check, unexpected_edits
from dojo.manifest import kata_by_slug
from dojo.races import another_worker, interleaved

from .factories import SubscriptionFactory
from .fakes import FakeEmailClient, FakeQueue

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


def test_an_update_brings_the_new_state_and_emails_the_change_of_plan(
    queue: FakeQueue, emails: FakeEmailClient, drain: Drain
) -> None:
    subscription = SubscriptionFactory(plan=TEAM, seats=10)
    upgrade = change(subscription, 1, plan=BUSINESS, seats=25)

    queue.deliver(upgrade)
    drain(queue, emails)

    assert state(subscription) == (BUSINESS, 25, ACTIVE)
    assert [(mail.to, mail.subject) for mail in emails.sent] == [
        (subscription.organization.billing_email, "Your plan is now Business")
    ]
    assert queue.deleted == [upgrade]


def test_changes_that_keep_the_plan_send_no_email(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    acme = SubscriptionFactory(plan=TEAM, seats=10)
    globex = SubscriptionFactory(plan=BUSINESS, seats=40)

    queue.deliver(
        change(acme, 1, plan=TEAM, seats=12),
        change(globex, 1, plan=BUSINESS, seats=40, status=PAST_DUE),  # each subscription counts its own versions
        change(acme, 2, plan=TEAM, seats=15),
    )
    drain(queue, emails)

    assert state(acme) == (TEAM, 15, ACTIVE)
    assert state(globex) == (BUSINESS, 40, PAST_DUE)
    assert emails.sent == []


def test_every_delivery_is_deleted_from_the_queue(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory(plan=STARTER, seats=3)
    first, second = change(subscription, 1, plan=TEAM, seats=5), change(subscription, 2, plan=TEAM, seats=8)
    deliveries = [first, second, second, first]

    queue.deliver(*deliveries)
    drain(queue, emails)

    assert queue.deleted == deliveries, (
        "Every message must be deleted from the queue once handled, even one that changes nothing: a "
        "message that is not deleted is delivered again, and again."
    )


@pytest.mark.lesson("DATA-3")
def test_a_redelivered_message_is_applied_once(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory(plan=TEAM, seats=10)
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


@pytest.mark.lesson("DATA-4")
def test_an_older_message_never_overwrites_a_newer_state(
    queue: FakeQueue, emails: FakeEmailClient, drain: Drain
) -> None:
    subscription = SubscriptionFactory(plan=TEAM, seats=10)
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


@pytest.mark.lesson("DATA-3")
def test_the_plan_email_goes_out_once_per_real_change(queue: FakeQueue, emails: FakeEmailClient, drain: Drain) -> None:
    subscription = SubscriptionFactory(plan=TEAM, seats=10)
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
@pytest.mark.django_db(transaction=True)
def test_an_older_message_loses_to_a_newer_one_applied_meanwhile() -> None:
    """An older message never overwrites a newer one that another worker applies meanwhile"""
    subscription = SubscriptionFactory(plan=TEAM, seats=10)
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


@pytest.mark.guard("DATA-2")
def test_the_plan_email_is_sent_after_the_commit(
    queue: FakeQueue, emails: FakeEmailClient, committed: Committed
) -> None:
    """The plan email is sent after the commit, also when the consumer runs in a caller's transaction"""
    alone, nested = SubscriptionFactory(plan=TEAM), SubscriptionFactory(plan=TEAM)

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


@pytest.mark.guard("DATA-3")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["at_least_once_consumer"].files
    edited = unexpected_edits("at_least_once_consumer", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset at_least_once_consumer` restores the whole kata, after a backup).",
    )
