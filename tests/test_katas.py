"""Integrity of every kata: it fails as shipped, passes solved, rejects its decoys and accepts its alternatives."""

import ast
import filecmp
import os
import re

import pytest

from dojo import paths
from dojo.manifest import EDITS_CHECK, Kata, load_katas
from dojo.runner import Grading, KataResult
from dojo.site import readme_title

from .conftest import Key
from .kata_trees import kata_files

# the session's gradings (starter and solutions; with --heavy, every decoy and alternative too) are set
# up by the first test that asks for them: its time limit must hold all of them, on a slow machine too
pytestmark = pytest.mark.timeout(2400)

KATAS = load_katas()
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
#: A PostgreSQL-only decoy is not graded on SQLite: there, whether it fails may hang on the data drawn
#: (SQLite's LIKE folds the case of ASCII letters only, say), so neither "fails" nor "passes" would be a
#: claim that holds; the skip says why, and CI's PostgreSQL pass holds the grader to rejecting it.
SQLITE_SKIP = pytest.mark.skip(reason="a PostgreSQL-only decoy ([decoys_postgresql]): it does no harm on SQLite")
#: A SQLite-only decoy (a LIKE without an escape character) is likewise not graded on PostgreSQL.
POSTGRESQL_SKIP = pytest.mark.skip(reason="a SQLite-only decoy ([decoys_sqlite]): it does no harm on PostgreSQL")
DECOYS = [
    pytest.param(
        kata,
        decoy,
        id=f"{kata.slug}-{decoy}",
        marks=() if kata.caught_on(decoy, ON_POSTGRESQL) else (POSTGRESQL_SKIP if ON_POSTGRESQL else SQLITE_SKIP),
    )
    for kata in KATAS
    for decoy in kata.decoys
]
ALTERNATIVES = [(kata, name) for kata in KATAS for name in kata.alternatives]


def by_slug(kata: Kata) -> str:
    return kata.slug


def result_for(grading: Grading, kata: Kata) -> KataResult:
    assert kata.slug in grading.katas, f"{kata.slug} was not graded at all:\n{grading.output[-3000:]}"
    return grading.katas[kata.slug]


def grader_tests(kata: Kata) -> set[str]:
    names = {EDITS_CHECK} if kata.edits is not None else set()  # the harness adds it from [edits]
    for module in kata.grader_dir.glob("test_*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        names |= {
            node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return names


def test_every_kata_folder_is_in_the_manifest() -> None:
    listed = {kata.slug for kata in KATAS}
    for tree in (paths.KATAS, paths.SOLUTIONS, paths.GRADERS):
        folders = {p.name for p in tree.iterdir() if p.is_dir() and p.name != "__pycache__"}
        assert folders == listed, f"{tree.name}/ holds {sorted(folders ^ listed)} but katas.toml does not agree"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_solution_mirrors_the_starter_and_differs_only_in_the_files_to_edit(kata: Kata) -> None:
    assert kata_files(kata.starter_dir) == kata_files(kata.solution_dir), (
        "katas/ and solutions/ must hold the same files"
    )
    for name in kata.files:
        assert (kata.starter_dir / name).is_file(), f"the manifest names {name}, which the kata does not have"
        assert not filecmp.cmp(kata.starter_dir / name, kata.solution_dir / name, shallow=False) or any(
            not filecmp.cmp(kata.starter_dir / other, kata.solution_dir / other, shallow=False) for other in kata.files
        )
    context = kata_files(kata.starter_dir) - set(kata.files)
    changed = [
        name
        for name in sorted(context)
        if not filecmp.cmp(kata.starter_dir / name, kata.solution_dir / name, shallow=False)
    ]
    assert changed == [], f"the solution changes {changed}, which the manifest does not list as files to edit"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_manifest_entry_matches_the_kata(kata: Kata) -> None:
    assert readme_title(kata) == kata.title, "the README's title and the manifest's title differ"
    tests = grader_tests(kata)
    assert tests, f"graders/{kata.slug}/ has no test_*.py with tests"
    unknown = (set(kata.lessons) | set(kata.guards)) - tests
    assert not unknown, f"the manifest names grader tests that do not exist: {sorted(unknown)}"
    for kind, names, path_of in (
        ("decoys", kata.decoys, kata.decoy_path),
        ("alternatives", kata.alternatives, kata.alternative_path),
    ):
        folder = kata.grader_dir / kind
        files = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
        assert files == {f"{name}.diff" for name in names}, f"graders/{kata.slug}/{kind}/ and kata.toml differ"
        for name in names:
            text = path_of(name).read_text(encoding="utf-8")
            changed = re.findall(r"^\+\+\+ b/(\S+)", text, flags=re.MULTILINE)
            assert changed, f"{name} changes nothing"
            # a new file: from /dev/null (git diff), or from an empty file at its first hunk (diff -N)
            created = set(re.findall(r"^--- /dev/null\n\+\+\+ b/(\S+)", text, flags=re.MULTILINE))
            created |= set(re.findall(r"^\+\+\+ b/(\S+)[^\n]*\n@@ -0,0 ", text, flags=re.MULTILINE))
            for changed_name in set(changed) - created:
                assert (kata.solution_dir / changed_name).is_file(), f"{name} changes {changed_name}, not in the kata"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_solution_passes_every_check(kata: Kata, gradings: dict[Key, Grading], on_postgresql: bool) -> None:
    result = result_for(gradings[("solutions",)], kata)
    not_passed = [(t.test, t.outcome, t.message) for t in result.tests if t.outcome != "passed"]
    if not on_postgresql:  # PostgreSQL-only checks are skipped on SQLite, and run in CI's second pass
        not_passed = [entry for entry in not_passed if entry[1] != "skipped"]
    assert not not_passed, f"the reference solution of {kata.slug} does not pass: {not_passed}"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_starter_fails_its_lessons_and_nothing_else(
    kata: Kata, gradings: dict[Key, Grading], on_postgresql: bool
) -> None:
    result = result_for(gradings[("starter",)], kata)
    assert result.status == "failing", f"{kata.slug} is already solved as shipped"
    for test in kata.lessons:
        outcome = result.outcome_of(test)
        allowed = {"failed"} if on_postgresql else {"failed", "skipped"}
        assert outcome in allowed, f"lesson {test} must fail on the starter; it {outcome}"
    assert any(result.outcome_of(test) == "failed" for test in kata.lessons)
    lessons = set(kata.lessons)
    others = [t for t in result.tests if t.test.split("[")[0] not in lessons and t.outcome == "failed"]
    assert not others, f"on the starter, checks that are not the lesson fail: {[(t.test, t.message) for t in others]}"


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_starter_failures_name_the_rule_and_its_page(kata: Kata, gradings: dict[Key, Grading]) -> None:
    grading = gradings[("starter",)]
    result = result_for(grading, kata)
    failed = [test for test in kata.lessons if result.outcome_of(test) == "failed"]
    output = grading.output
    for rule_id in {kata.lessons[test] for test in failed}:
        assert f"rule {rule_id}" in output
        assert f"/rules/{rule_id.lower()}/" in output


def reference_named_in(messages: list[str]) -> list[str]:
    """The failure messages that name a file of the reference solutions (a printed oracle, a traceback)."""
    return [message for message in messages if str(paths.SOLUTIONS) in message or "solutions/" in message]


@pytest.mark.parametrize("kata", KATAS, ids=by_slug)
def test_starter_failures_do_not_show_the_reference(kata: Kata, gradings: dict[Key, Grading]) -> None:
    """A failing example prints its arguments (the reference, as the oracle, among them): never its path."""
    result = result_for(gradings[("starter",)], kata)
    assert not reference_named_in([t.message for t in result.tests if t.outcome == "failed"])


@pytest.mark.heavy
@pytest.mark.parametrize(("kata", "decoy"), DECOYS)
def test_grader_rejects_decoy(kata: Kata, decoy: str, gradings: dict[Key, Grading]) -> None:
    result = result_for(gradings[("decoy", kata.slug, decoy)], kata)
    teaching = set(kata.lessons) | set(kata.guards)
    caught = [t.test for t in result.tests if t.outcome == "failed" and t.test.split("[")[0] in teaching]
    assert caught, f"decoy {decoy} ({kata.decoys[decoy]}) passes every lesson and guard check of {kata.slug}"
    assert not reference_named_in([t.message for t in result.tests if t.outcome == "failed"])


@pytest.mark.heavy
@pytest.mark.parametrize(("kata", "name"), ALTERNATIVES, ids=[f"{k.slug}-{n}" for k, n in ALTERNATIVES])
def test_grader_accepts_alternative(kata: Kata, name: str, gradings: dict[Key, Grading], on_postgresql: bool) -> None:
    result = result_for(gradings[("alternative", kata.slug, name)], kata)
    not_passed = [(t.test, t.outcome, t.message) for t in result.tests if t.outcome != "passed"]
    if not on_postgresql:
        not_passed = [entry for entry in not_passed if entry[1] != "skipped"]
    assert not not_passed, f"alternative {name} ({kata.alternatives[name]}) is a correct fix, but: {not_passed}"
