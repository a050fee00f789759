"""The site's build step: `uv run dojo site` assembles the folder MkDocs builds from, `docs/.build/`.

MkDocs reads one folder. This one holds the hand-written pages and assets of `docs/`, copied as they
are, and the generated pages (`dojo.site`) at the paths their URLs need: a rule's hand-written body
`docs/rules/perf-2.md` becomes the framed page `docs/.build/rules/perf-2.md`, still served at
`/rules/perf-2/`. Only files whose content changed are written, and files that are no longer part of
the site are removed, so that `mkdocs serve` rebuilds once per change, not in a loop. The folder is
git-ignored except for `.gitkeep`, which lets MkDocs find it on a fresh clone before anything ran.
"""

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dojo import paths, site
from dojo.rules import load_rules

BUILD = paths.DOCS / ".build"
KEEP = ".gitkeep"
SOURCE_ONLY = {"ruff.toml"}  # the formatter's settings for the examples, not part of the site
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


def build(target: Path = BUILD) -> Written:
    """Generate the site's pages into `target`, the folder MkDocs builds from."""
    return write(contents(build=target), target)


def main(args: list[str]) -> int:
    """`uv run dojo site`: write the generated pages, then `mkdocs build` (or another builder) takes it."""
    parser = argparse.ArgumentParser(prog="dojo site", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing when it works")
    options = parser.parse_args(args)
    try:
        done = build()
    except SiteError as error:
        print(f"dojo site: {error}", file=sys.stderr)
        return 1
    if not options.quiet:
        where = BUILD.relative_to(paths.REPO)
        print(f"{where}/: {done.total} files, {len(done.written)} written, {len(done.removed)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
