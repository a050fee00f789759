"""No bytecode in the kata trees (`dojo.bytecode`), and the libraries' bytecode where Python keeps it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dojo import paths

PROBE = """
import sys
from pathlib import Path
from dojo import bytecode
kata, other = Path(sys.argv[1]), Path(sys.argv[2])
bytecode.keep_out_of(kata)
sys.path[:0] = [str(kata), str(other)]
import kata_app.models, other_app.models
print(sys.pycache_prefix)
"""


def _package(root: Path, name: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("", encoding="utf-8")
    (root / name / "models.py").write_text("VALUE = 1\n", encoding="utf-8")


def _bytecode_env() -> dict[str, str]:
    """This process's environment, with bytecode writing on, as on a learner's machine."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS")}
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def test_a_kata_tree_gets_no_bytecode_while_other_folders_keep_theirs(tmp_path: Path) -> None:
    kata, other = tmp_path / "kata", tmp_path / "other"
    _package(kata, "kata_app")
    _package(other, "other_app")

    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(kata), str(other)],
        cwd=paths.REPO,
        env=_bytecode_env(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert completed.stdout.strip() == "None"  # no prefix: the libraries' bytecode stays in the environment
    assert not list(kata.rglob("__pycache__"))
    assert list((other / "other_app" / "__pycache__").glob("models.*.pyc"))


def test_grading_a_tree_writes_no_bytecode_into_it_and_keeps_the_libraries_bytecode(tmp_path: Path) -> None:
    tree = tmp_path / "katas"
    shutil.copytree(paths.SOLUTIONS / "n_plus_one", tree / "n_plus_one", ignore=shutil.ignore_patterns("__pycache__"))
    seen = tmp_path / "seen.txt"
    with (tree / "n_plus_one" / "services.py").open("a", encoding="utf-8") as services:
        # what the grading process does with bytecode, as the kata's code sees it
        services.write(
            "\nimport os as _os, sys as _sys\n"
            "with open(_os.environ['SEEN'], 'w') as _seen:\n"
            "    _seen.write(f'{_sys.pycache_prefix} {_sys.dont_write_bytecode}')\n"
        )

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "katas/n_plus_one", "--kata-root", str(tree), "-p", "no:cacheprovider", "-q"],
        cwd=paths.REPO,
        env={**_bytecode_env(), "SEEN": str(seen)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-3000:]
    assert not list(tree.rglob("__pycache__")), "a grading wrote bytecode into the graded tree"
    assert not list(tree.rglob("*.pyc"))
    # neither moved (a prefix) nor switched off: with PYTHONDONTWRITEBYTECODE unset, libraries cache theirs
    assert seen.read_text(encoding="utf-8") == "None False"
