"""The kata manifest (`katas.toml`): the one list of katas that the graders, the site and the tools read."""

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dojo import paths
from dojo.rules import load_rules


class ManifestError(ValueError):
    """The manifest is malformed; the message names the kata and the field."""


class Kata(BaseModel):
    """One kata: its metadata, where its files are, and which grader tests carry its lesson."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=r"^[a-z][a-z0-9_]{2,39}$")
    title: str
    rules: tuple[str, ...] = Field(min_length=1)
    difficulty: Literal["beginner", "intermediate", "advanced"]
    minutes: int = Field(ge=5, le=60)
    files: tuple[str, ...] = Field(min_length=1)
    hints: tuple[str, ...] = Field(min_length=2)
    lessons: dict[str, str] = Field(min_length=1)
    guards: dict[str, str] = Field(default_factory=dict)
    decoys: dict[str, str] = Field(min_length=1)
    discussion: tuple[str, ...] = ()
    migrations: bool = False

    @model_validator(mode="after")
    def _known_rules(self) -> "Kata":
        known = load_rules()
        for rule_id in (*self.rules, *self.lessons.values(), *self.guards.values()):
            if rule_id not in known:
                raise ValueError(f"unknown rule {rule_id!r} (rules.toml lists the rule IDs)")
        for rule_id in (*self.lessons.values(), *self.guards.values()):
            if rule_id not in self.rules:
                raise ValueError(f"lesson rule {rule_id!r} is missing from the kata's rules")
        return self

    @property
    def starter_dir(self) -> Path:
        return paths.KATAS / self.slug

    @property
    def solution_dir(self) -> Path:
        return paths.SOLUTIONS / self.slug

    @property
    def grader_dir(self) -> Path:
        return paths.GRADERS / self.slug

    @property
    def page(self) -> str:
        """The kata's page, relative to the site root."""
        return f"katas/{self.slug}/"

    def rule_for(self, test_name: str) -> str | None:
        """The rule a grader test teaches, or None when the test only checks behaviour."""
        name = test_name.split("[", 1)[0]
        return self.lessons.get(name) or self.guards.get(name)


@cache
def load_katas(manifest: Path = paths.MANIFEST) -> tuple[Kata, ...]:
    """Every kata, in the order a learner should take them."""
    with manifest.open("rb") as handle:
        data = tomllib.load(handle)
    katas = []
    for position, table in enumerate(data.get("kata", []), start=1):
        try:
            katas.append(Kata.model_validate(table))
        except ValidationError as error:
            name = table.get("slug", f"number {position}")
            raise ManifestError(f"{manifest.name}: kata {name}: {error}") from None
    slugs = [kata.slug for kata in katas]
    if len(set(slugs)) != len(slugs):
        raise ManifestError(f"{manifest.name}: a kata slug appears twice")
    return tuple(katas)


def kata_by_slug() -> dict[str, Kata]:
    return {kata.slug: kata for kata in load_katas()}
