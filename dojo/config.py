"""The dojo's configuration: the one reader of the `DOJO_*` environment variables.

Each variable is read here and nowhere else; modules ask for a value, typed, with its default. The
variables are of two kinds:

* settings a person may give: `DOJO_GRADER_TIMEOUT` (one check, seconds), `DOJO_LOAD_TIMEOUT`
  (loading a kata), `DOJO_KATA_TIMEOUT` (one kata's whole grading), `DOJO_JOBS` (kata processes at
  once), `DOJO_START=spawn` (never fork), `DOJO_IN_PROCESS=1` (no kata processes: the browser),
  `DOJO_REPO` (the clone `dojo` works in), `DOJO_TEST_DB` (the test database's name),
  `DOJO_STOP_AT_FIRST_LESSON=1` (a kata's grading ends at its first failed lesson or guard check);
* what a grading hands to the processes it starts: `DOJO_KATA_ROOT` (the tree graded), `DOJO_KATAS`
  (the katas whose apps Django installs), `DOJO_CHILD_KATA` and `DOJO_CHANNEL` (a spawned kata
  process's kata and the file it reports to).

The time limits are read when the grading's process starts (its modules' constants); the values a
grading hands on are read when they are needed, as the grading sets them while it starts.
`dojo/audit/plugin.py` is outside this rule: it runs in another project's interpreter and reads its
own `DOJO_AUDIT_*` variables.
"""

import os
from pathlib import Path

from dojo import paths

CHILD_KATA = "DOJO_CHILD_KATA"
CHANNEL = "DOJO_CHANNEL"
KATA_ROOT = "DOJO_KATA_ROOT"
KATAS = "DOJO_KATAS"


def _seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def grader_timeout() -> float:
    """How long one check may run (pytest-timeout's limit on each grader check)."""
    return _seconds("DOJO_GRADER_TIMEOUT", 10)


def load_timeout() -> float:
    """How long a kata may take to load (Django set-up, importing its modules, collecting its checks)."""
    return _seconds("DOJO_LOAD_TIMEOUT", 20)


def kata_timeout() -> float:
    """How long one kata's whole grading may take before its process is stopped."""
    return _seconds("DOJO_KATA_TIMEOUT", 300)


def in_process() -> bool:
    """Grade every kata in this one process (no isolation): for platforms with neither fork nor subprocesses."""
    return os.environ.get("DOJO_IN_PROCESS") == "1"


def stop_at_first_lesson() -> bool:
    """End a kata's grading at its first failed lesson or guard check: for a grading that asks only
    whether a kata is rejected (the integrity tests' decoys). The kata fails either way."""
    return os.environ.get("DOJO_STOP_AT_FIRST_LESSON") == "1"


def jobs_wanted() -> int | None:
    """The number of kata processes asked for (None: as many as CPUs)."""
    wanted = os.environ.get("DOJO_JOBS", "")
    return int(wanted) if wanted.isdigit() else None


def spawn_only() -> bool:
    """Start kata processes as new interpreters, never by forking."""
    return os.environ.get("DOJO_START") == "spawn"


def repo_override() -> str | None:
    """The clone `dojo` works in, when given (`DOJO_REPO`)."""
    return os.environ.get("DOJO_REPO") or None


def test_database() -> str | None:
    """The test database's name, when given (each grading of the integrity tests has its own)."""
    return os.environ.get("DOJO_TEST_DB") or None


def kata_root() -> Path:
    """The tree this process grades: `katas/` unless the grading chose another."""
    return Path(os.environ.get(KATA_ROOT, paths.KATAS)).resolve()


def graded_katas() -> set[str]:
    """The katas whose apps this process installs (empty: every kata)."""
    return set(filter(None, os.environ.get(KATAS, "").split(",")))


def child_kata() -> str | None:
    """The kata a spawned kata process grades (None: not such a process)."""
    return os.environ.get(CHILD_KATA) or None


def take_child() -> tuple[str, Path]:
    """In a spawned kata process: its kata and its channel, removed from the environment so that
    nothing it starts takes itself for a kata process."""
    return os.environ.pop(CHILD_KATA), Path(os.environ.pop(CHANNEL))


# --- the workshop board (`dojo workshop serve` sets these before the board's Django starts) ----------

WORKSHOP_DATABASE_URL = "DOJO_WORKSHOP_DATABASE_URL"
WORKSHOP_SITE_ORIGINS = "DOJO_WORKSHOP_SITE_ORIGINS"
WORKSHOP_SQLITE = "DOJO_WORKSHOP_SQLITE"


def workshop_database_url() -> str | None:
    """The board's PostgreSQL, a variable of its own: the graders' `DATABASE_URL` is for grading."""
    return os.environ.get(WORKSHOP_DATABASE_URL) or None


def workshop_sqlite() -> Path:
    """The board's SQLite file when it has no PostgreSQL: in the lead's clone."""
    return Path(os.environ.get(WORKSHOP_SQLITE) or paths.STATE / "workshop" / "board.sqlite3")


def workshop_site_origins() -> list[str]:
    """The origins of the site whose kata pages may post to the board."""
    value = os.environ.get(WORKSHOP_SITE_ORIGINS, "http://127.0.0.1:8000,http://localhost:8000")
    return [origin.strip() for origin in value.split(",") if origin.strip()]


def workshop_secret_key() -> str | None:
    return os.environ.get("DOJO_WORKSHOP_SECRET_KEY") or None
