"""Where a report sends its reader: the rule's page and the katas that train it, on one site setting.

The site is `--site-url`, else `site-url` in the audited project's `[tool.dojo]` table (pyproject.toml),
else the `DOJO_SITE_URL` variable. With no published site, a link names the page's file in the dojo's
repository (`docs/rules/perf-2.md`, `katas/n_plus_one/README.md`): never a server on this machine.
"""

import tomllib
from functools import cache
from pathlib import Path

from dojo.rules import data_file, load_rules, page_url, site_url

MAX_PYPROJECT_BYTES = 1_000_000


def project_site(root: Path) -> str | None:
    """`[tool.dojo] site-url` from the project's pyproject.toml, if it sets one."""
    pyproject = root / "pyproject.toml"
    try:
        if not pyproject.is_file() or pyproject.stat().st_size > MAX_PYPROJECT_BYTES:
            return None
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    table = data.get("tool", {}).get("dojo", {})
    value = table.get("site-url") if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def resolve_site(given: str | None, root: Path) -> str:
    """The one site setting every output uses ("" when no site is published)."""
    if given is not None:
        return site_url(given)
    return site_url(project_site(root))


def rule_link(rule_id: str, site: str) -> str:
    rule = load_rules()[rule_id]
    return page_url(rule.page, f"docs/{rule.source}", site)


def audit_page(site: str) -> str:
    return page_url("audit/", "docs/audit.md", site)


@cache
def _katas_by_rule() -> dict[str, tuple[str, ...]]:
    try:
        with data_file("katas.toml").open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    found: dict[str, list[str]] = {}
    for kata in data.get("kata", []):
        for rule in kata.get("rules", []):
            found.setdefault(rule, []).append(kata["slug"])
    return {rule: tuple(slugs) for rule, slugs in found.items()}


def kata_links(rule_id: str, site: str) -> tuple[str, ...]:
    """The katas that train the rule, as links (their page, else their README in the repository)."""
    return tuple(
        page_url(f"katas/{slug}/", f"katas/{slug}/README.md", site) for slug in _katas_by_rule().get(rule_id, ())
    )
