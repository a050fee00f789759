"""The rule registry (`rules.toml`): a stable ID for every rule of the standard."""

import tomllib
from dataclasses import dataclass
from functools import cache
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


@cache
def load_rules(registry: Path = paths.RULES) -> dict[str, Rule]:
    """Every rule by ID, in the standard's order."""
    with registry.open("rb") as handle:
        data = tomllib.load(handle)
    rules = [
        Rule.from_table(table, f"{registry.name}: rule {table.get('id', number)}")
        for number, table in enumerate(data.get("rule", []), start=1)
    ]
    return {rule.id: rule for rule in rules}


def rule_url(rule_id: str) -> str:
    """Where a learner reads a rule: the page on the locally served site and its source file."""
    rule = load_rules()[rule_id]
    return f"{paths.SITE_URL}/{rule.page} (docs/{rule.source})"
