"""The files-to-edit guard, written once: the harness adds it to every kata whose kata.toml has an
`[edits]` table, under the name graders used for it (`test_only_the_files_to_edit_were_changed`),
so that threat models, results and the browser's verdicts read it as before."""

from collections.abc import Callable

import pytest

from dojo.manifest import EDITS_CHECK, Kata


def check_for(kata: Kata) -> Callable[[], None]:
    """The guard of `kata`, as a check function with its markers and its title (its docstring)."""
    edits = kata.edits
    if edits is None:
        raise ValueError(f"{kata.slug} has no [edits] table")

    def guard() -> None:
        from dojo.grading import check, unexpected_edits

        edited = unexpected_edits(kata.slug, kata.files)
        check(
            not edited,
            f"You changed {', '.join(edited)}, which this kata asks you to leave as shipped: the fix belongs in "
            f"{', '.join(kata.files)}. {edits.why} Put the file back as shipped (`uv run dojo reset {kata.slug}` "
            f"restores the whole kata, after backing up your version) and {edits.fix}.",
        )

    guard.__name__ = guard.__qualname__ = EDITS_CHECK
    guard.__doc__ = edits.title
    marks = [pytest.mark.guard(edits.guard)]
    if edits.contract is not None:
        marks.append(pytest.mark.contract(edits.contract))
    guard.pytestmark = marks  # type: ignore[attr-defined]
    return guard


def add_to(module: pytest.Module, kata: Kata, items: list[pytest.Item | pytest.Collector]) -> None:
    """Add the kata's guard after the checks of its first grader file (where graders wrote it)."""
    if kata.edits is None or any(item.name == EDITS_CHECK for item in items):
        return
    first = min(kata.grader_dir.glob("test_*.py"), default=None)
    if first is None or first.resolve() != module.path.resolve():
        return
    items.append(pytest.Function.from_parent(module, name=EDITS_CHECK, callobj=check_for(kata)))
