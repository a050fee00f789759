"""Readable descriptions of a kata that cannot be loaded (syntax error, failing import, missing file)."""

import traceback
from pathlib import Path

from dojo import paths

#: Katas of the active tree that could not be loaded, by slug: the reason, in words.
BROKEN: dict[str, str] = {}


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.REPO))
    except ValueError:
        return str(path)


def describe_error(error: BaseException, kata_dir: Path) -> str:
    """Say where in the learner's files the error is, without a wall of harness traceback."""
    slug = kata_dir.name
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{_shown(Path(error.filename))}, line {error.lineno}"
        lines = [f"Python cannot read {where}: {error.msg}."]
        if error.text:
            lines.append(f"    {error.text.rstrip()}")
            if error.offset:
                lines.append("    " + " " * (error.offset - 1) + "^")
    else:
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if Path(frame.filename).resolve().is_relative_to(kata_dir.resolve())
        ]
        summary = f"{type(error).__name__}: {error}"
        if frames:
            last = frames[-1]
            lines = [f"Loading {_shown(Path(last.filename))} failed at line {last.lineno}: {summary}"]
            if last.line:
                lines.append(f"    {last.line}")
        else:
            lines = [f"Loading the kata failed: {summary}"]
    lines += [
        "",
        f"The other katas are still graded. Fix this file, or compare with the starter: "
        f"`git diff -- katas/{slug}`; `uv run dojo reset {slug}` restores the starter "
        "after backing up your files.",
    ]
    return "\n".join(lines)


def describe_missing(kata_dir: Path) -> str:
    slug = kata_dir.name
    return (
        f"The kata folder {_shown(kata_dir)} is missing or has no __init__.py.\n\n"
        f"Restore it with `git checkout -- katas/{slug}` or `uv run dojo reset {slug}`."
    )


def unreadable_migration(kata_dir: Path) -> str | None:
    """The first migration of a kata that Python cannot parse, described; None when all parse."""
    for migration in sorted((kata_dir / "migrations").glob("*.py")):
        try:
            compile(migration.read_bytes(), str(migration), "exec")
        except SyntaxError as error:
            return describe_error(error, kata_dir)
    return None
