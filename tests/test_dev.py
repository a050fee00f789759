"""`uv run dojo dev ACTION`: the maintainers' tools under one command, and the manifest's format."""

import importlib
import re
from pathlib import Path

import pytest

from dojo import cli, dev, devcheck, paths, trees
from dojo.manifest import FORMAT_VERSION, format_version


def test_dojo_dev_lists_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dev", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("check", "lock", "mutate", "bench", "site"):
        assert re.search(rf"^  {action} ", out, re.MULTILINE), out


def test_an_unknown_action_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dev", "chek"]) == 2
    assert "no action 'chek'" in capsys.readouterr().err


@pytest.mark.parametrize("action", sorted(dev.ACTIONS))
def test_each_action_is_the_former_tool_itself(action: str) -> None:
    module, _before, _help = dev.ACTIONS[action]
    try:
        tool = importlib.import_module(module)
    except ModuleNotFoundError:  # a maintainer tool outside the maintainer group: said so, as the next test shows
        with pytest.raises(dev.MissingToolError, match="--group maintainer"):
            dev.load(action)
    else:
        assert dev.load(action) is tool.main


def test_an_action_whose_tool_is_not_installed_names_the_group_to_sync(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(dev.ACTIONS, "fuzz", ("no_such_maintainer_tool", (), "a tool that is not installed"))
    assert cli.main(["dev", "fuzz"]) == 2
    err = capsys.readouterr().err
    assert "needs no_such_maintainer_tool" in err
    assert "uv run --group maintainer dojo dev fuzz" in err


def test_a_module_of_our_own_that_is_missing_is_a_bug_not_a_missing_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dev.ACTIONS, "gone", ("dojo.no_such_module", (), "a module of ours that is gone"))
    with pytest.raises(ModuleNotFoundError):
        dev.load("gone")


def test_an_action_gets_its_own_arguments_after_the_fixed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 3

    import dojo.trees

    monkeypatch.setattr(dojo.trees, "main", fake_main)
    assert cli.main(["dev", "lock", "--quiet"]) == 3
    assert seen == [["--write-lock", "--quiet"]]


def test_the_manifest_declares_the_format_this_dojo_reads() -> None:
    assert format_version(paths.MANIFEST) == FORMAT_VERSION


def test_dev_check_refuses_a_manifest_of_another_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(devcheck, "format_version", lambda: FORMAT_VERSION + 1)
    monkeypatch.setattr(devcheck, "prove", lambda *args: pytest.fail("graded a manifest it cannot read"))
    assert devcheck.main(["n_plus_one"]) == 2
    assert f"format_version = {FORMAT_VERSION + 1}" in capsys.readouterr().err


def test_the_dojo_package_imports_nothing_from_the_tests() -> None:
    found = [
        str(path.relative_to(paths.REPO))
        for path in (paths.REPO / "dojo").rglob("*.py")
        if re.search(r"^\s*(from|import) tests\b", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert found == []


def test_a_diff_from_outside_the_clone_that_does_not_apply_is_named(tmp_path: Path) -> None:
    """`dojo dev check --diff` takes a reviewer's diff from anywhere: one that does not apply says which"""
    diff = tmp_path / "wrong_fix.diff"
    diff.write_text("--- a/services.py\n+++ b/services.py\n@@ -1,1 +1,1 @@\n-no such line\n+another\n")

    with pytest.raises(trees.DiffDoesNotApplyError, match=r"wrong_fix\.diff no longer applies to the solution"):
        trees.patched_tree("n_plus_one", diff, tmp_path / "tree")


def test_dev_check_says_a_diff_does_not_apply_in_one_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = tmp_path / "wrong_fix.diff"
    diff.write_text("--- a/services.py\n+++ b/services.py\n@@ -1,1 +1,1 @@\n-no such line\n+another\n")

    status = devcheck.main(["n_plus_one", "--diff", str(diff), "--only-diffs"])

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert len(out) == 1, out
    assert "diff wrong_fix.diff" in out[0]
    assert "not applied" in out[0]
    assert "why: error: patch failed: services.py:1" in out[0]
