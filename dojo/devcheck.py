"""Prove one kata alone, in seconds: its starter fails its lessons, its solution passes, its decoys fail.

`uv run dojo dev check n_plus_one` (or `python -m dojo.devcheck n_plus_one`) grades the starter as
shipped, the reference solution, every decoy and every alternative of that kata only, on the database
`DATABASE_URL` names (SQLite by default), and prints one line each. A PostgreSQL-only decoy
(`[decoys_postgresql]`) is expected to fail on PostgreSQL; on SQLite it is graded and shown, with
nothing expected of it (a SQLite-only decoy, `[decoys_sqlite]`, the other way round). `--diff FILE` (repeatable) grades
further diffs against the solution, e.g. wrong fixes written by a reviewer, without adding them to
the manifest. The exit status is 1 when any verdict is not the one expected (a diff given with --diff
has no expected verdict), 2 when katas.toml is in a format this dojo does not read (`format_version`).
"""

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dojo import trees
from dojo.manifest import FORMAT_VERSION, Kata, format_version, kata_by_slug
from dojo.runner import Grading, grade


@dataclass(frozen=True)
class Verdict:
    """One grading of the kata: which tree, what was expected of it, and what it gave."""

    label: str
    expected: str  # "fail lessons", "pass", "fail", or "" when nothing is expected
    status: str
    failed: tuple[str, ...]
    ok: bool
    note: str = ""  # why nothing is expected, when that is not obvious

    def line(self) -> str:
        mark = "ok  " if self.ok else ("    " if not self.expected else "BAD ")
        said = "why" if self.status == "not applied" else "failed"
        failed = f"  {said}: {', '.join(self.failed)}" if self.failed else ""
        expected = self.expected or self.note or "-"
        return f"{mark}{self.label:<55} {self.status:<10} (expected: {expected}){failed}"


#: what a PostgreSQL-only decoy's line says on SQLite, where nothing is expected of it
SQLITE_NOTE = "- (a PostgreSQL-only decoy: on SQLite it is not expected to fail)"
#: what a SQLite-only decoy's line says on PostgreSQL, where nothing is expected of it
POSTGRESQL_NOTE = "- (a SQLite-only decoy: on PostgreSQL it is not expected to fail)"


def on_postgresql() -> bool:
    """Whether the gradings run on PostgreSQL (DATABASE_URL), where PostgreSQL-only decoys must fail."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def _judge(kata: Kata, label: str, expected: str, grading: Grading, note: str = "") -> Verdict:
    result = grading.katas.get(kata.slug)
    if result is None:
        return Verdict(label, expected, "not graded", (grading.output[-400:],), False, note)
    failed = tuple(sorted({t.test for t in result.tests if t.outcome == "failed"}))
    teaching = set(kata.lessons) | set(kata.guards)
    if expected == "pass":
        ok = result.status in ("solved", "incomplete") and not failed
    elif expected == "fail lessons":
        ok = bool(failed) and all(name.split("[")[0] in kata.lessons for name in failed)
    elif expected == "fail":
        ok = any(name.split("[")[0] in teaching for name in failed)
    else:
        ok = True
    return Verdict(label, expected, result.status, failed, ok, note)


def _patched(kata: Kata, diff: Path, root: Path) -> Path | str:
    """The tree with the diff applied, or, when it does not apply, git's reason in one line."""
    try:
        return trees.patched_tree(kata.slug, diff, root)
    except trees.DiffDoesNotApplyError as error:
        reasons = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        return reasons[0] if reasons else "git apply refused it"


def prove(slug: str, extra: list[Path], workers: int = 2, only_extra: bool = False) -> list[Verdict]:
    """Every verdict of one kata: starter, solution, decoys, alternatives, and the extra diffs given.

    With `only_extra`, only the extra diffs are graded."""
    kata = kata_by_slug()[slug]
    target = [f"katas/{slug}"]
    with tempfile.TemporaryDirectory(prefix=f"dojo-devcheck-{slug}-") as tmp:
        base = Path(tmp)
        jobs: dict[tuple[str, str, str], Callable[[], Grading]] = {}
        unapplied: dict[tuple[str, str, str], str] = {}  # git's reason, for a diff that does not apply
        starter = trees.starter_tree(base / "starter" / "katas")
        jobs[("starter", "fail lessons", "")] = lambda: grade(target, kata_root=starter)
        jobs[("solution", "pass", "")] = lambda: grade([*target, "--solutions"])
        if only_extra:
            jobs.clear()
        for kind, names, path_of, expected in (
            ("decoy", {} if only_extra else kata.decoys, kata.decoy_path, "fail"),
            ("alternative", {} if only_extra else kata.alternatives, kata.alternative_path, "pass"),
        ):
            for name in names:
                root = _patched(kata, path_of(name), base / f"{kind}-{name}")
                caught = kind != "decoy" or kata.caught_on(name, on_postgresql())
                note = "" if caught else (POSTGRESQL_NOTE if on_postgresql() else SQLITE_NOTE)
                key = (f"{kind} {name}", expected if caught else "", note)
                if isinstance(root, str):
                    unapplied[key] = root
                else:
                    jobs[key] = partial(grade, target, kata_root=root)
        for diff in extra:
            root = _patched(kata, diff.resolve(), base / f"diff-{diff.stem}")
            if isinstance(root, str):
                unapplied[(f"diff {diff.name}", "", "")] = root
            else:
                jobs[(f"diff {diff.name}", "", "")] = partial(grade, target, kata_root=root)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {key: pool.submit(job) for key, job in jobs.items()}
            graded = [
                _judge(kata, label, expected, future.result(), note)
                for (label, expected, note), future in futures.items()
            ]
    refused = [
        Verdict(label, expected, "not applied", (reason,), False, note)
        for (label, expected, note), reason in unapplied.items()
    ]
    return graded + refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.devcheck", description=__doc__.splitlines()[0])
    parser.add_argument("slug", choices=sorted(kata_by_slug()))
    parser.add_argument("--diff", type=Path, action="append", default=[], help="a further diff against the solution")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only-diffs", action="store_true", help="grade the --diff files only")
    args = parser.parse_args(argv)
    found = format_version()
    if found != FORMAT_VERSION:
        print(
            f"katas.toml says format_version = {found}; this dojo reads format {FORMAT_VERSION}: "
            "update the manifest (or the dojo) first",
            file=sys.stderr,
        )
        return 2
    verdicts = prove(args.slug, args.diff, args.workers, only_extra=args.only_diffs)
    for verdict in verdicts:
        print(verdict.line())
    return 0 if all(verdict.ok for verdict in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
