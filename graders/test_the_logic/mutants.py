"""The grader's own proration, and the mutants: the same function with one realistic bug each.

A learner's tests are good enough when every mutant makes at least one of them fail. The reference is
written here independently of the kata's `services.py` (which the learner could edit): the grader's
behaviour tests check that `services.prorate()` still agrees with it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import partial
from zoneinfo import ZoneInfo

Prorate = Callable[[int, date, date, datetime, ZoneInfo], int]


def reference_prorate(
    amount_cents: int,
    period_start: date,
    period_end: date,
    change_at: datetime,
    tz: ZoneInfo,
    *,
    local_day: bool = True,
    charge_the_change_day: bool = True,
    month_of_30_days: bool = False,
    rounding: str = ROUND_HALF_UP,
    charge_days_used: bool = False,
    refuse_outside: bool = True,
    refuse_naive: bool = True,
    end_day_in_the_period: bool = False,
    first_day_in_the_period: bool = True,
    end_inclusive: bool = False,
) -> int:
    """The proration rules of the kata's docstring; each keyword switches one of them to a bug."""
    if change_at.utcoffset() is None:
        if refuse_naive:
            raise ValueError(f"change_at must be an aware datetime, got the naive {change_at.isoformat()}")
        change_at = change_at.replace(tzinfo=UTC)  # the bug: a naive time taken for UTC
    if period_end <= period_start:
        raise ValueError(f"the period {period_start} to {period_end} has no days")
    change_day = change_at.astimezone(tz).date() if local_day else change_at.date()
    after_start = period_start <= change_day if first_day_in_the_period else period_start < change_day
    before_end = change_day <= period_end if end_day_in_the_period else change_day < period_end
    if refuse_outside and not (after_start and before_end):
        raise ValueError(f"the change on {change_day} is outside the period {period_start} to {period_end}")
    days_in_period = 30 if month_of_30_days else (period_end - period_start).days
    days_left = (change_day - period_start).days if charge_days_used else (period_end - change_day).days
    if end_inclusive:  # the bug: the period's end date counted as one of its days
        days_in_period, days_left = days_in_period + 1, days_left + 1
    if not charge_the_change_day:
        days_left -= 1
    charge = Decimal(amount_cents * days_left) / days_in_period
    return int(charge.quantize(Decimal(1), rounding=rounding))


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # what this version of prorate() gets wrong
    catch: str  # what kind of test makes it fail
    prorate: Prorate


MUTANTS = {
    mutant.name: mutant
    for mutant in (
        Mutant(
            "skips_the_day_of_the_change",
            "does not charge the day of the change itself, only the days after it",
            "Assert the exact charge for a change in the middle of a period: the day of the change is "
            "charged (3,000 cents from 21 April is 10 of April's 30 days: 1,000).",
            partial(reference_prorate, charge_the_change_day=False),
        ),
        Mutant(
            "assumes_30_day_months",
            "divides by 30 days, whatever the period's real length",
            "Test a period that is not 30 days long: March has 31 days, February 28.",
            partial(reference_prorate, month_of_30_days=True),
        ),
        Mutant(
            "truncates_the_cents",
            "cuts the fraction of a cent off instead of rounding it",
            "Test a charge that does not come out in whole cents, with a fraction above half a cent "
            "(2,000 cents for 10 of 30 days is 666.67: 667).",
            partial(reference_prorate, rounding=ROUND_DOWN),
        ),
        Mutant(
            "rounds_half_to_even",
            "rounds half a cent to the even cent, as Python's round() does, instead of up",
            "Test a charge of exactly x.5 cents with an even x: the rule rounds it up, half-even rounds "
            "it down (4,997 cents for 15 of 30 days is 2,498.5: 2,499).",
            partial(reference_prorate, rounding=ROUND_HALF_EVEN),
        ),
        Mutant(
            "ignores_the_time_zone",
            "takes the day of the change from the stored UTC timestamp, not from the organization's calendar",
            "Test a change close to midnight UTC, on a day that is a different day in the organization's "
            "time zone: 23:30 UTC on 20 April is already 21 April in Berlin.",
            partial(reference_prorate, local_day=False),
        ),
        Mutant(
            "charges_the_days_used",
            "charges the days before the change instead of the days left (start and end mixed up)",
            "Test a change away from the middle of the period, where the days used and the days left differ.",
            partial(reference_prorate, charge_days_used=True),
        ),
        Mutant(
            "accepts_a_change_outside_the_period",
            "charges a change that falls outside the period instead of refusing it",
            "Test that a change before the period starts, or on the day it ends, raises ValueError "
            "(`with pytest.raises(ValueError):`).",
            partial(reference_prorate, refuse_outside=False),
        ),
        Mutant(
            "accepts_the_end_day",
            "charges a change on the day the period ends (0 days left) instead of refusing it",
            "Test that a change on `period_end` itself raises ValueError: the period runs up to, not "
            "including, its end (a change on 1 May is outside April).",
            partial(reference_prorate, end_day_in_the_period=True),
        ),
        Mutant(
            "refuses_the_first_day",
            "refuses a change on the period's first day as outside the period",
            "Test a change on `period_start` itself: it is inside the period, and pays the whole of it.",
            partial(reference_prorate, first_day_in_the_period=False),
        ),
        Mutant(
            "accepts_a_naive_time",
            "takes a naive `change_at` for UTC instead of refusing it",
            "Test that a naive datetime (no tzinfo) raises ValueError (`with pytest.raises(ValueError):`).",
            partial(reference_prorate, refuse_naive=False),
        ),
        Mutant(
            "rounds_every_fraction_up",
            "rounds any fraction of a cent up, not only half a cent and more",
            "Test a charge whose fraction is below half a cent (1,000 cents for 10 of 30 days is 333.33: 333).",
            partial(reference_prorate, rounding=ROUND_UP),
        ),
        Mutant(
            "counts_the_end_date_as_a_day",
            "counts the period's end date as one of its days (April with 31 days)",
            "Assert the exact charge for a change in a period: April, 1 April to 1 May, has 30 days, not "
            "31 (3,000 cents from 21 April is 1,000).",
            partial(reference_prorate, end_inclusive=True),
        ),
    )
}
