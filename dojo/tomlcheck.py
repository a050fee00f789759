"""Small typed readers for TOML tables: each names the table and the field it finds wrong.

The manifest and the rule registry are read by every grading process, so they are checked with the
standard library alone: importing a validation library would add to each grading's start-up.
"""

import re
from collections.abc import Mapping


class TableError(ValueError):
    """A field of a TOML table is missing or has the wrong type or value."""


class Table:
    """A TOML table and where it comes from (e.g. "katas.toml: kata n_plus_one")."""

    def __init__(self, data: Mapping[str, object], where: str, allowed: set[str]) -> None:
        unknown = set(data) - allowed
        if unknown:
            raise TableError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        self.data = data
        self.where = where

    def _get(self, key: str, default: object) -> object:
        if key not in self.data:
            if default is None:
                raise TableError(f"{self.where}: field {key!r} is missing")
            return default
        return self.data[key]

    def text(self, key: str, *, pattern: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key, None)
        if not isinstance(value, str) or not value.strip():
            raise TableError(f"{self.where}: {key!r} must be a non-empty string")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise TableError(f"{self.where}: {key!r} = {value!r} does not match {pattern}")
        if choices and value not in choices:
            raise TableError(f"{self.where}: {key!r} must be one of {', '.join(choices)}")
        return value

    def number(self, key: str, *, low: int, high: int) -> int:
        value = self._get(key, None)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise TableError(f"{self.where}: {key!r} must be a whole number from {low} to {high}")
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise TableError(f"{self.where}: {key!r} must be true or false")
        return value

    def texts(self, key: str, *, at_least: int, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) and item for item in value):
            raise TableError(f"{self.where}: {key!r} must be a list of strings")
        if len(value) < at_least:
            raise TableError(f"{self.where}: {key!r} needs at least {at_least} item(s)")
        return tuple(value)

    def mapping(self, key: str, *, at_least: int, default: dict[str, str] | None = None) -> dict[str, str]:
        value = self._get(key, default)
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
        ):
            raise TableError(f"{self.where}: {key!r} must be a table of strings")
        if len(value) < at_least:
            raise TableError(f"{self.where}: {key!r} needs at least {at_least} entr(ies)")
        return dict(value)
