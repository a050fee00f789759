"""The rule registry (`rules.toml`): a stable ID for every rule of the standard."""

import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from dojo import paths


class Rule(BaseModel):
    """One rule of the standard, with the words the standard uses for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z]+-[0-9]+$")
    section: str
    title: str
    text: str

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
    rules = [Rule.model_validate(table) for table in data.get("rule", [])]
    return {rule.id: rule for rule in rules}


def rule_url(rule_id: str) -> str:
    """Where a learner reads a rule: the page on the locally served site and its source file."""
    rule = load_rules()[rule_id]
    return f"{paths.SITE_URL}/{rule.page} (docs/{rule.source})"
