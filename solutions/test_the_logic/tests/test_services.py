"""Tests of `prorate()`, one group per rule of its docstring: the days charged, the period's length,
the rounding, the organization's calendar, and the input it refuses."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from test_the_logic.services import prorate

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
APRIL = (date(2026, 4, 1), date(2026, 5, 1))  # 30 days


def utc(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of `day` in UTC, as the database stores it."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# the days charged: the day of the change and every day after it, to the end of the period


def test_an_upgrade_late_in_the_month_pays_for_the_days_left() -> None:
    # from 21 April to the end of April: 10 of 30 days
    assert prorate(3_000, *APRIL, datetime(2026, 4, 21, 9, 30, tzinfo=UTC), BERLIN) == 1_000


def test_an_upgrade_early_in_the_month_pays_for_most_of_it() -> None:
    # from 6 April: 25 of 30 days
    assert prorate(3_000, *APRIL, utc(date(2026, 4, 6)), BERLIN) == 2_500


def test_a_change_on_the_first_day_pays_the_whole_period() -> None:
    assert prorate(3_000, *APRIL, utc(date(2026, 4, 1)), BERLIN) == 3_000


def test_a_change_on_the_last_day_pays_that_day() -> None:
    assert prorate(3_000, *APRIL, utc(date(2026, 4, 30)), BERLIN) == 100


# the period's length: its real number of days


@pytest.mark.parametrize(
    ("period", "change_day", "expected"),
    [
        ((date(2026, 3, 1), date(2026, 4, 1)), date(2026, 3, 17), 1_500),  # 15 of March's 31 days
        ((date(2026, 2, 1), date(2026, 3, 1)), date(2026, 2, 15), 1_550),  # 14 of February's 28 days
        ((date(2026, 1, 15), date(2026, 2, 15)), date(2026, 2, 14), 100),  # 1 of 31 days, across two months
    ],
)
def test_the_period_has_its_real_number_of_days(period: tuple[date, date], change_day: date, expected: int) -> None:
    assert prorate(3_100, *period, utc(change_day), BERLIN) == expected


# the rounding: to the cent, half a cent up


@pytest.mark.parametrize(
    ("amount_cents", "expected"),
    [
        (1_000, 333),  # 333.33
        (2_000, 667),  # 666.67
    ],
)
def test_the_charge_is_rounded_to_the_nearest_cent(amount_cents: int, expected: int) -> None:
    # from 21 April: 10 of 30 days
    assert prorate(amount_cents, *APRIL, utc(date(2026, 4, 21)), BERLIN) == expected


@pytest.mark.parametrize(
    ("amount_cents", "expected"),
    [
        (4_997, 2_499),  # 2,498.5: half-even rounding would give 2,498
        (4_999, 2_500),  # 2,499.5
        (1, 1),  # 0.5
    ],
)
def test_half_a_cent_is_rounded_up(amount_cents: int, expected: int) -> None:
    # from 16 April: 15 of 30 days, half the price
    assert prorate(amount_cents, *APRIL, utc(date(2026, 4, 16)), BERLIN) == expected


# the calendar: the organization's, not UTC's


def test_the_change_counts_on_the_organizations_calendar() -> None:
    # 23:30 UTC on 20 April is already 01:30 on 21 April in Berlin: 20 April is not charged
    assert prorate(3_000, *APRIL, datetime(2026, 4, 20, 23, 30, tzinfo=UTC), BERLIN) == 1_000


def test_a_change_late_in_the_evening_in_new_york_counts_on_that_evening() -> None:
    # 02:00 UTC on 21 April is still 22:00 on 20 April in New York: 20 April is charged
    assert prorate(3_000, *APRIL, utc(date(2026, 4, 21), hour=2), NEW_YORK) == 1_100


# the input it refuses


@pytest.mark.parametrize(
    "change_at",
    [
        utc(date(2026, 3, 31)),  # the day before the period
        utc(date(2026, 5, 1)),  # the day the period ends, which is not part of it
        utc(date(2026, 4, 30), hour=22, minute=30),  # 30 April in UTC, but already 1 May in Berlin
    ],
    ids=["before", "end-day", "end-day-in-berlin"],
)
def test_a_change_outside_the_period_is_refused(change_at: datetime) -> None:
    with pytest.raises(ValueError, match="outside the period"):
        prorate(3_000, *APRIL, change_at, BERLIN)


def test_a_naive_change_time_is_refused() -> None:
    naive = datetime(2026, 4, 21, 12, 0)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="aware"):
        prorate(3_000, *APRIL, naive, BERLIN)


def test_a_period_without_days_is_refused() -> None:
    with pytest.raises(ValueError, match="no days"):
        prorate(3_000, date(2026, 4, 1), date(2026, 4, 1), utc(date(2026, 4, 1)), BERLIN)
