"""A temporary clone of the dojo for the tests of `uv run dojo` and of the starter's owner.

The clone holds the katas as committed (hermetic while others write new ones) and this harness, in a
git repository of its own; each test gets a fresh copy, and `paths.repo()` points at it meanwhile.
"""

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dojo import cli, paths
from dojo.cli import core, watch
from dojo.manifest import Kata, load_katas

from .conftest import grading_env

GIT = ["git", "-c", "user.name=Dojo Tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"]
COMMITTED = ["katas", "katas.lock", "solutions", "graders", "katas.toml", "rules.toml", "pyproject.toml", ".gitignore"]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone-like copy: the katas as committed (hermetic while others write new ones), this harness."""
    root = tmp_path_factory.mktemp("dojo-clone") / "dojo"
    root.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD", *COMMITTED], cwd=paths.REPO, capture_output=True, check=False)
    if archive.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(root, filter="data")
    else:  # not a git checkout: the work tree as it is
        for name in COMMITTED:
            source = paths.REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                shutil.copy2(source, root / name)
    # the harness under test; `python -m pytest` in the clone imports it from there
    shutil.copytree(paths.REPO / "dojo", root / "dojo", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "the dojo as shipped"], cwd=root, check=True)
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the clone: `dojo` finds it from the working folder, the harness's modules from
    `paths.use_repo`."""
    root = tmp_path / "dojo"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root / "katas")  # any folder inside the clone will do
    monkeypatch.delenv("DOJO_REPO", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    for name, value in grading_env().items():
        monkeypatch.setenv(name, value)
    with paths.use_repo(root):
        yield root


def console(width: int = 200) -> tuple[core.Dojo, io.StringIO]:
    """A `Dojo` whose output goes to a buffer."""
    buffer = io.StringIO()
    return core.Dojo(out=Console(file=buffer, width=width), err=Console(file=buffer, width=width)), buffer


Run = Callable[..., tuple[int, str, str]]
SAVE_GAP = (watch.SAVE_GROUPING_MS + 300) / 1000  # long enough for two saves to make two batches


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`dojo ARGS…` in this process: (exit status, stdout, stderr); `answer=` is typed at a prompt."""

    def dojo(*args: str, answer: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        if answer is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        status = cli.main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return dojo


def katas(root: Path) -> tuple[Kata, ...]:
    return load_katas(root / "katas.toml")


def write_results(root: Path, statuses: dict[str, str]) -> None:
    """`.dojo/results.json` as the grading plugin writes it: one check per kata, passed or failed."""
    by_slug = {kata.slug: kata for kata in katas(root)}
    document: dict[str, Any] = {"tree": "katas/", "finished_at": "2026-03-02T10:00:00+00:00", "katas": {}}
    for slug, status in statuses.items():
        test, rule = next(iter(by_slug[slug].lessons.items()))
        failed = status != "passed"
        document["katas"][slug] = {
            "status": status,
            "tests": [
                {
                    "test": test,
                    "outcome": "failed" if failed else "passed",
                    "rule": rule,
                    "message": f"{slug} still breaks {rule}." if failed else "",
                    "broken": status == "broken",
                }
            ],
        }
    (root / ".dojo").mkdir(exist_ok=True)
    (root / ".dojo" / "results.json").write_text(json.dumps(document), encoding="utf-8")


def state(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((root / ".dojo" / "state.json").read_text(encoding="utf-8"))
    return loaded


def starter(root: Path, name: str) -> str:
    shown = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, capture_output=True, text=True, check=True)
    return shown.stdout


def solve(root: Path, slug: str, extra: str = "") -> None:
    for name in next(kata for kata in katas(root) if kata.slug == slug).files:
        code = (root / "solutions" / slug / name).read_text(encoding="utf-8")
        (root / "katas" / slug / name).write_text(code + extra, encoding="utf-8")
