"""MkDocs hooks: add the generated pages and navigation, and frame the hand-written rule pages."""

from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from dojo import site
from dojo.manifest import load_katas
from dojo.rules import load_rules

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
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    uri = page.file.src_uri
    if uri.startswith("rules/") and uri != "rules/index.md":
        rule = load_rules().get(uri.removeprefix("rules/").removesuffix(".md").upper())
        if rule is not None:
            return site.rule_page_header(rule) + markdown + site.rule_page_footer(rule)
    return markdown
