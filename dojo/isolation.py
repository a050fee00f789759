"""One process per kata: what the grading plugin uses so that no kata's code can touch another's grading.

The parent (the `pytest katas` process, its libraries imported once) starts a child per kata, up to
`DOJO_JOBS` (the number of CPUs) at once: forked on Linux, so that the child starts warm; spawned as
a fresh `python -m pytest` elsewhere, or when the parent runs threads (forking those is unsafe). Each
child loads its kata alone, collects and runs its checks, and writes what happened to a channel file,
one JSON message a line; its stdout and stderr go to a file of their own. The parent reads both once
the child has ended, however it ended: a child that exits early, hangs or is killed is described from
what it wrote last (the file it was loading, where it called `os._exit`, where it was stuck).

The libraries every child uses are imported once, before the children start (`dojo.plugin.warm`).
`DOJO_IN_PROCESS=1` grades every kata in the one process instead (no isolation), for platforms with
neither fork nor subprocesses (the in-browser runner on Pyodide).
"""

import contextlib
import faulthandler
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from dojo import config

#: How long a kata may take to load (Django set-up, importing its modules, collecting its checks).
LOAD_TIMEOUT_SECONDS = config.load_timeout()
#: How long one kata's whole grading may take before its process is stopped.
KATA_TIMEOUT_SECONDS = config.kata_timeout()
IN_PROCESS = config.in_process()
CHILD_KATA = config.CHILD_KATA  # set for a spawned child: the kata it grades
CHANNEL = config.CHANNEL  # set for a spawned child: the file its messages go to
EXIT_CODE_CRASHED = 70


def jobs() -> int:
    """How many kata processes run at once."""
    return max(1, config.jobs_wanted() or os.cpu_count() or 1)


def can_fork() -> bool:
    """Fork only on Linux, and only a process with one thread (Python warns, rightly, otherwise)."""
    if config.spawn_only():
        return False
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


# --- the child's side ------------------------------------------------------------------------------

_channel_fd: int | None = None
_dump_fd: int | None = None
_real_exit = os._exit


def is_child() -> bool:
    """This process grades one kata for a parent (it has a channel to write to)."""
    return _channel_fd is not None


def send(kind: str, **data: object) -> None:
    """Write one message to the parent. One `os.write` per line: nothing is lost if the process dies next."""
    if _channel_fd is None:
        return
    line = json.dumps({"kind": kind, **data}, default=str) + "\n"
    os.write(_channel_fd, line.encode("utf-8", "replace"))


def _kill_me_with_my_parent() -> None:
    """On Linux, a child ends when its parent does (a stopped grading leaves nothing behind)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _learner_frame(frame: FrameType | None, roots: tuple[Path, ...]) -> tuple[str, int] | None:
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_absolute() and any(path.is_relative_to(root) for root in roots):
            return str(path), frame.f_lineno
        frame = frame.f_back
    return None


def become_child(channel: Path, roots: tuple[Path, ...]) -> None:
    """Set up this process as a kata's child: its channel, and the watch on how it may end.

    `roots` are the folders of learner code: a call of `os._exit` from there, and every module from
    there that starts to execute, is reported, so that a process that vanishes can be explained.
    """
    global _channel_fd, _dump_fd
    _channel_fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _dump_fd = os.dup(2)  # stderr as it is now: pytest's capturing later points fd 2 elsewhere
    _kill_me_with_my_parent()
    faulthandler.enable(file=_dump_fd)

    def exit_now(status: int) -> NoReturn:
        where = _learner_frame(sys._getframe(1), roots)
        send("exit", code=status, file=where[0] if where else None, line=where[1] if where else None)
        _real_exit(status)

    os._exit = exit_now

    def on_audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "exec" and args and hasattr(args[0], "co_filename"):
            path = Path(args[0].co_filename)
            if path.is_absolute() and any(path.is_relative_to(root) for root in roots):
                send("loading", file=str(path))

    sys.addaudithook(on_audit)


@contextlib.contextmanager
def load_time_limit(seconds: float = LOAD_TIMEOUT_SECONDS) -> Iterator[None]:
    """Stop the process after `seconds`, dumping where every thread was (the parent names the line)."""
    if _dump_fd is None or seconds <= 0:
        yield
        return
    send("limit", seconds=seconds)
    from dojo import cpulimit

    # the limit is CPU time (the same at any load); the wall clock is only a backstop for code that waits
    faulthandler.dump_traceback_later(cpulimit.wall_seconds(seconds), exit=True, file=_dump_fd)
    try:
        with cpulimit.cpu_time_limit_or_exit(seconds, _dump_fd, _real_exit):
            yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def end_child(code: int = 0) -> NoReturn:
    """Leave the forked child at once: no atexit handlers, no pytest clean-up of the parent's session."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    _real_exit(code)


# --- the parent's side ---------------------------------------------------------------------------


@dataclass
class Child:
    """One kata's process, and what it left behind once it ended."""

    slug: str
    channel: Path
    output: Path
    started: float = field(default_factory=time.monotonic)
    pid: int = 0
    process: subprocess.Popen[bytes] | None = None
    wait_status: int | None = None  # as os.waitpid returns it
    timed_out: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.wait_status is not None

    def poll(self) -> bool:
        if self.wait_status is not None:
            return True
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return False
            self.wait_status = _as_wait_status(code)
            return True
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.wait_status = status
        return True

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            if self.process is not None:
                self.process.kill()
                self.process.wait()
            elif self.pid and self.wait_status is None:
                os.kill(self.pid, signal.SIGKILL)
                _pid, self.wait_status = os.waitpid(self.pid, 0)

    def read(self) -> None:
        """Read the messages the child wrote (a last line cut off by a sudden end is left out)."""
        try:
            text = self.channel.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                self.messages.append(json.loads(line))

    def last(self, kind: str) -> dict[str, Any] | None:
        return next((message for message in reversed(self.messages) if message.get("kind") == kind), None)

    @property
    def completed(self) -> bool:
        """The child got to the end of its grading and said so."""
        return self.last("done") is not None

    def exit_description(self) -> str:
        """How the process ended, in words: "exit code 3", "signal 9 (SIGKILL)"."""
        status = self.wait_status or 0
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            with contextlib.suppress(ValueError):
                return f"signal {number} ({signal.Signals(number).name})"
            return f"signal {number}"
        return f"exit code {os.waitstatus_to_exitcode(status)}"

    def output_text(self) -> str:
        """What the process wrote outside the checks' captured output, shortened."""
        from dojo.results import shorten

        try:
            with self.output.open(encoding="utf-8", errors="replace") as handle:
                head = [line for _number, line in zip(range(400), handle, strict=False)]
                rest = sum(1 for _line in handle)
        except OSError:
            return ""
        text = shorten("".join(head))
        if rest:
            text += f"\n… {rest} lines more"
        return text


def _as_wait_status(code: int) -> int:
    """A Popen return code (negative: a signal) as the wait status os.waitpid would give."""
    return (-code) & 0x7F if code < 0 else (code & 0xFF) << 8


class Scheduler:
    """Runs one child per kata, `jobs()` at a time, and hands each back in the order they were given."""

    def __init__(self, slugs: list[str], start: Callable[[Child], None], *, limit: int | None = None) -> None:
        self._pending = list(slugs)
        self._start = start
        self._limit = limit or jobs()
        self._scratch = Path(tempfile.mkdtemp(prefix="dojo-grading-"))
        self._children: dict[str, Child] = {}
        self._order = list(slugs)

    def _launch(self) -> None:
        while self._pending and sum(not c.finished for c in self._children.values()) < self._limit:
            slug = self._pending.pop(0)
            child = Child(slug, self._scratch / f"{slug}.jsonl", self._scratch / f"{slug}.out")
            child.channel.touch()
            self._children[slug] = child
            self._start(child)

    def _wait(self) -> None:
        """Block until some running child ends (or has run too long, and is stopped)."""
        running = [child for child in self._children.values() if not child.finished]
        if not running:
            return
        with selectors.DefaultSelector() as selector:
            opened = []
            for child in running:
                if child.process is None and hasattr(os, "pidfd_open"):
                    with contextlib.suppress(OSError):
                        fd = os.pidfd_open(child.pid)
                        opened.append(fd)
                        selector.register(fd, selectors.EVENT_READ)
            try:
                while True:
                    if any(child.poll() for child in running):
                        return
                    now = time.monotonic()
                    for child in running:
                        if now - child.started > KATA_TIMEOUT_SECONDS:
                            child.timed_out = True
                            child.kill()
                            return
                    if opened:
                        selector.select(timeout=1.0)
                    else:
                        time.sleep(0.005)
            finally:
                for fd in opened:
                    os.close(fd)

    def __iter__(self) -> Iterator[Child]:
        """Each child once it has ended, in the order of the slugs (later ones keep running meanwhile)."""
        try:
            for slug in self._order:
                self._launch()
                while not self._children[slug].finished:
                    self._wait()
                    self._launch()
                child = self._children[slug]
                child.read()
                yield child
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop every child still running, and remove the scratch files."""
        self._pending.clear()
        for child in self._children.values():
            if not child.finished:
                child.kill()
        shutil.rmtree(self._scratch, ignore_errors=True)


def fork_child(child: Child, body: Callable[[], None]) -> None:
    """Run `body` in a forked process whose stdout and stderr go to `child.output`."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        child.pid = pid
        return
    code = EXIT_CODE_CRASHED
    try:
        output = os.open(child.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        body()
        code = 0
    except BaseException:  # whatever happens, the forked copy never returns to the parent's code
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        end_child(code)


def spawn_child(child: Child, command: list[str], env: dict[str, str]) -> None:
    """Run `command` as a new process whose stdout and stderr go to `child.output`."""
    with child.output.open("wb") as output:
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter running pytest
            command, env={**env, CHILD_KATA: child.slug, CHANNEL: str(child.channel)}, stdout=output, stderr=output
        )
    child.pid = child.process.pid


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)


def stuck_at(dump: str, roots: tuple[Path, ...]) -> tuple[str, int] | None:
    """The innermost learner frame of a faulthandler dump (the main thread's, which it prints first)."""
    for match in _FRAME.finditer(dump):
        path = Path(match["file"])
        if any(path.is_relative_to(root) for root in roots):
            return match["file"], int(match["line"])
    return None
