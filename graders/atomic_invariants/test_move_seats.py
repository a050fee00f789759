"""Grader of `atomic_invariants`: a seat move commits whole or not at all, and no move overwrites another."""

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from atomic_invariants.models import Organization, Subscription
from atomic_invariants.services import NotEnoughSeatsError, SeatMoveError, move_seats
from dojo.grading import check, unexpected_edits
from dojo.manifest import kata_by_slug

from .factories import OrganizationFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

TABLE = Subscription._meta.db_table
FOR_UPDATE = re.compile(r"\s+FOR (NO KEY )?UPDATE\b.*\Z", re.DOTALL)
LOCK_FEATURES = (
    "has_select_for_update",
    "has_select_for_update_nowait",
    "has_select_for_update_skip_locked",
    "has_select_for_update_of",
    "has_select_for_no_key_update",
)
Execute = Callable[[str, Any, bool, dict[str, Any]], Any]


def support_and_sales(support_seats: int, sales_seats: int) -> tuple[Subscription, Subscription]:
    organization = OrganizationFactory()
    return (
        SubscriptionFactory(organization=organization, name="Support", seats=support_seats),
        SubscriptionFactory(organization=organization, name="Sales", seats=sales_seats),
    )


def seats(*subscriptions: Subscription) -> tuple[int, ...]:
    return tuple(Subscription.objects.get(pk=subscription.pk).seats for subscription in subscriptions)


def writes_a_subscription(sql: str) -> bool:
    return sql.lstrip().upper().startswith("UPDATE") and TABLE in sql


@contextmanager
def connection_drops_before_the_second_write() -> Iterator[list[str]]:
    """The database connection drops just before the second UPDATE of a subscription, once."""
    writes: list[str] = []

    def wrapper(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if writes_a_subscription(sql):
            writes.append(sql)
            if len(writes) == 2:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield writes


class AnotherMove:
    """Another admin's move of `count` seats between the same subscriptions, committed in the middle of ours.

    It commits at the last moment a real database lets it: just before our move takes its first row
    lock, or, if it takes none, just before its first write. SQLite has no row locks, so there Django
    is told to write FOR UPDATE anyway (the grader sees which reads lock) and the clause is removed
    before the statement runs.
    """

    MARK = " (another admin moved seats)"

    def __init__(self, source: Subscription, target: Subscription, count: int) -> None:
        self.source, self.target, self.count = source, target, count
        self.when = ""

    def commit(self) -> None:
        Subscription.objects.filter(pk=self.source.pk).update(seats=F("seats") - self.count)
        Subscription.objects.filter(pk=self.target.pk).update(seats=F("seats") + self.count)
        Organization.objects.filter(pk=self.source.organization_id).update(name=Concat("name", Value(self.MARK)))

    def keep_if_rolled_back(self) -> None:
        """On one connection, the other move ran inside our move's transaction; a real one outlives its rollback."""
        if self.when and not Organization.objects.filter(name__endswith=self.MARK).exists():
            self.commit()

    @contextmanager
    def during_ours(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        emulate_locks = not connection.features.has_select_for_update
        if emulate_locks:
            for feature in LOCK_FEATURES:
                monkeypatch.setattr(connection.features, feature, True)

        def wrapper(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
            locks = TABLE in sql and FOR_UPDATE.search(sql) is not None
            if (locks or writes_a_subscription(sql)) and not self.when:
                self.when = "just before your move locked a row" if locks else "just before your move's first write"
                self.commit()
            if locks and emulate_locks:
                sql = FOR_UPDATE.sub("", sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            yield


def test_a_move_takes_seats_from_one_subscription_and_gives_them_to_the_other() -> None:
    support, sales = support_and_sales(50, 10)

    move_seats(source_id=support.pk, target_id=sales.pk, seats=40)
    assert seats(support, sales) == (10, 50)

    move_seats(source_id=sales.pk, target_id=support.pk, seats=50)  # every seat, the other way
    assert seats(support, sales) == (60, 0)


def test_moving_more_seats_than_the_source_has_is_refused() -> None:
    support, sales = support_and_sales(5, 10)

    with pytest.raises(NotEnoughSeatsError):
        move_seats(source_id=support.pk, target_id=sales.pk, seats=6)

    assert seats(support, sales) == (5, 10), "A refused move must change nothing."


def test_a_move_that_makes_no_sense_is_refused() -> None:
    support, sales = support_and_sales(5, 10)
    elsewhere = SubscriptionFactory(seats=5)  # another organization's subscription

    for source, target, count in [(support, elsewhere, 1), (support, support, 1), (support, sales, 0)]:
        with pytest.raises(SeatMoveError):
            move_seats(source_id=source.pk, target_id=target.pk, seats=count)

    assert seats(support, sales, elsewhere) == (5, 10, 5), "A refused move must change nothing."


@pytest.mark.lesson("DATA-1")
def test_a_failure_between_the_two_writes_changes_nothing() -> None:
    support, sales = support_and_sales(50, 10)

    with connection_drops_before_the_second_write() as writes, suppress(OperationalError):
        move_seats(source_id=support.pk, target_id=sales.pk, seats=40)
    # Outside a transaction of its own, a real move's first write is committed (autocommit); here
    # the test's own transaction stands in for that, and Django marked it for rollback: unmark it.
    transaction.set_rollback(False)

    support_seats, sales_seats = seats(support, sales)
    one_statement = len(writes) < 2  # nothing to interrupt: a single statement is atomic by itself
    check(
        (support_seats, sales_seats) == (50, 10) or (one_statement and (support_seats, sales_seats) == (10, 50)),
        f"The database connection dropped between the two writes of a move of 40 seats from Support (50 "
        f"seats) to Sales (10). Afterwards Support has {support_seats} seats and Sales {sales_seats}: "
        f"{support_seats + sales_seats} seats where the organization pays for 60. The first write stayed and "
        "the second never happened. Put the reads and both writes in one `with transaction.atomic():` "
        "block: a failure anywhere inside it rolls back every write, so a retry starts from a whole state.",
    )


@pytest.mark.lesson("DATA-1")
def test_a_move_racing_another_move_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    support, sales = support_and_sales(10, 2)
    other = AnotherMove(support, sales, 5)

    with other.during_ours(monkeypatch):
        try:
            move_seats(source_id=support.pk, target_id=sales.pk, seats=6)
            outcome = "your move succeeded too"
        except NotEnoughSeatsError:
            outcome = "your move was refused"
        except DatabaseError as error:
            outcome = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"

    when = other.when or "during yours"
    check(
        outcome.startswith("your move"),
        f"While your move of 6 seats from Support (10 seats) to Sales (2) was running, another admin moved "
        f"5 seats between the same subscriptions, and that move committed {when}. Support was then down "
        f"to 5 seats, so your move had to be refused with NotEnoughSeatsError; instead the database "
        f"refused one of its writes ({outcome}). Your move checked the seats it had read before the other "
        "move committed. Inside the transaction, read both rows with select_for_update(): the other move "
        "then waits for yours to commit (or yours for it) and your check sees the seats really left.",
    )
    other.keep_if_rolled_back()
    support_seats, sales_seats = seats(support, sales)
    check(
        outcome == "your move was refused" and (support_seats, sales_seats) == (5, 7),
        f"While your move of 6 seats from Support (10 seats) to Sales (2) was running, another admin moved "
        f"5 seats between the same subscriptions, and that move committed {when}. Support was then down "
        "to 5 seats, so your move had to be refused with NotEnoughSeatsError, leaving Support 5 and Sales 7. "
        f"Instead {outcome}, and the subscriptions hold Support {support_seats} and Sales {sales_seats}: "
        "your move wrote seat counts it had read before the other move committed, and so overwrote it. "
        "Inside the transaction, read both rows with select_for_update(): the other move then waits for "
        "yours to commit (or yours for it), and your move reads the seats that are really left.",
    )


@pytest.mark.lesson("DATA-1")
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_never_lose_or_invent_seats() -> None:
    support, sales = support_and_sales(9, 9)
    moves = [(support, sales, 6), (sales, support, 4), (support, sales, 6), (sales, support, 4)]
    start = threading.Barrier(len(moves))
    succeeded: list[tuple[Subscription, int]] = []
    errors: list[str] = []

    def slow_writes(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if writes_a_subscription(sql):
            time.sleep(0.03)  # a busy database: time for the other admins' moves to run in between
        return execute(sql, params, many, context)

    def admin(source: Subscription, target: Subscription, count: int) -> None:
        try:
            with connection.execute_wrapper(slow_writes):
                start.wait(timeout=5)
                move_seats(source_id=source.pk, target_id=target.pk, seats=count)
            succeeded.append((source, count))
        except NotEnoughSeatsError:
            pass  # a move that no longer fits may be refused
        except Exception as error:  # reported below, with what it means
            errors.append(f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")
        finally:
            connection.close()

    threads = [threading.Thread(target=admin, args=move) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=8)

    check(
        not errors,
        f"Four admins moved seats between Support and Sales at the same moment, two in each direction, and "
        f"{len(errors)} of the moves failed: {sorted(set(errors))}. 'deadlock detected' means two moves each "
        "held a row the other was waiting for: lock both rows at the start of the transaction with "
        "select_for_update(), in the same order whatever the direction of the move (for example by primary "
        "key). A violated check constraint means a subscription would have gone below zero: the move "
        "checked seat counts that another move changed before it wrote.",
    )
    given = sum(count if source == support else -count for source, count in succeeded)
    expected = (9 - given, 9 + given)
    actual = seats(support, sales)
    check(
        actual == expected,
        f"Four admins moved seats between Support (9 seats) and Sales (9) at the same moment: 6 and 6 seats "
        f"to Sales, 4 and 4 to Support. {len(succeeded)} moves reported success, so Support should now hold "
        f"{expected[0]} and Sales {expected[1]}; they hold {actual[0]} and {actual[1]} ({sum(actual)} seats "
        "where the organization pays for 18). A move that reads the seat counts while another is between "
        "its read and its write overwrites that move. Read both rows with select_for_update() inside the "
        "transaction, so that concurrent moves on the same subscriptions run one after the other.",
    )


@pytest.mark.guard("DATA-1")
def test_only_the_files_to_edit_were_changed() -> None:
    """Only the files this kata asks you to edit were changed"""
    files = kata_by_slug()["atomic_invariants"].files
    edited = unexpected_edits("atomic_invariants", files)
    check(
        not edited,
        f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped (edit only "
        f"{', '.join(files)}; a new module of your own is fine). The grader grades the files as they are, "
        "and the lesson is in the files to edit: put the others back as shipped (`git diff` shows what "
        "you changed; `uv run dojo reset atomic_invariants` restores the whole kata, after a backup).",
    )
