"""Grader of `atomic_invariants`: a seat move commits whole or not at all, and no move overwrites another."""

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from hypothesis import example, given
from hypothesis import strategies as st

from atomic_invariants.models import Organization, Subscription
from atomic_invariants.services import NotEnoughSeatsError, SeatMoveError, move_seats
from dojo.grading import check
from dojo.races import race
from dojo.scenarios import reference, rolled_back, scenarios

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
    organization = OrganizationFactory.create()
    return (
        SubscriptionFactory.create(organization=organization, name="Support", seats=support_seats),
        SubscriptionFactory.create(organization=organization, name="Sales", seats=sales_seats),
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
    lock (of any table), or, if it takes none, just before its first write. SQLite has no row locks, so
    there Django is told to write FOR UPDATE anyway (the grader sees which reads lock) and the clause is
    removed before the statement runs, from every statement, whatever table it locks.
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
            locks = FOR_UPDATE.search(sql) is not None  # a lock on any row: a subscription, its organization…
            if (locks or writes_a_subscription(sql)) and not self.when:
                self.when = "just before your move locked a row" if locks else "just before your move's first write"
                self.commit()
            if locks and emulate_locks:
                sql = FOR_UPDATE.sub("", sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            yield


@pytest.mark.contract(1)
def test_a_move_takes_seats_from_one_subscription_and_gives_them_to_the_other() -> None:
    support, sales = support_and_sales(50, 10)

    move_seats(source_id=support.pk, target_id=sales.pk, seats=40)
    assert seats(support, sales) == (10, 50)

    move_seats(source_id=sales.pk, target_id=support.pk, seats=50)  # every seat, the other way
    assert seats(support, sales) == (60, 0)


@pytest.mark.contract(2)
def test_moving_more_seats_than_the_source_has_is_refused() -> None:
    support, sales = support_and_sales(5, 10)

    with pytest.raises(NotEnoughSeatsError):
        move_seats(source_id=support.pk, target_id=sales.pk, seats=6)

    assert seats(support, sales) == (5, 10), "A refused move must change nothing."


@pytest.mark.contract(2)
def test_a_move_that_makes_no_sense_is_refused() -> None:
    support, sales = support_and_sales(5, 10)
    elsewhere = SubscriptionFactory.create(seats=5)  # another organization's subscription

    for source, target, count in [(support, elsewhere, 1), (support, support, 1), (support, sales, 0)]:
        with pytest.raises(SeatMoveError):
            move_seats(source_id=source.pk, target_id=target.pk, seats=count)

    assert seats(support, sales, elsewhere) == (5, 10, 5), "A refused move must change nothing."


@pytest.mark.contract(3)
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


@pytest.mark.contract(4)
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


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-1")
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_never_lose_or_invent_seats() -> None:
    support, sales = support_and_sales(9, 9)
    moves = [(support, sales, 6), (sales, support, 4), (support, sales, 6), (sales, support, 4)]
    start = threading.Barrier(len(moves))
    first_locks = threading.Condition()
    holders: list[int] = []  # the admins that hold their first row lock, in the order they took it
    succeeded: list[tuple[Subscription, int]] = []
    errors: list[str] = []

    def after_first_lock() -> None:
        """Wait, up to 2 s, until another admin holds a first lock too: the moment two opposite moves collide.

        Moves that lock in one order all wait in the database for the same first row, so no one else
        gets there and the wait runs out; moves that lock in their own direction each hold a row now.
        """
        with first_locks:
            holders.append(threading.get_ident())
            first_locks.notify_all()
            first_locks.wait_for(lambda: len(holders) >= 2, timeout=2)

    def busy_database(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        locked_before = threading.get_ident() in holders
        result = execute(sql, params, many, context)
        if FOR_UPDATE.search(sql) is not None and not locked_before:
            after_first_lock()
        if writes_a_subscription(sql):
            time.sleep(0.03)  # a busy database: time for the other admins' moves to run in between
        return result

    def admin(source: Subscription, target: Subscription, count: int) -> None:
        try:
            with connection.execute_wrapper(busy_database):
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
        "checked seat counts that another move changed before it wrote. 'Subscription matching query does not "
        "exist', or a lock that could not be obtained, for subscriptions that both exist means the move did not "
        "wait for the lock another move held (skip_locked, nowait): it must wait for the row, then read it.",
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


#: three subscriptions of one organization, in primary-key order, and every move between two of them
TEAMS = ("Support", "Sales", "Ops")
EVERY_MOVE = [(source, target) for source in range(3) for target in range(3) if source != target]


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-1")
@pytest.mark.postgresql
@pytest.mark.threads  # each admin's move runs in a thread of its own, on a connection of its own
@pytest.mark.django_db(transaction=True)
def test_two_moves_that_share_a_subscription_both_count_in_every_pairing() -> None:
    """Every pair of moves among three subscriptions (a shared source, a shared target, one's target the
    other's source, opposite moves), raced with the worst interleaving: both count"""
    organization = OrganizationFactory.create()
    teams = [SubscriptionFactory.create(organization=organization, name=name, seats=10) for name in TEAMS]
    wrong: list[str] = []
    for first, second in [(a, b) for a in EVERY_MOVE for b in EVERY_MOVE]:
        Subscription.objects.filter(pk__in=[team.pk for team in teams]).update(seats=10)
        moves = ((first, 3), (second, 4))
        result = race(
            *(
                partial(move_seats, source_id=teams[source].pk, target_id=teams[target].pk, seats=count)
                for (source, target), count in moves
            )
        )
        expected = [10, 10, 10]
        for (source, target), count in moves:
            expected[source] -= count
            expected[target] += count
        actual = list(seats(*teams))
        if result.failures() or actual != expected:
            told = " and ".join(f"{count} seats from {TEAMS[s]} to {TEAMS[t]}" for (s, t), count in moves)
            errors = f", and raised {result.failures()}" if result.failures() else ""
            wrong.append(
                f"{told}: the seats should be {dict(zip(TEAMS, expected, strict=True))}; they are "
                f"{dict(zip(TEAMS, actual, strict=True))}{errors}"
            )
    check(
        not wrong,
        "Three subscriptions of one organization, Support, Sales and Ops (in primary-key order), hold 10 seats "
        "each. Two admins made two moves at once that share a subscription (every pairing: the same source, "
        "the same target, one's target the other's source, opposite moves); the first admin's move was held "
        f"just before its first write until the other's finished or waited for a lock. {len(wrong)} pairings "
        "went wrong:\n  " + "\n  ".join(wrong[:6]) + "\nEvery move fits, so both must count, without an error "
        "(README, Contract 4). A move that checks or writes a subscription it has not locked, or has locked "
        "only one of its two rows (a lock query that stops at the first row, LIMIT 1, locks one), overwrites the "
        "other's write; one that locks in its own order may deadlock. Lock both rows, in primary-key order, "
        "before any check (DATA-1).",
    )


@pytest.mark.contract(5)
@pytest.mark.guard("DATA-1")
def test_a_move_in_another_organization_meanwhile_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A move between other subscriptions, committed during yours, is kept, and so is yours"""
    support, sales = support_and_sales(10, 2)
    north, south = support_and_sales(8, 8)  # another customer's subscriptions
    other = AnotherMove(north, south, 3)

    with other.during_ours(monkeypatch):
        move_seats(source_id=support.pk, target_id=sales.pk, seats=6)
    other.keep_if_rolled_back()

    now = seats(support, sales, north, south)
    check(
        now == (4, 8, 5, 11),
        f"While your move of 6 seats from Support (10) to Sales (2) ran, another admin moved 3 seats between "
        f"two subscriptions of another customer (8 and 8), and that move committed {other.when or 'during yours'}. "
        f"Both moves must count: (4, 8) and (5, 11); the four subscriptions hold {now}. Lock and write only the "
        "two subscriptions of your move.",
    )


# --- Moves, generated: every branch of the checks, and a connection that drops between the two writes ---

SCENARIO_SECONDS = 600  # a guard against a loop that never ends: the examples take seconds, more on a busy machine


@dataclass(frozen=True)
class Move:
    source: int  # an index into the scenario's subscriptions
    target: int
    seats: int
    drops: bool  # the connection drops just before the move's second write


@dataclass(frozen=True)
class Moves:
    """Subscriptions (organization, seats) and the moves made between them, one after the other."""

    subscriptions: tuple[tuple[str, int], ...]
    moves: tuple[Move, ...]

    def describe(self) -> str:
        lines = [
            "Subscriptions: "
            + ", ".join(
                f"#{i + 1} ({organization}, {count} seats)"
                for i, (organization, count) in enumerate(self.subscriptions)
            )
            + ". Moves, one after the other:"
        ]
        for step, move in enumerate(self.moves, 1):
            drops = " The connection drops just before its second write." if move.drops else ""
            lines.append(f"  {step}. {move.seats} seat(s) from #{move.source + 1} to #{move.target + 1}.{drops}")
        return "\n".join(lines)


@st.composite
def histories_of_moves(draw: st.DrawFn) -> Moves:
    subscriptions = tuple(
        draw(
            st.lists(st.tuples(st.sampled_from(("Acme", "Acme", "Globex")), st.integers(0, 12)), min_size=2, max_size=4)
        )
    )
    index = st.integers(0, len(subscriptions) - 1)
    count = st.one_of(st.integers(-1, 13), st.sampled_from([count for _, count in subscriptions]))
    moves = draw(
        st.lists(st.builds(Move, index, index, count, st.sampled_from((False, False, True))), min_size=1, max_size=4)
    )
    return Moves(subscriptions, tuple(moves))


#: the time every subscription of a generated history was created and last changed, long before its moves
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
Columns = tuple[tuple[object, ...], ...]


def columns(*rows: Subscription) -> Columns:
    """Every column of each subscription, as a move may change it: its organization by name (primary keys
    differ from one run to the next), and whether `updated_at` moved on from LONG_AGO."""
    fields = [
        field.attname for field in Subscription._meta.concrete_fields if field.attname not in ("id", "updated_at")
    ]
    names = dict(Organization.objects.values_list("pk", "name"))
    found = {row.pk: row for row in Subscription.objects.filter(pk__in=[row.pk for row in rows])}
    after: list[tuple[object, ...]] = []
    for row in rows:
        now = found.get(row.pk)
        if now is None:
            after.append(("deleted",))
            continue
        values = [names.get(now.organization_id) if f == "organization_id" else getattr(now, f) for f in fields]
        after.append((*values, "updated_at changed" if now.updated_at != LONG_AGO else "updated_at as before"))
    return tuple(after)


def run_moves(
    history: Moves, move: Callable[..., None]
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[object, ...], ...]]:
    """What each move raised (the error's class name, or "moved"), the seats of every subscription after,
    and every column of each (`columns`)."""
    organizations = {
        name: OrganizationFactory.create(name=name) for name in sorted({name for name, _ in history.subscriptions})
    }
    rows = [
        SubscriptionFactory.create(organization=organizations[name], name=f"#{i + 1}", seats=count)
        for i, (name, count) in enumerate(history.subscriptions)
    ]
    Subscription.objects.filter(pk__in=[row.pk for row in rows]).update(created_at=LONG_AGO, updated_at=LONG_AGO)
    results = []
    for step in history.moves:
        drops = connection_drops_before_the_second_write() if step.drops else nullcontext()
        try:
            with drops:
                move(source_id=rows[step.source].pk, target_id=rows[step.target].pk, seats=step.seats)
            results.append("moved")
        except Exception as error:  # compared by class name with what the reference raises
            results.append(type(error).__name__)
        transaction.set_rollback(False)  # a real move's committed writes stay; the test's block stands in
    return tuple(results), seats(*rows), columns(*rows)


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    """The reference solution, on the learner's models (this kata does not let them change)."""
    return reference("atomic_invariants.services")


@pytest.mark.lesson("DATA-1")
@pytest.mark.contract(1, 2, 3)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(history=histories_of_moves())
def test_any_history_of_moves_gives_the_references_seats(history: Moves, oracle: ModuleType) -> None:
    """Any history of moves (refused ones, every seat, a dropped connection) gives the reference's answers and seats"""
    with rolled_back():
        theirs = run_moves(history, oracle.move_seats)
    with rolled_back():
        yours = run_moves(history, move_seats)
    # A move refused after its first write (a check made by a conditional update) meets the dropped
    # connection that the reference, refusing before any write, never meets: either answer is right then.
    answers = tuple(
        their
        if step.drops and mine == "OperationalError" and their in ("SeatMoveError", "NotEnoughSeatsError")
        else mine
        for step, mine, their in zip(history.moves, yours[0], theirs[0], strict=True)
    )
    check(
        (answers, yours[1]) == theirs[:2],
        f"{history.describe()}\nExpected (README, Contract): answers {list(theirs[0])}, seats {theirs[1]}.\n"
        f"Yours: answers {list(yours[0])}, seats {yours[1]}.\nA move takes the seats from the source and gives "
        "them to the target, both or neither: keep the same checks and errors (a move of no seats, from a "
        "subscription to itself or to another organization's is a SeatMoveError; more seats than the source "
        "has is a NotEnoughSeatsError), and put the reads, the checks and both writes in one transaction.atomic() "
        "block (DATA-1).",
    )
    fields = ", ".join(f.attname for f in Subscription._meta.concrete_fields if f.attname != "id")
    check(
        yours[2] == theirs[2],
        f"{history.describe()}\nEvery subscription was created, and last changed, on {LONG_AGO:%Y-%m-%d}. "
        f"Its columns ({fields}) after the moves:\nExpected (README, Contract 1): {list(theirs[2])}.\n"
        f"Yours: {list(yours[2])}.\nThe seats are right, but a move changed another column otherwise than the "
        "reference: a subscription's `updated_at` tells when it last changed, so a move sets it on both "
        "subscriptions it changes, and on no other. A queryset's update() writes only the columns it names "
        "(auto_now is not applied): name updated_at in it, or save() with update_fields (DATA-1, the "
        "standard's timestamps).",
    )


# --- A subscription deleted in the middle of a move, generated: either side, either key order ---

#: primary keys far above any other number in a move's statements (seat counts, organizations), so that a
#: statement's parameters tell which subscription it locks or writes
FIRST_PK = 9_000_001
ROW_WRITE = re.compile(r"^\s*(UPDATE|DELETE)\b", re.IGNORECASE)


def touched_pks(params: Any) -> set[int]:
    """The subscriptions' primary keys among a statement's parameters (one level of nesting: executemany)."""
    values = list(params) if isinstance(params, list | tuple) else []
    flat = [v for value in values for v in (value if isinstance(value, list | tuple) else [value])]
    return {v for v in flat if isinstance(v, int) and not isinstance(v, bool) and v >= FIRST_PK}


@dataclass(frozen=True)
class Deletion:
    """A move that fits, and another admin who deletes its source or its target in the middle of it."""

    source_seats: int
    target_seats: int
    count: int
    deleted: str  # "source" or "target"
    source_first: bool  # the source has the lower primary key

    def describe(self) -> str:
        order = "Support's" if self.source_first else "Sales's"
        return (
            f"A move of {self.count} seat(s) from Support ({self.source_seats} seats) to Sales "
            f"({self.target_seats}); {order} primary key is the lower. Another admin deletes "
            f"{'Support' if self.deleted == 'source' else 'Sales'}, the move's {self.deleted}, in the middle of it."
        )


@st.composite
def deletions(draw: st.DrawFn) -> Deletion:
    source_seats = draw(st.integers(1, 12))
    return Deletion(
        source_seats=source_seats,
        target_seats=draw(st.integers(0, 12)),
        count=draw(st.integers(1, source_seats)),
        deleted=draw(st.sampled_from(("target", "source"))),
        source_first=draw(st.booleans()),
    )


class AnotherAdminDeletes:
    """Another admin deletes one subscription and commits, at the last moment a real database lets them:
    just before the move first locks or writes that row (a FOR UPDATE, UPDATE or DELETE of subscriptions
    whose parameters name it, or name none of them), or, if the move never does, after it.

    Until then the move holds no lock on that row, so the deletion does not wait. On one connection it
    runs inside the move's transaction; a real deletion outlives the move's rollback (`keep`).
    """

    def __init__(self, row: Subscription) -> None:
        self.row = row
        self.when = ""

    def commit(self) -> None:
        Subscription.objects.filter(pk=self.row.pk).delete()

    def keep(self) -> None:
        """After the move: the deletion stands, whether the move rolled it back or never reached the row."""
        if not self.when:
            self.when = "after your move (it never locked nor wrote that subscription)"
        self.commit()

    def reaches_the_row(self, sql: str, params: Any) -> bool:
        locks = FOR_UPDATE.search(sql) is not None
        if TABLE not in sql or not (locks or ROW_WRITE.match(sql)):
            return False
        named = touched_pks(params)
        return not named or self.row.pk in named

    @contextmanager
    def during(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        emulate_locks = not connection.features.has_select_for_update
        if emulate_locks:
            for feature in LOCK_FEATURES:
                monkeypatch.setattr(connection.features, feature, True)

        def wrapper(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
            if not self.when and self.reaches_the_row(sql, params):
                locks = FOR_UPDATE.search(sql) is not None
                self.when = f"just before your move {'locked' if locks else 'wrote'} that subscription"
                self.commit()
            if emulate_locks:
                sql = FOR_UPDATE.sub("", sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            yield


@dataclass(frozen=True)
class AfterDeletion:
    answer: str  # "moved", or the class name of the error raised
    seats_left: int | None  # the seats of the subscription that was not deleted
    deleted_is_back: bool  # the deleted subscription exists again
    when: str


def move_during_a_deletion(case: Deletion, move: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> AfterDeletion:
    organization = OrganizationFactory.create()
    low, high = FIRST_PK, FIRST_PK + 1
    source = SubscriptionFactory.create(
        pk=low if case.source_first else high, organization=organization, name="Support", seats=case.source_seats
    )
    target = SubscriptionFactory.create(
        pk=high if case.source_first else low, organization=organization, name="Sales", seats=case.target_seats
    )
    deleted, kept = (target, source) if case.deleted == "target" else (source, target)
    other = AnotherAdminDeletes(deleted)
    with monkeypatch.context() as patches, other.during(patches):
        try:
            move(source_id=source.pk, target_id=target.pk, seats=case.count)
            answer = "moved"
        except Exception as error:  # compared by class name with what the reference raises
            answer = type(error).__name__
    transaction.set_rollback(False)  # a real move's committed writes stay; the test's block stands in
    reached = bool(other.when)
    back = reached and answer == "moved" and Subscription.objects.filter(pk=deleted.pk).exists()
    if answer != "moved" or not reached:
        other.keep()
    left = Subscription.objects.filter(pk=kept.pk).values_list("seats", flat=True).first()
    return AfterDeletion(answer, left, back, other.when)


def shown_error(name: str) -> str:
    return f"Subscription.{name}" if name == "DoesNotExist" else name


@pytest.mark.lesson("DATA-1")
@pytest.mark.contract(4)
@pytest.mark.timeout(SCENARIO_SECONDS)
@scenarios(30)
@given(case=deletions())
@example(case=Deletion(source_seats=10, target_seats=2, count=6, deleted="target", source_first=True))
def test_a_subscription_deleted_in_the_middle_of_a_move_takes_no_seat_with_it(
    case: Deletion, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription deleted in the middle of a move: the move is refused as the reference refuses it"""
    with rolled_back():
        theirs = move_during_a_deletion(case, oracle.move_seats, monkeypatch)
    with rolled_back():
        yours = move_during_a_deletion(case, move_seats, monkeypatch)
    kept = "Sales" if case.deleted == "source" else "Support"
    before = case.target_seats if case.deleted == "source" else case.source_seats
    check(
        (yours.answer, yours.seats_left, yours.deleted_is_back) == (theirs.answer, theirs.seats_left, False),
        f"{case.describe()} The deletion committed {yours.when}.\n"
        f"Expected (README, Contract 4): the move refused with {shown_error(theirs.answer)}, and {kept} left with its "
        f"{before} seats.\nYours: {'the move succeeded' if yours.answer == 'moved' else shown_error(yours.answer)}, "
        f"{kept} has {yours.seats_left} seats"
        f"{', and the deleted subscription exists again' if yours.deleted_is_back else ''}.\nYour move read "
        "that subscription before another admin deleted it and wrote as if it were still there: seats went "
        "to (or came from) a subscription that is gone. Decide on what you read under the row lock: inside "
        "the transaction, lock both rows with select_for_update() before any check or write, so that a "
        "deletion either waits for your commit or has happened by the time you read (DATA-1).",
    )


@pytest.mark.contract(4)
@pytest.mark.lesson("DATA-1")
@pytest.mark.postgresql
@pytest.mark.threads  # the other admin deletes from a thread of its own
@pytest.mark.django_db(transaction=True)
def test_a_target_deleted_by_another_admin_during_a_move_on_postgresql() -> None:
    """On PostgreSQL, a real deletion of the target from another connection, in the middle of a move"""
    organization = OrganizationFactory.create()
    support = SubscriptionFactory.create(pk=FIRST_PK, organization=organization, name="Support", seats=10)
    sales = SubscriptionFactory.create(pk=FIRST_PK + 1, organization=organization, name="Sales", seats=2)
    other = AnotherAdminDeletes(sales)
    deleter: list[threading.Thread] = []

    def wrapper(execute: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not deleter and other.reaches_the_row(sql, params):
            deleter.append(threading.Thread(target=delete_in_its_own_transaction, daemon=True))
            deleter[0].start()
            deleter[0].join(1.0)  # done at once, unless it waits for a lock that the move holds
            waits = deleter[0].is_alive()
            other.when = "only after your move (it waited for a lock your move held)" if waits else "at once"
        return execute(sql, params, many, context)

    def delete_in_its_own_transaction() -> None:
        try:
            Subscription.objects.filter(pk=sales.pk).delete()
        finally:
            connection.close()

    with connection.execute_wrapper(wrapper):
        try:
            move_seats(source_id=support.pk, target_id=sales.pk, seats=6)
            answer = "your move succeeded"
        except Exception as error:  # reported below, with what it means
            answer = f"your move raised {type(error).__name__}"
    if deleter:
        deleter[0].join(5.0)
    else:
        delete_in_its_own_transaction()
        connection.close()
    support_seats = Subscription.objects.get(pk=support.pk).seats
    back = Subscription.objects.filter(pk=sales.pk).exists()
    waited = "waited" in other.when
    check(
        not back and (support_seats == 4 if waited else (support_seats == 10 and answer != "your move succeeded")),
        "While your move of 6 seats from Support (10 seats) to Sales (2) ran, another admin deleted Sales on "
        f"a connection of its own, just before your move first locked or wrote Sales; the deletion committed "
        f"{other.when or 'after your move'}. Then {answer}, and Support has {support_seats} seats"
        f"{' and Sales exists again' if back else ''}. A deletion that commits first must make your move "
        "refuse (Subscription.DoesNotExist) and change nothing; one that waits for your lock deletes Sales "
        "after your commit. Lock both rows with select_for_update() inside the transaction before any check "
        "or write, and decide on what that locked read returns.",
    )
