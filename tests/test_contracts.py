"""Every check of every kata grades a line of its README's Contract, and every line is graded.

A kata's README is its contract with the learner: a check that grades something the README never
states fails right fixes for reasons the learner cannot know, and a contract line no check grades is a
promise nobody keeps. Each grader check names the lines it enforces with `@pytest.mark.contract(N, …)`.
"""

import ast
import re

import pytest

from dojo.manifest import Kata, load_katas

KATAS = load_katas()
_ITEM = re.compile(r"^(\d+)\. ")
#: the line every contract carries: the fix is judged against the whole standard, not only the lesson
STANDARD_LINE = "The fix obeys the whole [backend standard]"


def contract_items(readme: str) -> dict[int, str]:
    """The numbered lines under the README's `## Contract` heading, by number."""
    items: dict[int, str] = {}
    inside = False
    current: int | None = None
    for line in readme.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Contract"
            current = None
            continue
        if not inside:
            continue
        match = _ITEM.match(line)
        if match:
            current = int(match.group(1))
            items[current] = line[match.end() :].strip()
        elif current is not None and line.strip():
            items[current] += " " + line.strip()
    return items


def _contract_numbers(decorator: ast.expr) -> list[int] | None:
    """The numbers of a `@pytest.mark.contract(…)` decorator, or None for any other decorator."""
    if not isinstance(decorator, ast.Call) or ast.unparse(decorator.func) != "pytest.mark.contract":
        return None
    numbers = [arg.value for arg in decorator.args if isinstance(arg, ast.Constant) and isinstance(arg.value, int)]
    assert len(numbers) == len(decorator.args) > 0, f"contract() takes line numbers: {ast.unparse(decorator)}"
    return numbers


def graded_lines(kata: Kata) -> dict[str, list[int]]:
    """Each check of the kata's grader (`module::test`), and the contract lines it names."""
    checks: dict[str, list[int]] = {}
    for module in sorted(kata.grader_dir.glob("test_*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                numbers = [n for d in node.decorator_list for n in (_contract_numbers(d) or [])]
                checks[f"{module.name}::{node.name}"] = numbers
    if kata.edits is not None:  # the harness's files-to-edit guard, from the kata's [edits] table
        checks["[edits]::test_only_the_files_to_edit_were_changed"] = (
            [kata.edits.contract] if kata.edits.contract else []
        )
    return checks


def by_slug(kata: Kata) -> str:
    return kata.slug


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_every_check_grades_a_line_of_the_contract_and_every_line_is_graded(kata: Kata) -> None:
    readme = (kata.starter_dir / "README.md").read_text(encoding="utf-8")
    items = contract_items(readme)
    assert items, f"katas/{kata.slug}/README.md has no numbered list under '## Contract'"
    assert sorted(items) == list(range(1, len(items) + 1)), f"the contract's lines are not numbered 1..n: {items}"
    checks = graded_lines(kata)
    unmapped = sorted(name for name, numbers in checks.items() if not numbers)
    assert not unmapped, f"these checks name no contract line (@pytest.mark.contract(N)): {unmapped}"
    unknown = {name: numbers for name, numbers in checks.items() if set(numbers) - set(items)}
    assert not unknown, f"these checks name contract lines the README does not have: {unknown}"
    graded = {number for numbers in checks.values() for number in numbers}
    # the standard's line is graded by the checks the harness gives every kata (dojo/standard_guards.py)
    graded |= {number for number, text in items.items() if text.startswith(STANDARD_LINE)}
    ungraded = {number: items[number] for number in sorted(set(items) - graded)}
    assert not ungraded, f"no check grades these contract lines: {ungraded}"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_every_contract_holds_the_fix_to_the_whole_standard(kata: Kata) -> None:
    items = contract_items((kata.starter_dir / "README.md").read_text(encoding="utf-8"))
    assert any(text.startswith(STANDARD_LINE) for text in items.values()), (
        f"katas/{kata.slug}/README.md's contract has no line starting {STANDARD_LINE!r}"
    )


def test_the_contract_parser_reads_wrapped_numbered_lines() -> None:
    readme = "# T\n\n## Contract\n\n1. One\n   wrapped.\n2. Two.\n\n## Next\n\n3. Not part of it.\n"
    assert contract_items(readme) == {1: "One wrapped.", 2: "Two."}
