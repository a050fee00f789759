"""Readable descriptions of a kata that cannot be loaded (syntax error, failing import, missing file, an exit)."""

import linecache
import traceback
from pathlib import Path

from dojo import paths

#: Katas of the active tree that could not be loaded, by slug: the reason, in words.
BROKEN: dict[str, str] = {}


def _restore_hint(slug: str) -> str:
    return (
        f"The other katas are still graded. Fix this file, or compare with the starter: "
        f"`git diff -- katas/{slug}`; `uv run dojo reset {slug}` restores the starter "
        "after backing up your files."
    )


def source_line(file: str, line: int) -> str:
    """The text of `file` at `line`, stripped ("" when it cannot be read)."""
    return linecache.getline(file, line).strip()


def describe_error(error: BaseException, kata_dir: Path) -> str:
    """Say where in the learner's files the error is, without a wall of harness traceback."""
    slug = kata_dir.name
    if isinstance(error, SystemExit):
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if Path(frame.filename).resolve().is_relative_to(kata_dir.resolve())
        ]
        where = f"{paths.shown(Path(frames[-1].filename))} calls" if frames else "The kata's code calls"
        at = f" at line {frames[-1].lineno}" if frames else ""
        lines = [
            f"{where} sys.exit({error.code!r}){at} while it is loaded: that would end the whole grading, "
            "so this kata cannot be graded."
        ]
        if frames and frames[-1].line:
            lines.append(f"    {frames[-1].line}")
        return "\n".join([*lines, "", _restore_hint(slug)])
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{paths.shown(Path(error.filename))}, line {error.lineno}"
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
            lines = [f"Loading {paths.shown(Path(last.filename))} failed at line {last.lineno}: {summary}"]
            if last.line:
                lines.append(f"    {last.line}")
        else:
            lines = [f"Loading the kata failed: {summary}"]
    lines += ["", _restore_hint(slug)]
    return "\n".join(lines)


def describe_exit(slug: str, code: int, file: str | None, line: int | None) -> str:
    """The kata's code called `os._exit`: the process is gone, and with it the grading of this kata."""
    if file and line:
        where = f"{paths.shown(Path(file))} calls os._exit({code}) at line {line}"
        text = source_line(file, line)
        shown_line = f"\n    {text}" if text else ""
    else:
        where, shown_line = f"The code of {slug} calls os._exit({code})", ""
    return f"{where}: that ends the process at once, so this kata cannot be graded.{shown_line}\n\n" + _restore_hint(
        slug
    )


def describe_stuck(slug: str, seconds: float, file: str | None, line: int | None) -> str:
    """Loading the kata did not finish in time (an endless loop at import, a sleep, a wait)."""
    if file and line:
        text = source_line(file, line)
        where = f" It was stuck in {paths.shown(Path(file))} at line {line}" + (f":\n    {text}" if text else ".")
    else:
        where = ""
    return (
        f"Loading {slug} did not finish within {seconds:g} s, so it was stopped.{where}\n"
        "Code that runs when a module is imported must not loop or wait: look for a loop that never ends "
        f"(the limit is DOJO_LOAD_TIMEOUT, in seconds).\n\n" + _restore_hint(slug)
    )


def describe_vanished(slug: str, how: str, during: str, output: str) -> str:
    """The kata's process ended without saying why (a crash, a signal)."""
    said = f"\nIt printed:\n{output}" if output.strip() else ""
    return f"The process grading {slug} ended unexpectedly ({how}) {during}.{said}\n\n" + _restore_hint(slug)


def describe_missing(kata_dir: Path) -> str:
    slug = kata_dir.name
    return (
        f"The kata folder {paths.shown(kata_dir)} is missing or has no __init__.py.\n\n"
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
