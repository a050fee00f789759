"""Where things live in the repository; every other module asks here.

There is one repository root at a time: the checkout that holds this package, unless a command chose
another one (`uv run dojo` works in the clone it is run in, and the project's tests point it at a
temporary copy) with `use_repo`. The old names (`paths.REPO`, `paths.KATAS`, …) read the same root.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SITE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Repo:
    """A clone of the dojo, and the places in it that the harness reads and writes."""

    root: Path

    @property
    def katas(self) -> Path:
        return self.root / "katas"

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def graders(self) -> Path:
        return self.root / "graders"

    @property
    def decoys(self) -> Path:
        return self.root / "tests" / "decoys"

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    @property
    def manifest(self) -> Path:
        return self.root / "katas.toml"

    @property
    def rules(self) -> Path:
        return self.root / "rules.toml"

    @property
    def standard(self) -> Path:
        return self.root / "standard" / "backend-rules.md"

    @property
    def lock(self) -> Path:
        """The starters as shipped: every file's git blob id and mode (`dojo.trees` writes and reads it)."""
        return self.root / "katas.lock"

    @property
    def state(self) -> Path:
        """The learner's own state (git-ignored): results, progress, backups, starter snapshots.

        `DOJO_STATE` moves the state of the clone `DOJO_STATE_OF` names elsewhere: the project's own tests
        point it at a temporary folder, so that no test can read or write the learner's `.dojo/` (a
        temporary clone a test makes keeps its own).
        """
        moved, owner = os.environ.get(STATE_VARIABLE), os.environ.get(STATE_OWNER_VARIABLE)
        if moved and owner and Path(owner).resolve() == self.root:
            return Path(moved)
        return self.root / ".dojo"

    @property
    def browser_cache(self) -> Path:
        """The in-browser runner's downloads: a cache, not the learner's state (no test moves it)."""
        return self.root / ".dojo" / "browser-cache"

    @property
    def backups(self) -> Path:
        return self.state / "backups"

    @property
    def starters(self) -> Path:
        return self.state / "starters"

    def kata(self, slug: str) -> Path:
        """The learner's folder of a kata: `katas/<slug>`."""
        return self.katas / slug

    def solution(self, slug: str) -> Path:
        return self.solutions / slug

    def grader(self, slug: str) -> Path:
        return self.graders / slug

    def shown(self, path: Path) -> str:
        """A path as the learner reads it: relative to the clone when it is inside it."""
        for candidate in (path, path.resolve()):
            try:
                return str(candidate.relative_to(self.root))
            except ValueError:
                continue
        return str(path)


STATE_VARIABLE = "DOJO_STATE"
STATE_OWNER_VARIABLE = "DOJO_STATE_OF"
HOME = Repo(Path(__file__).resolve().parent.parent)
_current = [HOME]


def repo() -> Repo:
    """The repository every module works in now."""
    return _current[-1]


@contextmanager
def use_repo(root: Path) -> Iterator[Repo]:
    """Work in another clone of the dojo for the duration of the block (a command, a test)."""
    chosen = Repo(root.resolve())
    _current.append(chosen)
    try:
        yield chosen
    finally:
        _current.remove(chosen)


_NAMES = {
    "REPO": "root",
    "KATAS": "katas",
    "SOLUTIONS": "solutions",
    "GRADERS": "graders",
    "DECOYS": "decoys",
    "DOCS": "docs",
    "MANIFEST": "manifest",
    "RULES": "rules",
    "STANDARD": "standard",
    "STATE": "state",
}


def shown(path: Path) -> str:
    """A path as a person reads it in messages: relative to the current repository when inside it."""
    return repo().shown(path)


def __getattr__(name: str) -> Path:
    """`paths.REPO`, `paths.KATAS`, …: the places of the current repository, by their old names."""
    if name in _NAMES:
        found: Path = getattr(repo(), _NAMES[name])
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
