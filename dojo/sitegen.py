"""The site's build step: `uv run dojo site` assembles the folder MkDocs builds from, `docs/.build/`.

MkDocs reads one folder. This one holds the hand-written pages and assets of `docs/`, copied as they
are, and the generated pages (`dojo.site`) at the paths their URLs need: a rule's hand-written body
`docs/rules/perf-2.md` becomes the framed page `docs/.build/rules/perf-2.md`, still served at
`/rules/perf-2/`. Only files whose content changed are written, and files that are no longer part of
the site are removed, so that `mkdocs serve` rebuilds once per change, not in a loop. The folder is
git-ignored except for `.gitkeep`, which lets MkDocs find it on a fresh clone before anything ran.

The navigation is ours too: the *Rules* and *Katas* entries of `mkdocs.yml`'s `nav`, between the two
marker comments, are written here from `rules.toml` and `katas.toml`. The configuration that is
committed holds the whole navigation, so a builder needs no plugin to fill it in; a test fails when
it is out of step with the registry and the manifest.
"""

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dojo import paths, site
from dojo.rules import load_rules

BUILD = paths.DOCS / ".build"
CONFIG = paths.REPO / "mkdocs.yml"
NAV_BEGIN = "# >>> the Rules and Katas entries: written by `uv run dojo site` from rules.toml and katas.toml"
NAV_END = "# <<< end of the written entries"
KEEP = ".gitkeep"
SOURCE_ONLY = {"ruff.toml", "conftest.py"}  # the examples' formatter settings and test set-up, not part of the site
STATUS = "dojo-status.json"  # the learner's status: `null` here, live under `mkdocs serve` (docs_hooks)


class SiteError(RuntimeError):
    """The hand-written pages and the generated ones disagree (e.g. a hand-written page where a
    generated one goes)."""


@dataclass
class Written:
    """What a build changed in the folder."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    total: int = 0


def hand_written(source: Path = paths.DOCS, build: Path = BUILD) -> dict[str, bytes]:
    """The files of `docs/` that the site shows as they are, by path relative to `docs/`."""
    found = {}
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.is_relative_to(build):
            continue
        relative = path.relative_to(source)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
        if not hidden and relative.as_posix() not in SOURCE_ONLY:
            found[relative.as_posix()] = path.read_bytes()
    return found


def contents(source: Path = paths.DOCS, build: Path = BUILD) -> dict[str, bytes]:
    """Every file of the folder MkDocs builds from, by path relative to it."""
    files = hand_written(source, build)
    rules = {rule.source for rule in load_rules().values()}
    missing = sorted(rule for rule in rules if rule not in files)
    if missing:
        raise SiteError(f"rules without a page under docs/: {', '.join(missing)}")
    generated = site.generated_pages({rule: files[rule].decode("utf-8") for rule in rules})
    clashes = sorted(set(generated) & set(files) - rules)
    if clashes:
        raise SiteError(f"generated pages, not to be written by hand under docs/: {', '.join(clashes)}")
    files |= {name: text.encode("utf-8") for name, text in generated.items()}
    files[STATUS] = b"null\n"
    return files


def write(files: dict[str, bytes], build: Path = BUILD) -> Written:
    """Make `build` hold exactly `files` (and `.gitkeep`), touching only what differs."""
    done = Written(total=len(files))
    for name, content in files.items():
        target = build / name
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        done.written.append(name)
    for path in sorted(build.rglob("*"), reverse=True):  # children before their folders
        relative = path.relative_to(build).as_posix()
        if path.is_file() and relative not in files and relative != KEEP:
            path.unlink()
            done.removed.append(relative)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return done


def _scalar(text: str) -> str:
    """`text` as a YAML scalar: plain where YAML allows it, quoted where it does not (a title with ': ')."""
    return yaml.safe_dump(text, allow_unicode=True, width=10_000).removesuffix("\n...\n").rstrip("\n")


def nav_lines(entries: list[object], indent: int) -> list[str]:
    """MkDocs' `nav` entries (a page, `{title: page}` or `{title: [entries]}`) as YAML lines, in the
    layout of the hand-written entries of `mkdocs.yml`."""
    pad = " " * indent
    lines = []
    for entry in entries:
        if not isinstance(entry, dict):
            lines.append(f"{pad}- {_scalar(str(entry))}")
            continue
        for title, value in entry.items():
            if isinstance(value, list):
                lines.append(f"{pad}- {_scalar(str(title))}:")
                lines += nav_lines(value, indent + 4)
            else:
                lines.append(f"{pad}- {_scalar(str(title))}: {_scalar(str(value))}")
    return lines


def configured(text: str) -> str:
    """The text of `mkdocs.yml` with the *Rules* and *Katas* entries between its markers as the
    registry and the manifest give them today."""
    lines = text.splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    try:
        begin = stripped.index(NAV_BEGIN)
        end = stripped.index(NAV_END, begin)
    except ValueError:
        raise SiteError(
            f"mkdocs.yml: nav has no lines {NAV_BEGIN!r} and {NAV_END!r} around its Rules and Katas"
        ) from None
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    written = "".join(f"{line}\n" for line in nav_lines(site.nav_sections(), indent))
    return "".join(lines[: begin + 1]) + written + "".join(lines[end:])


def write_config(config: Path = CONFIG) -> bool:
    """Write the *Rules* and *Katas* navigation into `config`; whether that changed the file."""
    text = config.read_text(encoding="utf-8")
    updated = configured(text)
    if updated == text:
        return False
    config.write_text(updated, encoding="utf-8")
    return True


def build(target: Path = BUILD) -> Written:
    """Generate the site's pages into `target`, the folder MkDocs builds from."""
    return write(contents(build=target), target)


def main(args: list[str]) -> int:
    """`uv run dojo site`: write the pages and the navigation, then `mkdocs build` (or another builder)."""
    parser = argparse.ArgumentParser(prog="dojo site", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing when it works")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if mkdocs.yml's navigation is out of step"
    )
    options = parser.parse_args(args)
    config = CONFIG.name
    try:
        if options.check:
            text = CONFIG.read_text(encoding="utf-8")
            if configured(text) != text:
                print(f"dojo site: {config}: the Rules and Katas navigation is out of step; run `uv run dojo site`")
                return 1
            return 0
        done = build()
        rewritten = write_config(CONFIG)
    except SiteError as error:
        print(f"dojo site: {error}", file=sys.stderr)
        return 1
    if not options.quiet:
        where = BUILD.relative_to(paths.REPO)
        print(f"{where}/: {done.total} files, {len(done.written)} written, {len(done.removed)} removed")
        print(f"{config}: navigation {'rewritten' if rewritten else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
