"""`uv run dojo-audit-bench [PATH]`: how long the audit takes, next to `ruff check` alone on the same tree.

`ruff check` is the floor: the audit runs ruff and adds its own checks and a load of the project's
Django. Without PATH, the bench audits a project of about 50,000 lines, made in a temporary folder
from copies of the kata solutions, one app per copy.
"""

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ruff import find_ruff_bin  # type: ignore[import-untyped]

from dojo import paths
from dojo.manifest import load_katas

TARGET_LINES = 50_000
BUDGET_SECONDS = 10.0


def lines_of(root: Path) -> tuple[int, int]:
    files = [path for path in root.rglob("*.py") if ".venv" not in path.parts]
    return len(files), sum(len(path.read_bytes().splitlines()) for path in files)


def make_project(root: Path, target_lines: int = TARGET_LINES) -> Path:
    """A Django project whose apps are copies of the kata solutions, up to `target_lines` lines of Python."""
    (root / "bench").mkdir(parents=True)
    apps: list[str] = []
    copy = 0
    while lines_of(root)[1] < target_lines:
        copy += 1
        for kata in load_katas():
            label = f"{kata.slug}_{copy}"
            shutil.copytree(
                kata.solution_dir, root / "apps" / label, ignore=shutil.ignore_patterns("__pycache__", "migrations")
            )
            apps.append(f"apps.{label}")
    (root / "apps" / "__init__.py").write_text("")
    (root / "bench" / "__init__.py").write_text("")
    (root / "bench" / "urls.py").write_text("urlpatterns: list[object] = []\n")
    settings = [
        'SECRET_KEY = "bench"  # noqa: S105 - never deployed',
        f"INSTALLED_APPS = {apps!r}",
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}',
        'ROOT_URLCONF = "bench.urls"',
        "USE_TZ = True",
        'DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"',
    ]
    (root / "bench" / "settings.py").write_text("\n".join(settings) + "\n")
    (root / "manage.py").write_text('import os\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")\n')
    return root


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Sequence[str], cwd: Path) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of a command (CPU too: on a shared machine, wall time includes waiting)."""
    started, cpu = time.perf_counter(), _children_cpu()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603 - our tools
    return time.perf_counter() - started, _children_cpu() - cpu, completed.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dojo-audit-bench", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, help="a Django project (default: a generated one)")
    parser.add_argument("--python", help="the project's interpreter (default: found as the audit finds it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dojo-audit-bench-") as folder:
        root = args.path.resolve() if args.path else make_project(Path(folder) / "project")
        python = ["--python", args.python] if args.python else ["--python", sys.executable] if not args.path else []
        files, lines = lines_of(root)
        audit = [
            sys.executable,
            "-m",
            "dojo.audit.cli",
            str(root),
            *python,
            "--format",
            "json",
            "--output",
            "/dev/null",
        ]
        timed(audit, paths.REPO)  # once to warm the bytecode cache of the project's modules
        rows = [
            (
                "ruff check alone (the floor)",
                timed([find_ruff_bin(), "check", "--no-cache", "--quiet", "--exit-zero", "."], root),
            ),
            ("dojo audit --static-only", timed([*audit, "--static-only"], paths.REPO)),
            ("dojo audit, static and import-time", timed(audit, paths.REPO)),
        ]
        print(f"dojo audit on {root} ({files} Python files, {lines:,} lines; budget {BUDGET_SECONDS:.0f} s)")
        print(f"  {'':38} {'wall':>7} {'CPU':>7}")
        for name, (wall, cpu, _status) in rows:
            print(f"  {name:38} {wall:6.2f}s {cpu:6.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
