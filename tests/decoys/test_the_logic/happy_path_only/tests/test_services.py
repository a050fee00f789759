from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from test_the_logic.services import prorate

BERLIN = ZoneInfo("Europe/Berlin")
APRIL = (date(2026, 4, 1), date(2026, 5, 1))  # 30 days


@pytest.mark.parametrize(
    ("day", "expected"),
    [(1, 3_000), (6, 2_500), (11, 2_000), (16, 1_500), (21, 1_000), (26, 500)],
)
def test_an_upgrade_pays_for_the_days_left(day: int, expected: int) -> None:
    assert prorate(3_000, *APRIL, datetime(2026, 4, day, 9, 30, tzinfo=UTC), BERLIN) == expected


def test_the_change_counts_on_the_organizations_calendar() -> None:
    # 23:30 UTC on 20 April is already 01:30 on 21 April in Berlin: 20 April is not charged
    assert prorate(3_000, *APRIL, datetime(2026, 4, 20, 23, 30, tzinfo=UTC), BERLIN) == 1_000
