"""The kata manifest (`katas.toml`): the one list of katas that the graders, the site and the tools read."""

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dojo import paths
from dojo.rules import load_rules
from dojo.tomlcheck import Table, TableError

DIFFICULTIES = ("beginner", "intermediate", "advanced")
FIELDS = {
    "slug", "title", "rules", "difficulty", "minutes", "files", "hints",
    "lessons", "guards", "decoys", "discussion", "migrations",
}  # fmt: skip


class ManifestError(ValueError):
    """The manifest is malformed; the message names the kata and the field."""


@dataclass(frozen=True)
class Kata:
    """One kata: its metadata, where its files are, and which grader tests carry its lesson."""

    slug: str
    title: str
    rules: tuple[str, ...]
    difficulty: str
    minutes: int
    files: tuple[str, ...]
    hints: tuple[str, ...]
    lessons: dict[str, str] = field(hash=False)
    guards: dict[str, str] = field(hash=False)
    decoys: dict[str, str] = field(hash=False)
    discussion: tuple[str, ...] = ()
    migrations: bool = False

    @classmethod
    def from_table(cls, data: dict[str, object], where: str) -> "Kata":
        """Read and check one `[[kata]]` table."""
        table = Table(data, where, FIELDS)
        kata = cls(
            slug=table.text("slug", pattern=r"[a-z][a-z0-9_]{2,39}"),
            title=table.text("title"),
            rules=table.texts("rules", at_least=1),
            difficulty=table.text("difficulty", choices=DIFFICULTIES),
            minutes=table.number("minutes", low=5, high=60),
            files=table.texts("files", at_least=1),
            hints=table.texts("hints", at_least=2),
            lessons=table.mapping("lessons", at_least=1),
            guards=table.mapping("guards", at_least=0, default={}),
            decoys=table.mapping("decoys", at_least=1),
            discussion=table.texts("discussion", at_least=0, default=()),
            migrations=table.flag("migrations", default=False),
        )
        known = load_rules()
        for rule_id in (*kata.rules, *kata.lessons.values(), *kata.guards.values()):
            if rule_id not in known:
                raise TableError(f"{where}: unknown rule {rule_id!r} (rules.toml lists the rule IDs)")
        for rule_id in (*kata.lessons.values(), *kata.guards.values()):
            if rule_id not in kata.rules:
                raise TableError(f"{where}: lesson rule {rule_id!r} is missing from the kata's rules")
        return kata

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
        where = f"{manifest.name}: kata {table.get('slug', f'number {position}')}"
        try:
            katas.append(Kata.from_table(table, where))
        except TableError as error:
            raise ManifestError(str(error)) from None
    slugs = [kata.slug for kata in katas]
    if len(set(slugs)) != len(slugs):
        raise ManifestError(f"{manifest.name}: a kata slug appears twice")
    return tuple(katas)


def kata_by_slug() -> dict[str, Kata]:
    return {kata.slug: kata for kata in load_katas()}
