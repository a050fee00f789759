"""`dojo.races.race`, on PostgreSQL: the worst interleaving of two workers, forced, not hoped for.

A check-then-insert always lets both workers through the check; a row lock always makes the second
wait for the first. Race checks need two sessions and a row lock, which SQLite does not have.
"""

import os

import pytest
from django.db import IntegrityError, transaction

from dojo.races import race
from dojo.workshop.models import Workshop

from .workshop.factories import WorkshopFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="two sessions and row locks: PostgreSQL (CI runs it)",
    ),
]


def open_workshop_unless_taken() -> None:
    """A check, then an insert: a unique join code is all that stands between two workers."""
    with transaction.atomic():
        if not Workshop.objects.filter(join_code="ROOM1").exists():
            WorkshopFactory.create(join_code="ROOM1")


def test_a_check_then_insert_lets_both_workers_past_the_check() -> None:
    result = race(open_workshop_unless_taken, open_workshop_unless_taken)
    assert result.interleaving == "the second finished"
    assert isinstance(result.errors[0], IntegrityError), result.failures()
    assert result.errors[1] is None
    assert Workshop.objects.filter(join_code="ROOM1").count() == 1


def test_a_row_lock_makes_the_second_worker_wait_and_both_changes_count() -> None:
    workshop = WorkshopFactory.create(stuck_minutes=10)

    def add_five_minutes() -> None:
        with transaction.atomic():
            locked = Workshop.objects.select_for_update().get(pk=workshop.pk)
            Workshop.objects.filter(pk=locked.pk).update(stuck_minutes=locked.stuck_minutes + 5)

    result = race(add_five_minutes, add_five_minutes)
    assert result.interleaving == "the second waits for a lock"
    assert result.failures() == []
    workshop.refresh_from_db()
    assert workshop.stuck_minutes == 20


def test_without_the_lock_one_change_is_lost() -> None:
    workshop = WorkshopFactory.create(stuck_minutes=10)

    def add_five_minutes_unlocked() -> None:
        with transaction.atomic():
            read = Workshop.objects.get(pk=workshop.pk)
            Workshop.objects.filter(pk=read.pk).update(stuck_minutes=read.stuck_minutes + 5)

    result = race(add_five_minutes_unlocked, add_five_minutes_unlocked)
    assert result.interleaving == "the second finished"
    workshop.refresh_from_db()
    assert workshop.stuck_minutes == 15  # the lost update a race check exists to show
