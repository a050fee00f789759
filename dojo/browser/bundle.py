"""What the in-browser runner writes into Pyodide's file system to grade one kata.

A bundle (`assets/runtime/katas/<slug>.json`) holds, by path in the repository: the harness (`dojo/`,
the manifest, the rules), the kata's grader, the shipped context files of `solutions/<slug>/` (which
`dojo.grading.unexpected_edits` compares with), and the starter of `katas/<slug>/`. The learner's edits
replace the editable files of the starter before each grading.
"""

from pathlib import Path

from dojo import paths
from dojo.manifest import Kata

# the katas whose whole grader runs on Pyodide, checked by tests/test_browser.py
IN_BROWSER = ("n_plus_one",)
# why the others cannot, in the words the kata page shows
SUBPROCESS = "its grader runs a program of its own (a subprocess), which the browser cannot start"
TIME_MACHINE = "its grader moves the clock with time-machine, a compiled library that the browser cannot load"
NOT_YET = "its grader has not yet been proven to give the command line's verdicts in the browser"
WHY_NOT = {
    "ruff_clean": SUBPROCESS,
    "type_hints": SUBPROCESS,
    "test_the_logic": SUBPROCESS,
    "cursor_pagination": TIME_MACHINE,
    "thin_router": TIME_MACHINE,
    "timestamps_and_names": TIME_MACHINE,
    "utc_datetimes": TIME_MACHINE,
}
HARNESS_SKIPPED = {"audit", "browser", "cli"}  # packages of dojo/ that grading never imports


def why_not(kata: Kata) -> str | None:
    """None when the kata runs in the browser, else the reason it does not."""
    return None if kata.slug in IN_BROWSER else WHY_NOT.get(kata.slug, NOT_YET)


def _texts(root: Path, folder: Path, *, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or path.suffix not in (".py", ".toml"):
            continue
        if any(part in skip or part == "__pycache__" for part in relative.parts):
            continue
        found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return found


def kata_bundle(kata: Kata) -> dict[str, object]:
    """The files to write, the editable ones, and the starter, for one kata."""
    root = paths.REPO
    files = _texts(root, root / "dojo", skip=HARNESS_SKIPPED)
    files |= {name: (root / name).read_text(encoding="utf-8") for name in ("katas.toml", "rules.toml")}
    # every grader: the manifest reads each kata's details and finds each lesson check in its source
    files |= _texts(root, paths.GRADERS, skip={"decoys", "alternatives"})
    context = _texts(root, paths.SOLUTIONS / kata.slug)
    files |= {name: text for name, text in context.items() if name.split("/", 2)[2] not in kata.files}
    starter = {
        path.relative_to(paths.KATAS / kata.slug).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((paths.KATAS / kata.slug).rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    return {
        "slug": kata.slug,
        "files": files,
        "editable": list(kata.files),
        "starter": starter,
        "hints": list(kata.hints),
    }
