"""PY-1, PKG-1..3 and TEST-3's dependency: what the project's own files say about Python, uv and pytest."""

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from dojo.audit.findings import Finding
from dojo.audit.project import Project, read_text

OLD_PYTHON = re.compile(r"^3\.(?:[0-9]|1[01])(?:\.|$)")
PIP_COMMAND = re.compile(r"(?<![\w-])(?:pip3?\s+install|python3?\s+-m\s+pip\b|python3?\s+manage\.py)")
VENV_COMMAND = re.compile(r"(?<![\w-])(?:virtualenv\s|python3?\s+-m\s+venv\b|pipenv\s|poetry\s+install)")
SCRIPT_NAMES = ("Dockerfile", "Makefile", "justfile", "Procfile", "docker-compose.yml", "compose.yml", "tox.ini")
SCRIPT_GLOBS = ("*.sh", "Dockerfile.*", "*.Dockerfile", ".github/workflows/*.yml", ".github/workflows/*.yaml",
                ".gitlab-ci.yml", ".circleci/config.yml", "bin/*", "scripts/*",
                "*/Dockerfile", "*/Dockerfile.*", "*/*.Dockerfile", "docker/*.sh", "deploy/*.sh")  # fmt: skip


def _finding(project: Project, path: Path, line: int, rule: str, check: str, message: str, text: str = "") -> Finding:
    return Finding(project.relative(path), line, rule, check, message, text)


def check(project: Project) -> list[Finding]:
    if project.app_folder:
        return []
    return [*_python_version(project), *_uv_project(project), *_scripts(project), *_venvs(project), *_pytest(project)]


def _pyproject(project: Project) -> dict[str, object]:
    path = project.root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(read_text(path) or "")
    except tomllib.TOMLDecodeError:
        return {}


def _python_version(project: Project) -> Iterator[Finding]:
    data = _pyproject(project)
    project_table = data.get("project")
    requires = project_table.get("requires-python") if isinstance(project_table, dict) else None
    pinned = project.root / ".python-version"
    if isinstance(requires, str):
        lowest = re.search(r">=?\s*([0-9]+\.[0-9]+)", requires)
        if lowest is None or OLD_PYTHON.match(lowest.group(1)):
            yield _finding(
                project, project.root / "pyproject.toml", 1, "PY-1", "python-version",
                f"`requires-python = {requires!r}` allows a Python older than 3.12.",
            )  # fmt: skip
    if pinned.is_file():
        version = (read_text(pinned) or "").strip().splitlines()[:1]
        if version and OLD_PYTHON.match(version[0].removeprefix("python").removeprefix("cpython-")):
            yield _finding(
                project, pinned, 1, "PY-1", "python-version", f"`.python-version` pins {version[0]}, older than 3.12."
            )
    runtime = read_text(project.root / "runtime.txt") or ""  # a platform's pin (Heroku's `python-3.12.4`)
    if runtime.strip().startswith("python-"):
        runtime_version = runtime.strip().removeprefix("python-")
        if OLD_PYTHON.match(runtime_version):
            yield _finding(
                project, project.root / "runtime.txt", 1, "PY-1", "python-version",
                f"`runtime.txt` pins Python {runtime_version}, older than 3.12.",
            )  # fmt: skip
    elif not isinstance(requires, str) and not pinned.is_file():
        yield _finding(
            project, project.root, 1, "PY-1", "python-version",
            "Neither `requires-python` in pyproject.toml nor a `.python-version` says which Python the project needs.",
        )  # fmt: skip


def _uv_project(project: Project) -> Iterator[Finding]:
    root = project.root
    if not (root / "pyproject.toml").is_file():
        yield _finding(project, root, 1, "PKG-1", "uv-project", "No pyproject.toml: uv manages a project from one.")
    others = sorted(
        [*root.glob("requirements*.txt"), *root.glob("requirements/*.txt"), *root.glob("requirements/*.in"),
         *root.glob("Pipfile"), *root.glob("Pipfile.lock"), *root.glob("poetry.lock"), *root.glob("setup.py")]
    )  # fmt: skip
    # a pyproject.toml of tool settings only (no [project]) is no project of uv's: its requirements are the finding
    managed = "project" in _pyproject(project) or not others
    if (root / "pyproject.toml").is_file() and managed and not (root / "uv.lock").is_file():
        yield _finding(project, root / "pyproject.toml", 1, "PKG-1", "uv-project", "No uv.lock next to pyproject.toml.")
    for other in others:
        yield _finding(
            project,
            other,
            1,
            "PKG-1",
            "uv-project",
            f"`{other.name}` manages dependencies outside uv: move them to pyproject.toml.",
        )


def _script_files(project: Project) -> Iterator[Path]:
    seen: set[Path] = set()
    for name in SCRIPT_NAMES:
        candidate = project.root / name
        if candidate.is_file():
            seen.add(candidate)
            yield candidate
    for pattern in SCRIPT_GLOBS:
        for candidate in sorted(project.root.glob(pattern)):
            if candidate.is_file() and candidate not in seen and candidate.stat().st_size < 1_000_000:
                seen.add(candidate)
                yield candidate


def _scripts(project: Project) -> Iterator[Finding]:
    for path in _script_files(project):
        for number, line in enumerate((read_text(path) or "").splitlines(), start=1):
            if line.lstrip().startswith("#") or "uv pip" in line or "uv run" in line:
                continue
            match = PIP_COMMAND.search(line)
            if match:
                yield _finding(
                    project, path, number, "PKG-2", "pip-commands",
                    f"`{match.group(0)}` runs outside uv: use `uv sync` / `uv run`.", line.strip(),
                )  # fmt: skip
            venv = VENV_COMMAND.search(line)
            if venv:
                yield _finding(
                    project, path, number, "PKG-3", "venv-location",
                    f"`{venv.group(0).strip()}` makes an environment that uv does not manage.", line.strip(),
                )  # fmt: skip


def _venvs(project: Project) -> Iterator[Finding]:
    for candidate in sorted(project.root.iterdir()):
        if candidate.name != ".venv" and candidate.is_dir() and (candidate / "pyvenv.cfg").is_file():
            yield _finding(
                project, candidate, 1, "PKG-3", "venv-location",
                f"`{candidate.name}/` is a virtual environment; uv keeps the project's in `.venv`.",
            )  # fmt: skip


def _pytest(project: Project) -> Iterator[Finding]:
    texts = []
    for name in ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "uv.lock"):
        candidate = project.root / name
        if candidate.is_file():
            texts.append(read_text(candidate) or "")
    texts += [read_text(path) or "" for path in project.root.glob("requirements*.txt")]
    texts += [read_text(path) or "" for path in project.root.glob("requirements/*.txt")]
    if not any(re.search(r"pytest[-_]django", text) for text in texts):
        where = project.root / "pyproject.toml"
        yield _finding(
            project, where if where.is_file() else project.root, 1, "TEST-3", "pytest-style",
            "The project does not depend on pytest-django.",
        )  # fmt: skip
