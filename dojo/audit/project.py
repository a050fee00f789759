"""What is audited: the project's root, its settings module, its interpreter, and its Python files."""

import ast
import io
import os
import re
import tokenize
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK

from dojo.audit.findings import Problem

# directories that hold no code of the project's own: environments, caches, build output, VCS
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", ".tox", ".nox", "node_modules", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", "site-packages", ".eggs", "htmlcov",
    "static", "staticfiles", "media",
})  # fmt: skip
MAX_FILE_BYTES = 1_000_000  # a bigger .py file is generated or vendored: listed as not audited
SETTINGS_ASSIGNMENT = re.compile(r"""DJANGO_SETTINGS_MODULE["']?\s*[,=:]\s*["']([\w.]+)["']""")


class NoProjectError(Exception):
    """PATH holds no Django project that the audit can find; the message says what it looked for."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relative: str

    @property
    def is_test(self) -> bool:
        parts = Path(self.relative).parts
        name = parts[-1]
        return (
            name.startswith(("test_", "tests_")) or name.endswith("_test.py")
            or name in {"conftest.py", "test.py", "tests.py"}
            or any(part in {"tests", "test"} for part in parts[:-1])
        )  # fmt: skip

    @property
    def is_migration(self) -> bool:
        return "migrations" in Path(self.relative).parts[:-1]


@dataclass
class Project:
    """The audited tree. `app_folder` is True when PATH is one app, audited with `--settings`."""

    root: Path
    settings: str | None
    python: str | None
    app_folder: bool
    import_paths: tuple[Path, ...]
    files: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    settings_given: bool = False  # named with --settings, not found in the project's files

    def relative(self, path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def discover(path: Path, *, settings: str | None, python: str | None, env: Mapping[str, str]) -> Project:
    """Find what PATH is: a project (manage.py or a settings module) or an app folder with `--settings`."""
    if not path.exists():
        raise NoProjectError(f"{path} does not exist.")
    if not path.is_dir():
        raise NoProjectError(f"{path} is not a directory: give the folder of a Django project.")
    root = path.resolve()
    settings_given = settings is not None
    app_folder = (root / "__init__.py").is_file() and not (root / "manage.py").is_file()
    project_root = _project_root(root) if app_folder else root
    if settings is None:
        settings = _settings_from_files(root)
    if settings is None:
        looked = "manage.py, pyproject.toml, pytest.ini, setup.cfg, and a settings.py with INSTALLED_APPS"
        raise NoProjectError(
            f"No Django project at {path}: found no settings module ({looked}). "
            "Give one with --settings MODULE (for one app folder, the settings of a project that installs it)."
        )
    import_paths = [project_root]
    if app_folder:
        import_paths.append(root.parent)
    else:
        import_paths.extend(_source_roots(root, settings))
    project = Project(
        root=root,
        settings=settings,
        python=python or find_python(project_root, env),
        app_folder=app_folder,
        import_paths=tuple(dict.fromkeys(import_paths)),
        settings_given=settings_given,
    )
    project.files = list(python_files(project))
    return project


def _project_root(app: Path) -> Path:
    for folder in app.parents:
        if any((folder / marker).exists() for marker in ("manage.py", "pyproject.toml", "setup.cfg", ".git")):
            return folder
    return app.parent


def _settings_from_files(root: Path) -> str | None:
    for name in ("manage.py", "pytest.ini", "setup.cfg", "tox.ini"):
        candidate = root / name
        if candidate.is_file():
            match = SETTINGS_ASSIGNMENT.search(read_text(candidate) or "")
            if match:
                return match.group(1)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(read_text(pyproject) or "")
        except tomllib.TOMLDecodeError:
            data = {}
        options = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
        if isinstance(options.get("DJANGO_SETTINGS_MODULE"), str):
            return str(options["DJANGO_SETTINGS_MODULE"])
    for candidate in sorted(root.glob("*/settings.py")) + sorted(root.glob("*/settings/__init__.py")):
        if "INSTALLED_APPS" in (read_text(candidate) or ""):
            module = candidate.relative_to(root).with_suffix("").as_posix().replace("/", ".")
            return module.removesuffix(".__init__")
    return None


def _source_roots(root: Path, settings: str) -> list[Path]:
    """Where the settings' top package lives (e.g. `src/` or `backend/`), when it is not at the root."""
    top = settings.split(".", 1)[0]
    if (root / top).is_dir() or (root / f"{top}.py").is_file():
        return []
    return [candidate.parent for candidate in sorted(root.glob(f"*/{top}")) if candidate.is_dir()][:1]


def find_python(start: Path, env: Mapping[str, str]) -> str | None:
    """The project's interpreter: its `.venv` (here or above), else the active virtualenv, else python3 on PATH."""
    for folder in (start, *start.parents):
        for venv in (".venv", "venv"):
            candidate = folder / venv / "bin" / "python"
            if candidate.exists():
                return str(candidate)
    if env.get("VIRTUAL_ENV"):
        candidate = Path(env["VIRTUAL_ENV"]) / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    for entry in env.get("PATH", "").split(os.pathsep):
        if entry and (Path(entry) / "python3").exists():
            return str(Path(entry) / "python3")
    return None


def python_files(project: Project) -> Iterator[SourceFile]:
    """Every .py file of the project's own, without following links out of the tree or round in loops."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(project.root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(
            name for name in dirs
            if name not in SKIPPED_DIRS and not name.endswith(".egg-info") and not (here / name / "pyvenv.cfg").exists()
        )  # fmt: skip
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            candidate = here / name
            try:
                stat = candidate.stat()
            except OSError as error:  # a dangling link, or a link that points at itself
                where = candidate.relative_to(project.root).as_posix()
                project.problems.append(Problem(where, f"not read: {error.strerror}"))
                continue
            if not S_ISREG(stat.st_mode):  # a pipe blocks, a device never ends: never opened
                where = candidate.relative_to(project.root).as_posix()
                project.problems.append(Problem(where, f"not read: {_kind(stat.st_mode)}, not a regular file"))
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            if stat.st_size > MAX_FILE_BYTES:
                project.problems.append(
                    Problem(
                        candidate.relative_to(project.root).as_posix(),
                        f"not audited: {stat.st_size:,} bytes, over {MAX_FILE_BYTES:,} (generated or vendored code?)",
                    )
                )
                continue
            yield SourceFile(candidate, candidate.relative_to(project.root).as_posix())


def _kind(mode: int) -> str:
    for test, name in ((S_ISFIFO, "a named pipe"), (S_ISCHR, "a character device"), (S_ISBLK, "a block device"),
                       (S_ISSOCK, "a socket"), (S_ISDIR, "a directory")):  # fmt: skip
        if test(mode):
            return name
    return "a special file"


class UnreadableError(ValueError):
    """A file the audit does not judge: not a regular file, too big, or not text in its declared encoding."""


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes of a regular file; a pipe, a device or a bigger file raises UnreadableError."""
    try:
        info = path.stat()
    except OSError as error:
        raise UnreadableError(f"not read: {error.strerror}") from None
    if not S_ISREG(info.st_mode):
        raise UnreadableError(f"not read: {_kind(info.st_mode)}, not a regular file")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableError(f"not audited: over {limit:,} bytes (generated or vendored code?)")
    return data


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str | None:
    """A project file's text for a check that reads it (manage.py, pyproject.toml, a Dockerfile), or None
    when it is not a regular file, is too big, or is not UTF-8."""
    try:
        return read_bounded(path, limit).decode("utf-8")
    except (UnreadableError, OSError, UnicodeDecodeError):
        return None


def decode_source(data: bytes) -> str:
    """A Python file's text in its declared encoding (PEP 263, UTF-8 by default); UnreadableError names the
    first byte that does not decode, so that the file is listed as not audited rather than judged garbled."""
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except SyntaxError as error:  # an unknown encoding named in the cookie
        raise UnreadableError(f"not audited: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise UnreadableError(
            f"not audited: not {error.encoding} text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def parse(source: SourceFile) -> tuple[ast.Module | None, list[str], SyntaxError | None]:
    """The file's syntax tree and lines, or the syntax error that stops it (the other files go on).
    UnreadableError when the file is not read (special, too big, undecodable): the caller lists it."""
    text = decode_source(read_bounded(source.path))
    lines = text.splitlines()
    try:
        return ast.parse(text, filename=source.relative), lines, None
    except SyntaxError as error:
        return None, lines, error
    except ValueError as error:  # null bytes
        return None, lines, SyntaxError(str(error), (source.relative, 1, 0, "", 1, 0))
