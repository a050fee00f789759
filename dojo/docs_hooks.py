"""MkDocs hooks: add the generated pages and navigation, and frame the hand-written rule pages.

Under `uv run mkdocs serve` (only then), the site also gets `dojo-status.json`: the learner's results
from `.dojo/`, which `assets/javascripts/dojo-status.js` shows on the kata pages and the progress page;
a grading rewrites `.dojo/results.json`, the site rebuilds and the open page reloads. A built or
published site carries the same file holding `null` (no learner, and no failed request in the
browser's console), and the status boxes stay empty.
"""

import json
from collections.abc import Callable
from typing import Any, Literal

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.livereload import LiveReloadServer
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from dojo import paths, progress, site
from dojo.manifest import load_katas
from dojo.rules import load_rules

STATUS_FILE = "dojo-status.json"
_serving = False


def on_startup(command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
    global _serving  # mkdocs keeps this module for the whole `serve`
    _serving = command == "serve"


GENERATED = {
    "standard.md": site.standard_page,
    "rules/index.md": site.rules_index,
    "rules/coverage.md": site.coverage_matrix,
    "katas/index.md": site.katas_index,
    "workshops/agendas.md": site.workshop_agendas,
    "workshops/katas.md": site.workshop_kata_notes,
    **{f"rules/{slug}/index.md": page for slug, page in site.section_pages().items()},
}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    nav: list[Any] = config.nav or []
    sections: dict[str, list[Any]] = {}
    for rule in load_rules().values():
        if rule.section not in sections:
            sections[rule.section] = [f"rules/{site.section_slug(rule.section)}/index.md"]
        sections[rule.section].append({f"{rule.id} · {rule.title}": rule.source})
    rules_nav: list[Any] = [
        "rules/index.md",
        "rules/coverage.md",
        *({name: pages} for name, pages in sections.items()),
    ]
    katas_nav: list[Any] = ["katas/index.md", *({k.title: f"katas/{k.slug}.md"} for k in load_katas())]
    for entry in nav:
        if isinstance(entry, dict) and "Rules" in entry:
            entry["Rules"] = rules_nav
        if isinstance(entry, dict) and "Katas" in entry:
            entry["Katas"] = katas_nav
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, render in GENERATED.items():
        files.append(File.generated(config, uri, content=render()))
    for kata in load_katas():
        files.append(File.generated(config, f"katas/{kata.slug}.md", content=site.kata_page(kata)))
    status = json.dumps(progress.site_status(paths.REPO), indent=2) if _serving else "null"
    files.append(File.generated(config, STATUS_FILE, content=status))
    return files


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: Callable[..., None]) -> LiveReloadServer:
    """Rebuild when a grading or `uv run dojo` writes the learner's state (not the backups below it)."""
    paths.STATE.mkdir(exist_ok=True)
    server.watch(str(paths.STATE), recursive=False)
    return server


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    uri = page.file.src_uri
    if uri.startswith("rules/") and uri != "rules/index.md":
        rule = load_rules().get(uri.removeprefix("rules/").removesuffix(".md").upper())
        if rule is not None:
            return site.rule_page_header(rule) + markdown + site.rule_page_footer(rule)
    return markdown
