# naive datetimes and the deprecated calls are what these checks compare
# ruff: noqa: DTZ001, DTZ003, DTZ011
"""dojo/clock.py, the browser's stand-in for time-machine, reads the same clock as time-machine itself.

Each scenario runs twice on the command line, under the real `time_machine.travel` and under
`dojo.clock.travel`, and both must see the same moments: what the graders read through
`datetime`, `time` and Django while the clock is moved.
"""

import datetime as datetime_module
import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from dojo import clock

NEW_YORK = ZoneInfo("America/New_York")
MOMENT = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # Saturday evening in New York, Sunday in UTC


@pytest.fixture(params=["time_machine", "dojo.clock"])
def travel(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return time_machine.travel if request.param == "time_machine" else clock.travel


@pytest.fixture
def learner_module() -> Iterator[types.ModuleType]:
    """A module that took `datetime` and `date` at import time, as a learner's services do."""
    module = types.ModuleType("clock_learner")
    exec(  # noqa: S102 - fixed source, written here
        "from datetime import date, datetime\n"
        "from time import time\n"
        "def naive_now(): return datetime.now()\n"
        "def today(): return date.today()\n"
        "def seconds(): return time()\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def readings(module: types.ModuleType) -> dict[str, object]:
    return {
        "aware": datetime.now(UTC),
        "django": timezone.now(),
        "module naive": module.naive_now(),
        "module today": module.today(),
        "module time": round(module.seconds(), 3),
        "time": round(time.time(), 3),
        "time_ns // 1000": time.time_ns() // 1000,
        "date": date.today(),
        "datetime module": datetime_module.datetime.now(UTC),
    }


def test_an_aware_utc_destination_is_every_clock_s_now(
    travel: Callable[..., Any], learner_module: types.ModuleType
) -> None:
    with travel(MOMENT, tick=False):
        seen = readings(learner_module)
    assert seen == {
        "aware": MOMENT,
        "django": MOMENT,
        "module naive": datetime(2026, 10, 31, 23, 30),
        "module today": date(2026, 10, 31),
        "module time": MOMENT.timestamp(),
        "time": MOMENT.timestamp(),
        "time_ns // 1000": int(MOMENT.timestamp()) * 1_000_000,
        "date": date(2026, 10, 31),
        "datetime module": MOMENT,
    }


def test_a_destination_in_a_zone_sets_the_process_zone_for_naive_readings(
    travel: Callable[..., Any], learner_module: types.ModuleType
) -> None:
    with travel(MOMENT.astimezone(NEW_YORK), tick=False):
        naive, today, utc = learner_module.naive_now(), learner_module.today(), datetime.now(UTC)
        local = datetime.now().astimezone()
    assert (naive, today, utc) == (datetime(2026, 10, 31, 19, 30), date(2026, 10, 31), MOMENT)
    assert local == MOMENT
    assert local.utcoffset() == timedelta(hours=-4)


def test_django_s_time_zone_setting_is_the_zone_of_naive_readings(
    travel: Callable[..., Any], learner_module: types.ModuleType
) -> None:
    with override_settings(TIME_ZONE="America/New_York"), travel(MOMENT.astimezone(NEW_YORK), tick=False):
        assert os.environ["TZ"] == "America/New_York"
        naive = learner_module.naive_now()
        aware = timezone.make_aware(naive)
    assert naive == datetime(2026, 10, 31, 19, 30)
    assert aware == MOMENT


def test_the_clock_ticks_on_from_the_destination_unless_frozen(travel: Callable[..., Any]) -> None:
    with travel(MOMENT, tick=True):
        first = datetime.now(UTC)
        time.sleep(0.01)
        second = datetime.now(UTC)
    assert MOMENT <= first < second < MOMENT + timedelta(minutes=1)


def test_the_block_s_traveller_shifts_the_clock_and_moves_it_elsewhere(
    travel: Callable[..., Any], learner_module: types.ModuleType
) -> None:
    with travel(MOMENT, tick=False) as traveller:
        traveller.shift(timedelta(hours=2))
        shifted = datetime.now(UTC)
        traveller.shift(90)
        traveller.shift(-0.5)
        seconds = time.time()
        traveller.move_to(datetime(2027, 1, 15, 8, tzinfo=NEW_YORK))
        moved, naive = datetime.now(UTC), learner_module.naive_now()
        with pytest.raises(TypeError):
            traveller.shift("an hour")
    assert shifted == MOMENT + timedelta(hours=2)
    assert seconds == (MOMENT + timedelta(hours=2, seconds=89.5)).timestamp()
    assert (moved, naive) == (datetime(2027, 1, 15, 13, tzinfo=UTC), datetime(2027, 1, 15, 8))
    assert os.environ.get("TZ") != "America/New_York"


def test_after_the_block_the_real_clock_and_classes_are_back(
    travel: Callable[..., Any], learner_module: types.ModuleType
) -> None:
    before = time.monotonic(), datetime.now(UTC)
    with travel(MOMENT, tick=False):
        inside = datetime(2020, 1, 1)
        assert isinstance(inside, learner_module.datetime)
    assert learner_module.datetime is datetime
    assert learner_module.date is date
    assert learner_module.time is time.time
    assert datetime_module.datetime is datetime
    elapsed = timedelta(seconds=time.monotonic() - before[0])
    assert before[1] <= datetime.now(UTC) <= before[1] + elapsed + timedelta(seconds=1)


def test_real_instances_still_pass_isinstance_while_the_classes_are_swapped(travel: Callable[..., Any]) -> None:
    real = datetime(2026, 1, 1, tzinfo=UTC)
    with travel(MOMENT, tick=False):
        swapped = datetime_module.datetime
        assert isinstance(real, swapped)
        assert isinstance(real.date(), datetime_module.date)
        assert not isinstance(real.date(), swapped)
        assert swapped.now(UTC) - real == MOMENT - real


def test_utcnow_is_the_destination_without_a_zone_and_still_warns(travel: Callable[..., Any]) -> None:
    with travel(MOMENT, tick=False), pytest.warns(DeprecationWarning, match="utcnow"):
        naive = datetime_module.datetime.utcnow()
    assert naive == datetime(2026, 10, 31, 23, 30)


def test_install_leaves_the_real_time_machine_where_it_is_installed() -> None:
    assert clock.install() is False
    assert sys.modules["time_machine"] is time_machine
