from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from test_the_logic.services import prorate

BERLIN = ZoneInfo("Europe/Berlin")
APRIL = (date(2026, 4, 1), date(2026, 5, 1))  # 30 days


def test_an_upgrade_late_in_the_month_pays_for_the_days_left() -> None:
    # from 21 April to the end of April: 10 of 30 days
    assert prorate(3_000, *APRIL, datetime(2026, 4, 21, 9, 30, tzinfo=UTC), BERLIN) == 1_000


def test_the_change_counts_on_the_organizations_calendar() -> None:
    # 23:30 UTC on 20 April is already 01:30 on 21 April in Berlin: 20 April is not charged
    assert prorate(3_000, *APRIL, datetime(2026, 4, 20, 23, 30, tzinfo=UTC), BERLIN) == 1_000
