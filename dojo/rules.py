"""The rule registry (`rules.toml`): a stable ID for every rule of the standard.

In a clone, `rules.toml` is read at the repository's root. An installed wheel carries a copy as package
data (`dojo/_data/`, put there by the build), so the audit and its Django system checks work without a
clone of the dojo.
"""

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from dojo import paths
from dojo.tomlcheck import Table


@dataclass(frozen=True)
class Rule:
    """One rule of the standard, with the words the standard uses for it."""

    id: str
    section: str
    title: str
    text: str

    @classmethod
    def from_table(cls, data: dict[str, object], where: str) -> "Rule":
        table = Table(data, where, {"id", "section", "title", "text"})
        return cls(
            id=table.text("id", pattern=r"[A-Z]+-[0-9]+"),
            section=table.text("section"),
            title=table.text("title"),
            text=table.text("text"),
        )

    @property
    def page(self) -> str:
        """The rule's page, relative to the site root (stable: derived from the ID only)."""
        return f"rules/{self.id.lower()}/"

    @property
    def source(self) -> str:
        """The rule's page as a file under `docs/`."""
        return f"rules/{self.id.lower()}.md"


SITE_URL_VARIABLE = "DOJO_SITE_URL"


def data_file(name: str) -> Path:
    """A file of the repository's root (`rules.toml`, `katas.toml`, `standard/…`): the clone's copy when
    there is one, else the copy an installed wheel carries under `dojo/_data/`."""
    in_clone = paths.repo().root / name
    if in_clone.exists():
        return in_clone
    return Path(str(resources.files("dojo") / "_data" / name))


@cache
def _load(registry: Path) -> dict[str, Rule]:
    with registry.open("rb") as handle:
        data = tomllib.load(handle)
    rules = [
        Rule.from_table(table, f"{registry.name}: rule {table.get('id', number)}")
        for number, table in enumerate(data.get("rule", []), start=1)
    ]
    return {rule.id: rule for rule in rules}


def load_rules(registry: Path | None = None) -> dict[str, Rule]:
    """Every rule by ID, in the standard's order (from the clone's `rules.toml`, else the wheel's copy)."""
    return _load(registry or data_file("rules.toml"))


def site_url(given: str | None = None) -> str:
    """Where the rule pages are published: `given` (`--site-url`, `[tool.dojo] site-url`), else the
    `DOJO_SITE_URL` variable; "" when no site is published (links then name the page's file)."""
    chosen = given if given is not None else os.environ.get(SITE_URL_VARIABLE, "")
    return chosen.strip().rstrip("/")


def page_url(page: str, source: str, site: str) -> str:
    """A page of the site (`rules/py-1/`) on the published site, or else its file in the repository."""
    base = site_url(site)
    return f"{base}/{page}" if base else source


def rule_url(rule_id: str, site: str | None = None) -> str:
    """Where a reader finds a rule. With `site` given (the audit's one setting): the page on that site, or
    `docs/rules/<id>.md` when it is "". Without: `DOJO_SITE_URL`, else the site a learner serves from the
    clone (`uv run mkdocs serve`), followed by the page's file."""
    rule = load_rules()[rule_id]
    if site is not None:
        return page_url(rule.page, f"docs/{rule.source}", site)
    return f"{site_url() or paths.SITE_URL}/{rule.page} (docs/{rule.source})"
