"""Proration: what a customer pays for the rest of a billing period after changing plan mid-period."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo


def prorate(amount_cents: int, period_start: date, period_end: date, change_at: datetime, tz: ZoneInfo) -> int:
    """The part of a period's price that falls on the days left after a plan change, in cents.

    - The period runs from `period_start` up to, not including, `period_end`: April is
      `date(2026, 4, 1)` to `date(2026, 5, 1)`, 30 days.
    - The change counts on the organization's calendar: `change_at`, an aware datetime as stored (in
      UTC), is converted to the organization's time zone `tz`, and falls on that local day.
    - The day of the change is charged, and every day after it up to the end of the period.
    - The charge is `amount_cents * days_left / days_in_period`, rounded to the cent, half a cent up.
    - A naive `change_at`, a period without days, or a change on a day outside the period is a
      mistake of the caller: `ValueError`.
    """
    if change_at.utcoffset() is None:
        raise ValueError(f"change_at must be an aware datetime, got the naive {change_at.isoformat()}")
    if period_end <= period_start:
        raise ValueError(f"the period {period_start} to {period_end} has no days")
    change_day = change_at.astimezone(tz).date()
    if not period_start <= change_day < period_end:
        raise ValueError(f"the change on {change_day} is outside the period {period_start} to {period_end}")
    days_in_period = (period_end - period_start).days
    days_left = (period_end - change_day).days
    charge = Decimal(amount_cents * days_left) / days_in_period
    return int(charge.quantize(Decimal(1), rounding=ROUND_HALF_UP))
