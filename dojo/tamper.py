"""Kata code runs in the grading process: what it may not change, and how the grading sees that it did.

A determined cheater can always go further (the code runs with the learner's rights); the aim is that no
casual trick, and none of the known ones, ends in a silent pass. Each kata's process (`dojo.isolation`):

* keeps its own references to the modules graders use (`dojo`, `graders`, pytest, pluggy) and to what
  they hold, taken before the kata's code is imported, and checks after the grading that none was
  replaced or patched, and that the kata's code registered no pytest plugin;
* refuses, while it grades, every write into the repository outside its own kata folder (another kata,
  `graders/`, the learner's `.dojo/`), naming the file and line of the kata's code that tried;
* tells the parent which checks it collected: a check that never reported (the process left early,
  `pytest.exit` partway) means the kata is not solved;
* ends every process the kata's code left behind, when its grading ends.

The parent (`pytest katas`) refuses a kata folder that holds its own configuration (conftest.py,
ruff.toml, …), copies the learner's kata folders, `graders/` and `.dojo/` before the grading, and puts
back whatever changed meanwhile (a write the process could not see, from a program it started).
A kata whose grading was tampered with fails a check of its own, `kata_untampered`, whose message
says "tampered" and where.
"""

import contextlib
import dataclasses
import hashlib
import inspect
import os
import shutil
import signal
import sys
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest

from dojo import config as dojo_config
from dojo import isolation, paths, results

TEST = "kata_untampered"
TITLE = "The grading was not tampered with"
GUARDED = ("dojo", "graders", "pytest", "_pytest", "pluggy")
#: files that would change how a kata is graded (pytest's, ruff's, mypy's configuration), if a kata held them
CONFIG_FILES = (
    "conftest.py",
    "pytest.ini",
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
    "ruff.toml",
    ".ruff.toml",
    "mypy.ini",
)
#: what a grading may write inside the repository, besides its own kata folder
CACHES = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "browser-cache")
SNAPSHOT_FOLDER = "before-grading"  # in the learner's state: the copy a grading restores from

_send = isolation.send  # our own references: kata code that replaces these changes nothing here
_is_child = isolation.is_child
_real_open = open


# --- what graders use, as it was -------------------------------------------------------------------


#: modules the harness itself reloads in a kata's process: the settings, read again for the kata alone
RELOADED = ("dojo.settings", "dojo.settings_solutions", "dojo.tamper")


def _guarded(name: str) -> bool:
    return name.split(".", 1)[0] in GUARDED and name not in RELOADED


def _members(module: ModuleType) -> Iterable[tuple[str, object]]:
    """A module's functions, classes and modules, and the attributes of the classes it defines."""
    for name, value in list(vars(module).items()):
        if inspect.ismodule(value) and value.__name__ in RELOADED:
            continue
        if inspect.isfunction(value) or inspect.ismodule(value) or inspect.isbuiltin(value):
            yield name, value
        elif inspect.isclass(value):
            yield name, value
            if value.__module__ == module.__name__:
                for attribute, member in list(vars(value).items()):
                    if inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod, property)):
                        yield f"{name}.{attribute}", member


@dataclass
class References:
    """The guarded modules and their members, by identity."""

    modules: dict[str, ModuleType] = field(default_factory=dict)
    members: dict[tuple[str, str], object] = field(default_factory=dict)

    def add_loaded(self) -> None:
        for name, module in list(sys.modules.items()):
            if module is None or name in self.modules or not _guarded(name):
                continue
            self.modules[name] = module
            for member, value in _members(module):
                self.members[(name, member)] = value

    def changes(self) -> list[str]:
        found = []
        for name, module in self.modules.items():
            now = sys.modules.get(name)
            if now is not module:
                found.append(f"the module {name} was replaced{_origin(now)}")
        for (name, member), value in self.members.items():
            owner: Any = self.modules[name]
            for part in member.split("."):
                owner = vars(owner).get(part, _MISSING) if owner is not _MISSING else _MISSING
            if owner is not value:
                found.append(f"{name}.{member} was {'removed' if owner is _MISSING else 'replaced'}{_origin(owner)}")
        return found


_MISSING = object()


def _origin(value: object) -> str:
    """Where a replacement was written, when it is a function, class or module of the kata's code."""
    with contextlib.suppress(TypeError, OSError):
        target = inspect.unwrap(value) if callable(value) else value
        if isinstance(target, (classmethod, staticmethod)):
            target = target.__func__
        code = getattr(target, "__code__", None)
        if code is not None:
            return f" (by {_shown(code.co_filename)}, line {code.co_firstlineno})"
        source = inspect.getsourcefile(target)  # type: ignore[arg-type]
        if source:
            return f" (by {_shown(source)})"
    return ""


def _shown(path: str | Path) -> str:
    return paths.repo().shown(Path(path).resolve())


# --- the kata's process ----------------------------------------------------------------------------


@dataclass
class Watch:
    """What one kata's process watches while it grades."""

    slug: str
    own: Path  # the kata's folder: its code may write there
    references: References = field(default_factory=References)
    plugins: set[int] = field(default_factory=set)
    findings: list[str] = field(default_factory=list)
    active: bool = True

    def learner_frame(self, frame: FrameType | None) -> str:
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if path.is_absolute() and path.is_relative_to(self.own):
                return f" ({_shown(path)}, line {frame.f_lineno})"
            frame = frame.f_back
        return ""

    def protected(self, target: Path) -> bool:
        """The repository, the tree being graded and the learner's state, but for the kata's own folder."""
        if target.is_relative_to(self.own) or any(part in CACHES for part in target.parts):
            return False
        return any(target.is_relative_to(root) for root in (paths.REPO, self.own.parent, paths.STATE))

    def on_audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in _WRITES:
            return
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            targets = [path] if writing else []
        else:
            targets = [arg for arg in args[: _WRITES[event]] if isinstance(arg, (str, bytes, os.PathLike))]
        # a path relative to a folder's descriptor (shutil.rmtree removes each file with `dir_fd=`) is
        # relative to that folder, not to the working folder
        dir_fd = args[_WRITES[event]] if event != "open" and len(args) > _WRITES[event] else None
        folder = _folder_of(dir_fd)
        if folder is None and isinstance(dir_fd, int) and not isinstance(dir_fd, bool):
            return  # relative to a folder this system cannot name: not judged rather than refused wrongly
        for raw in targets:
            if isinstance(raw, int):
                continue
            target = Path(os.fsdecode(raw))
            target = ((folder or Path.cwd()) / target) if not target.is_absolute() else target
            target = Path(os.path.normpath(target))
            if self.protected(target):
                where = self.learner_frame(sys._getframe(1))
                finding = f"a write into {_shown(target)} was refused{where}"
                if finding not in self.findings:
                    self.findings.append(finding)
                raise PermissionError(f"{_shown(target)}: a kata's code may not write outside its own folder")


def _folder_of(dir_fd: object) -> Path | None:
    """The folder a `dir_fd` argument names (None when there is none, or it cannot be read)."""
    if not isinstance(dir_fd, int) or isinstance(dir_fd, bool):
        return None
    try:
        return Path(os.readlink(f"/proc/self/fd/{dir_fd}"))
    except OSError:
        return None


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: audit events that change files, and how many of their first arguments are paths
_WRITES = {
    "open": 1,
    "os.remove": 1,
    "os.rmdir": 1,
    "os.rename": 2,
    "os.replace": 2,
    "os.truncate": 1,
    "os.chmod": 1,
    "os.chown": 1,
    "os.mkdir": 1,
    "os.link": 2,
    "os.symlink": 2,
    "os.utime": 1,
    "shutil.rmtree": 1,
    "shutil.move": 2,
    "shutil.copyfile": 2,
    "shutil.copytree": 2,
}

_watch: Watch | None = None


def _slug_of(config: pytest.Config) -> str | None:
    from dojo.plugin.run import RUN  # a kata's process knows its kata; a forked one keeps the parent's args

    run = config.stash.get(RUN, None)
    if run is not None and run.child_kata:
        return str(run.child_kata)
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0]).resolve()
        if path.is_relative_to(paths.GRADERS) and path != paths.GRADERS:
            return path.relative_to(paths.GRADERS).parts[0]
    return None


def start_watch(config: pytest.Config) -> None:
    """In a kata's process, before the kata's code is imported: take the references, start refusing writes."""
    global _watch
    slug = _slug_of(config)
    if slug is None or _watch is not None:
        return
    root = dojo_config.kata_root().resolve()
    watch = Watch(slug, root / slug)
    import dojo.grading  # noqa: F401 - what every grader uses: referenced before any kata code runs

    watch.references.add_loaded()
    watch.plugins = {id(plugin) for plugin in config.pluginmanager.get_plugins()}
    _watch = watch
    with contextlib.suppress(OSError, AttributeError):
        os.setpgid(0, 0)  # the processes the kata's code starts are in this group: ended with the grading
    sys.addaudithook(watch.on_audit)


def _new_plugins(config: pytest.Config, watch: Watch) -> list[str]:
    found = []
    for plugin in config.pluginmanager.get_plugins():
        if id(plugin) in watch.plugins:
            continue
        source = getattr(plugin, "__file__", None) or _source_of(plugin)
        if source and Path(source).resolve().is_relative_to(paths.GRADERS):
            continue  # a grader's conftest.py
        name = config.pluginmanager.get_name(plugin) or type(plugin).__name__
        found.append(f"a pytest plugin ({name}) was registered{_origin(plugin) or _origin(type(plugin))}")
    return found


def _source_of(plugin: object) -> str | None:
    with contextlib.suppress(TypeError, OSError):
        return inspect.getsourcefile(type(plugin))
    return None


def end_watch(config: pytest.Config) -> None:
    """After the kata's checks: end what its code left running, and tell the parent what was tampered with."""
    watch = _watch
    if watch is None:
        return
    watch.active = False
    findings = list(watch.findings)
    findings += watch.references.changes()
    findings += _new_plugins(config, watch)
    left = end_leftover_processes()
    if left:
        findings.append(f"{left} process{'es' if left > 1 else ''} the kata's code started still ran, and were ended")
    if findings:
        _send("tampered", slug=watch.slug, findings=findings)


def end_leftover_processes() -> int:
    """End every other process of this process's group, and every process it started: what kata code left."""
    if not sys.platform.startswith("linux"):
        return 0
    me = os.getpid()
    found = _processes()  # one reading of /proc: the machine may run hundreds of processes
    parents = {pid: parent for pid, parent, _group in found}
    ended = 0
    for pid, _parent, group in found:
        if pid != me and (group == me or _descends_from(pid, me, parents)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                ended += 1
    return ended


def _processes() -> list[tuple[int, int, int]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found.append((int(entry.name), int(fields[1]), int(fields[2])))
    return found


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = set()
    while pid in parents and pid not in seen and pid > 1:
        seen.add(pid)
        pid = parents[pid]
        if pid == ancestor:
            return True
    return False


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    if _is_child():
        start_watch(session.config)
    return (yield)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _is_child() and _watch is not None:
        _watch.references.add_loaded()  # the graders' own modules, imported while collecting
        _send("checks", slug=_watch.slug, tests=[item.nodeid for item in session.items])


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    guard = _ParentGuard.start(session) if not _is_child() else None
    try:
        return (yield)
    finally:
        if _is_child():
            end_watch(session.config)
        elif guard is not None:
            guard.finish(session)


# --- the parent ------------------------------------------------------------------------------------


def findings_of(slug: str, messages: list[dict[str, Any]]) -> list[str]:
    """What a kata's process reported as tampered with, and the checks it collected that never reported."""
    findings = [text for m in messages if m.get("kind") == "tampered" for text in m.get("findings", [])]
    collected = next((m["tests"] for m in messages if m.get("kind") == "checks"), None)
    if collected is None:
        return findings
    reported = set()
    rejected = False  # a lesson or guard check failed: the kata cannot count as solved anyway
    for message in messages:
        if message.get("kind") == "report":
            data = message.get("data", {})
            if data.get("when") == "call" or data.get("outcome") in ("failed", "skipped"):
                reported.add(data.get("nodeid"))
            rejected = rejected or (data.get("outcome") == "failed" and _teaching_check(data))
    silent = [nodeid for nodeid in collected if nodeid not in reported]
    finished = any(m.get("kind") == "done" for m in messages)  # else the lost process is reported as such
    stopped_early = rejected and dojo_config.stop_at_first_lesson()  # asked for: the rest need not run
    if silent and not findings and finished and not stopped_early:
        names = ", ".join(nodeid.rsplit("::", 1)[-1] for nodeid in silent[:5])
        more = f" and {len(silent) - 5} more" if len(silent) > 5 else ""
        findings.append(
            f"{len(silent)} of {len(collected)} checks never reported ({names}{more}): the grading ended before "
            "them (a pytest.exit or sys.exit in the kata's code?), so the kata cannot count as solved"
        )
    return findings


def _teaching_check(data: dict[str, Any]) -> bool:
    """A report's check is a lesson or a guard, as its result record says."""
    records = [value for name, value in data.get("user_properties", []) if name == results.RECORD]
    teaching = (results.Kind.LESSON, results.Kind.GUARD)
    return any(isinstance(record, dict) and record.get("kind") in teaching for record in records)


def report(session: pytest.Session, slug: str, findings: list[str]) -> None:
    """The kata fails a check of its own, saying it was tampered with, and where."""
    if not findings:
        return
    message = "Tampered: " + "; ".join(findings) + ". The kata is not solved by this grading."
    nodeid = f"graders/{slug}::{TEST}"
    made = dataclasses.replace(results.stopped(TEST, results.Stop.TAMPERED, message), title=TITLE)
    test_report = pytest.TestReport(
        nodeid=nodeid,
        location=(f"graders/{slug}", None, TEST),
        keywords={},
        outcome="failed",
        longrepr=message,
        when="call",
        user_properties=[(results.RECORD, results.entry(slug, made))],
    )
    hook = session.config.hook
    hook.pytest_runtest_logstart(nodeid=nodeid, location=test_report.location)
    hook.pytest_runtest_logreport(report=test_report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=test_report.location)


def after_child(session: pytest.Session, slug: str, messages: list[dict[str, Any]]) -> None:
    """The parent, once a kata's process has ended and been replayed."""
    report(session, slug, findings_of(slug, messages))


def config_files(kata_dir: Path) -> list[Path]:
    """Configuration files in a kata folder, which would change how the kata is graded."""
    if not kata_dir.is_dir():
        return []
    return sorted(
        path
        for path in kata_dir.rglob("*")
        if path.name in CONFIG_FILES and "__pycache__" not in path.parts and path.is_file()
    )


def checksum(kata_dir: Path) -> str:
    """sha256 of a kata folder's files (names and contents, bytecode left out): what a result was for."""
    digest = hashlib.sha256()
    if kata_dir.is_dir():
        for path in sorted(kata_dir.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            digest.update(path.relative_to(kata_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stats(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    if root.is_dir():
        for path in root.rglob("*"):
            if not any(part in CACHES for part in path.relative_to(root).parts):
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    found[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def _contents(root: Path) -> dict[str, bytes]:
    found = {}
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and not any(part in CACHES for part in path.relative_to(root).parts):
                with contextlib.suppress(OSError):
                    found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@dataclass
class _ParentGuard:
    """What the parent keeps before a grading: the graders as they were (put back if a program the kata's
    code started changed them), and a copy of the learner's kata folders on disk, so that nothing is lost
    even if the grading never ends (`.dojo/before-grading/`, removed when it does)."""

    slugs: list[str]
    graders: dict[str, tuple[int, int]]
    contents: dict[str, bytes]
    copy: Path | None
    refused: dict[str, list[Path]]

    @classmethod
    def start(cls, session: pytest.Session) -> "_ParentGuard | None":
        from dojo.plugin.run import RUN  # the run: which katas it grades, and how

        plan = session.config.stash.get(RUN, None)
        if plan is None or plan.role != "parent" or not plan.slugs:
            return None
        root = dojo_config.kata_root().resolve()
        contents = {}
        for slug in plan.slugs:
            contents.update({f"{slug}/{name}": data for name, data in _contents(paths.GRADERS / slug).items()})
        refused = {slug: found for slug in plan.slugs if (found := config_files(root / slug))}
        return cls(list(plan.slugs), _stats(paths.GRADERS), contents, cls._keep_a_copy(), refused)

    @staticmethod
    def _keep_a_copy() -> Path | None:
        if not paths.KATAS.is_dir():
            return None
        target = paths.STATE / SNAPSHOT_FOLDER
        try:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(paths.KATAS, target, ignore=lambda _folder, names: [n for n in names if n in CACHES])
        except OSError:
            return None
        return target

    def finish(self, session: pytest.Session) -> None:
        changed = []
        now = _stats(paths.GRADERS)
        for name in sorted(now.keys() | self.graders.keys()):
            if now.get(name) == self.graders.get(name) or (paths.GRADERS / name).is_dir():
                continue
            path = paths.GRADERS / name
            put_back = ""
            with contextlib.suppress(OSError):
                if name in self.contents:
                    path.write_bytes(self.contents[name])
                    put_back = ", and was put back"
                elif name not in self.graders:
                    path.unlink()
                    put_back = ", and was removed"
            changed.append(f"{_shown(path)} changed during the grading{put_back}")
        if self.copy is not None:
            shutil.rmtree(self.copy, ignore_errors=True)
        for slug in self.slugs:
            findings = list(changed)
            for path in self.refused.get(slug, []):
                findings.append(
                    f"{_shown(path)} is a configuration file in the kata's folder, which would change how it is "
                    "graded: remove it, then grade again"
                )
            report(session, slug, findings)
