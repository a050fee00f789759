"""A pure-Python stand-in for `time_machine.travel`, for the in-browser runner (Pyodide).

The graders that fix the clock call `time_machine.travel(moment, tick=False)`. time-machine patches
the C functions behind `datetime` and `time`, so it is a compiled extension with no build for
Pyodide. freezegun, the pure-Python alternative on PyPI, has another interface (`freeze_time`) and
reads an aware destination as naive UTC without moving the process's time zone, which the
`utc_datetimes` grader relies on; the graders are written once, for time-machine. This module keeps
time-machine's interface for what the graders use, in plain Python:

- `travel(destination, tick=True)`: while the block runs, `datetime.datetime.now()`, `utcnow()`,
  `today()`, `datetime.date.today()`, `time.time()` and `time.time_ns()` read the destination
  (frozen with `tick=False`, else moving on from it); the block is given a traveller whose
  `shift(delta)` moves the clock on by a `timedelta` or a number of seconds, and whose
  `move_to(destination, tick=None)` moves it to another destination, as time-machine's does;
- the classes are swapped where code already holds them (`from datetime import datetime`), in
  every loaded module, as freezegun does, and put back when the block ends; `isinstance` still
  accepts the real classes' instances;
- a naive "now" is the wall clock of the process's time zone, the `TZ` variable that Django sets
  from `TIME_ZONE`. Pyodide's `time` module has no `tzset` (its C library reads the browser's
  zone), so `install()` gives it one that only records the variable, and the naive results here
  are computed with `zoneinfo`. A destination in a `ZoneInfo` zone sets `TZ` to that zone for the
  block, as time-machine does.

`install()` registers this module as `time_machine` where time-machine is not installed; on the
command line the real one is used and nothing here runs.
"""

import datetime as _datetime_module
import importlib.util
import os
import sys
import time as _time_module
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RealDatetime = _datetime_module.datetime
_RealDate = _datetime_module.date
_real_time = _time_module.time
_real_time_ns = _time_module.time_ns
_real_monotonic = _time_module.monotonic
UTC = _datetime_module.UTC


class Traveller:
    """What a `travel` block is given: the destination (an aware UTC datetime), whether the clock ticks
    on from it, and the monotonic time at which it was reached."""

    def __init__(self, destination: _datetime_module.datetime, tick: bool, zone: str | None) -> None:
        self.destination = destination
        self.tick = tick
        self.zone = zone  # the zone `TZ` was set to, to be put back when the block ends
        self.began = _real_monotonic()

    def shift(self, delta: _datetime_module.timedelta | float) -> None:
        """Move the clock on by `delta`, a `timedelta` or a number of seconds (back when negative)."""
        if isinstance(delta, bool) or not isinstance(delta, _datetime_module.timedelta | int | float):
            raise TypeError(f"Unsupported type for delta argument: {delta!r}")
        if not isinstance(delta, _datetime_module.timedelta):
            delta = _datetime_module.timedelta(seconds=delta)
        self.destination += delta

    def move_to(self, destination: object, tick: bool | None = None) -> None:
        """Move the clock to `destination` (in its zone, as `travel` does), ticking on as `tick` says."""
        self.destination, zone = _destination(destination)
        if zone is not None:
            os.environ["TZ"] = self.zone = zone
        self.began = _real_monotonic()
        if tick is not None:
            self.tick = tick


_travels: list[Traveller] = []  # the blocks under way, the innermost last


def local_zone() -> _datetime_module.tzinfo:
    """The process's time zone, as `TZ` names it (UTC when unset or unknown)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _now_utc() -> _datetime_module.datetime:
    traveller = _travels[-1]
    if traveller.tick:
        return traveller.destination + _datetime_module.timedelta(seconds=_real_monotonic() - traveller.began)
    return traveller.destination


def _as_fake(moment: _datetime_module.datetime) -> "FakeDatetime":
    return FakeDatetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        moment.tzinfo,
        fold=moment.fold,
    )


class _DatetimeType(type):
    """Lets `isinstance(value, datetime)` hold for the real class's instances while it is swapped."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _RealDatetime)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _RealDatetime)


class _DateType(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _RealDate)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _RealDate)


class FakeDatetime(_RealDatetime, metaclass=_DatetimeType):
    """`datetime.datetime` while a travel is on: "now" is the destination."""

    @classmethod
    def now(cls, tz: _datetime_module.tzinfo | None = None) -> "FakeDatetime":
        if not _travels:
            return _as_fake(_RealDatetime.now(tz))
        moment = _now_utc()
        if tz is None:
            return _as_fake(moment.astimezone(local_zone()).replace(tzinfo=None))
        return _as_fake(moment.astimezone(tz))

    @classmethod
    def today(cls) -> "FakeDatetime":
        return cls.now()

    @classmethod
    def utcnow(cls) -> "FakeDatetime":
        warnings.warn(
            "datetime.datetime.utcnow() is deprecated and scheduled for removal in a future version. Use "
            "timezone-aware objects to represent datetimes in UTC: datetime.datetime.now(datetime.UTC).",
            DeprecationWarning,
            stacklevel=2,
        )
        if not _travels:
            return _as_fake(_RealDatetime.now(UTC).replace(tzinfo=None))
        return _as_fake(_now_utc().replace(tzinfo=None))

    @classmethod
    def fromtimestamp(cls, timestamp: float, tz: _datetime_module.tzinfo | None = None) -> "FakeDatetime":
        moment = _RealDatetime.fromtimestamp(timestamp, UTC)
        if tz is None:
            return _as_fake(moment.astimezone(local_zone()).replace(tzinfo=None))
        return _as_fake(moment.astimezone(tz))

    def astimezone(self, tz: _datetime_module.tzinfo | None = None) -> "FakeDatetime":
        aware = self if self.tzinfo is not None else _RealDatetime.replace(self, tzinfo=local_zone())
        return _as_fake(_RealDatetime.astimezone(aware, tz or local_zone()))

    def timestamp(self) -> float:
        if self.tzinfo is None:
            return _RealDatetime.replace(self, tzinfo=local_zone()).timestamp()
        return _RealDatetime.timestamp(self)


class FakeDate(_RealDate, metaclass=_DateType):
    """`datetime.date` while a travel is on: "today" is the destination's day in the process's zone."""

    @classmethod
    def today(cls) -> "FakeDate":
        real = _now_utc().astimezone(local_zone()).date() if _travels else _RealDate.today()
        return FakeDate(real.year, real.month, real.day)


def _fake_time() -> float:
    return _now_utc().timestamp() if _travels else _real_time()


def _fake_time_ns() -> int:
    if not _travels:
        return _real_time_ns()
    moment = _now_utc() - _RealDatetime(1970, 1, 1, tzinfo=UTC)
    return (moment.days * 86_400 + moment.seconds) * 1_000_000_000 + moment.microseconds * 1_000


_SWAPS: dict[int, object] = {
    id(_RealDatetime): FakeDatetime,
    id(_RealDate): FakeDate,
    id(_real_time): _fake_time,
    id(_real_time_ns): _fake_time_ns,
}


def _swap_everywhere() -> list[tuple[ModuleType, str, object]]:
    """Put the fakes wherever a loaded module holds a real one; return what to put back."""
    swapped = []
    for module in list(sys.modules.values()):
        if module is None or module.__name__ == __name__:
            continue
        try:
            names = list(vars(module).items())
        except TypeError:
            continue
        for name, value in names:
            fake = _SWAPS.get(id(value))
            if fake is not None and value is not fake:
                setattr(module, name, fake)
                swapped.append((module, name, value))
    return swapped


def _destination(value: object) -> tuple[_datetime_module.datetime, str | None]:
    """The destination as an aware UTC moment, and the zone to set `TZ` to (a ZoneInfo destination's)."""
    if isinstance(value, int | float):
        return _RealDatetime.fromtimestamp(value, UTC), None
    if isinstance(value, str):
        value = _RealDatetime.fromisoformat(value)
    if isinstance(value, _RealDatetime):
        if value.tzinfo is None:
            return _RealDatetime.replace(value, tzinfo=UTC), None  # time-machine reads naive as UTC
        zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
        return _RealDatetime.astimezone(value, UTC), zone
    if isinstance(value, _RealDate):
        return _RealDatetime(value.year, value.month, value.day, tzinfo=UTC), None
    raise TypeError(f"Unsupported destination {value!r}")


@contextmanager
def travel(destination: object, tick: bool = True) -> Iterator[Traveller]:
    """Move the clock to `destination` for the block (`time_machine.travel`'s interface, as a block)."""
    moment, zone = _destination(destination)
    previous_zone = os.environ.get("TZ")
    if zone is not None:
        os.environ["TZ"] = zone
    traveller = Traveller(moment, tick, zone)
    _travels.append(traveller)
    swapped = _swap_everywhere() if len(_travels) == 1 else []
    try:
        yield traveller
    finally:
        _travels.pop()
        for module, name, value in reversed(swapped):
            setattr(module, name, value)
        if traveller.zone is not None:
            if previous_zone is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = previous_zone


def _tzset() -> None:
    """Pyodide's `time.tzset`: the zone is read from `TZ` where it is needed (`local_zone`)."""


def install() -> bool:
    """Serve this module as `time_machine` where time-machine is not installed; True when it did."""
    if "time_machine" in sys.modules or importlib.util.find_spec("time_machine") is not None:
        return False
    module: Any = sys.modules[__name__]
    sys.modules["time_machine"] = module
    if not hasattr(_time_module, "tzset"):
        _time_module.tzset = _tzset
    return True
