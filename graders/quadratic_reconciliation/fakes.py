"""Inputs that count the work done with them, so that the grader measures work, not seconds.

The invoices and payments handed to `match_payments()` count every read of their fields, and their
texts (invoice numbers, payment references) count every comparison, hash and case change; `str()`,
`%` and f-strings of them stay counted texts. Whatever the algorithm, matching needs these
operations: a nested loop does them for every pair of payment and invoice, a dict once or twice per
invoice and per payment. `counting_lines()` also counts every line the kata's own code runs, so a
loop over texts turned into something else (bytes, say) is counted too.
"""

import dataclasses
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, SupportsIndex

if TYPE_CHECKING:  # what sys.settrace takes, named in typeshed only
    from _typeshed import TraceFunction


class WorkLimitReachedError(Exception):
    """The code under test did more operations than the grader lets it (so a slow solution stops early)."""


class Tally:
    """The operations counted, and on which line of the kata's code each was done (`by_line`).

    `orderings` counts, among them, the ordering comparisons of the texts (<, <=, >, >=): what a sort or a
    binary search makes, n log n of them, where a lookup by hash makes none.
    """

    __slots__ = ("by_line", "codes", "limit", "line", "operations", "orderings")

    def __init__(self) -> None:
        self.operations = 0
        self.orderings = 0
        self.limit = sys.maxsize
        self.line: tuple[str, int] | None = None  # the kata's line running now, set by counting_lines()
        self.by_line: Counter[tuple[str, int] | None] = Counter()
        self.codes: set[CodeType] = set()  # the kata's functions (and lambdas, generators) that ran

    def tick(self) -> None:
        self.operations += 1
        self.by_line[self.line] += 1
        if self.operations > self.limit:
            raise WorkLimitReachedError(f"more than {self.limit:,} operations")


class CountedText(str):
    """A str that counts its comparisons, hashes and the usual normalizations (which stay counted)."""

    tally: Tally

    def __new__(cls, value: str, tally: Tally) -> "CountedText":
        text = super().__new__(cls, value)
        text.tally = tally
        return text

    def _counted(self, value: str) -> "CountedText":
        self.tally.tick()
        return CountedText(value, self.tally)

    def __eq__(self, other: object) -> bool:
        self.tally.tick()
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        self.tally.tick()
        return str.__ne__(self, other)

    def __lt__(self, other: str) -> bool:
        self.tally.orderings += 1
        self.tally.tick()
        return str.__lt__(self, other)

    def __le__(self, other: str) -> bool:
        self.tally.orderings += 1
        self.tally.tick()
        return str.__le__(self, other)

    def __gt__(self, other: str) -> bool:
        self.tally.orderings += 1
        self.tally.tick()
        return str.__gt__(self, other)

    def __ge__(self, other: str) -> bool:
        self.tally.orderings += 1
        self.tally.tick()
        return str.__ge__(self, other)

    def __hash__(self) -> int:
        self.tally.tick()
        return str.__hash__(self)

    def strip(self, chars: str | None = None) -> "CountedText":
        return self._counted(str.strip(self, chars))

    def lstrip(self, chars: str | None = None) -> "CountedText":
        return self._counted(str.lstrip(self, chars))

    def rstrip(self, chars: str | None = None) -> "CountedText":
        return self._counted(str.rstrip(self, chars))

    def upper(self) -> "CountedText":
        return self._counted(str.upper(self))

    def lower(self) -> "CountedText":
        return self._counted(str.lower(self))

    def casefold(self) -> "CountedText":
        return self._counted(str.casefold(self))

    def replace(self, old: str, new: str, count: SupportsIndex = -1) -> "CountedText":
        return self._counted(str.replace(self, old, new, count))

    def __str__(self) -> "CountedText":
        return self

    def __format__(self, format_spec: str) -> "CountedText":
        return self._counted(str.__format__(self, format_spec))


@contextmanager
def counting_lines(tally: Tally, root: Path) -> Iterator[None]:
    """Count, in `tally`, every line that code in files under `root` runs (a loop's lines once per turn),
    and keep the code objects (functions, lambdas, generators) of that code that ran.

    Comprehensions count once per item too. Code under `root` can switch the tracer off (`sys.settrace`):
    that is a deliberate act, visible in review, not an accident.
    """
    folder = str(root.resolve())

    def in_kata(frame: FrameType, event: str, arg: object) -> "TraceFunction":
        if event == "line":
            tally.line = (frame.f_code.co_filename, frame.f_lineno)
            tally.tick()
        return in_kata

    def calls(frame: FrameType, event: str, arg: object) -> "TraceFunction | None":
        if not frame.f_code.co_filename.startswith(folder):
            return None
        tally.codes.add(frame.f_code)
        return in_kata

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield
    finally:
        sys.settrace(previous)


def counting(cls: type[Any], tally: Tally) -> type[Any]:
    """A subclass of the dataclass `cls` whose instances count every read of their fields."""
    fields = frozenset(field.name for field in dataclasses.fields(cls))

    def __getattribute__(self: Any, name: str) -> Any:  # noqa: N807 - the method, defined for type()
        if name in fields:
            tally.tick()
        return object.__getattribute__(self, name)

    return type(f"Counted{cls.__name__}", (cls,), {"__getattribute__": __getattribute__})
