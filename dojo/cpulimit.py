"""A check's time limit counts the CPU time the grading process spends, not the clock on the wall.

A check judges work (queries, operations, rows); the limit is there only to stop a loop that never ends.
Counted on the wall clock, that limit made a slow but finite starter an "endless loop" on a busy machine;
counted in CPU seconds (`ITIMER_PROF`: every thread of the process, user and system time), a verdict
is the same at any load. `DOJO_GRADER_TIMEOUT` is that limit, in CPU seconds (10 by default). A check
that does much work by design (tens of thousands of rows, each made by the learner's factory) says so with
`@pytest.mark.cpu_seconds(n)`: its limit is n, or the default where that is higher.

Code that waits without working (a `sleep`, a lock) spends no CPU time: pytest-timeout's wall-clock
limit stays behind it as a backstop, `WALL_BACKSTOP` (30) times longer, long enough never to decide a
verdict of code that works. The grading plugin registers these hooks; where there is no interval
timer (Windows, the browser's WebAssembly Python) only the backstop applies.
"""

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest

from dojo import config as dojo_config
from dojo import paths

CPU_SECONDS = dojo_config.grader_timeout()
# the wall-clock limit, in multiples of the CPU limit: at a load of 40 on 2 cores a process gets 1/20 of a CPU
WALL_BACKSTOP = 30
MIN_WALL_SECONDS = 120
MESSAGE = "Timeout ({seconds:g} s of CPU time): the check was stopped, as code that loops for ever is"


#: pytest's own failure, so that the check's message reads "Timeout (…)" as pytest-timeout's does, and a
#: BaseException: `except Exception:` in the code under test cannot swallow it
CpuTimeExceeded = pytest.fail.Exception


def available() -> bool:
    """An interval timer of CPU time, in the thread that gets signals (not the browser's WebAssembly Python)."""
    return (
        sys.platform not in ("emscripten", "wasi", "win32")
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )


def wall_seconds(cpu_seconds: float = CPU_SECONDS) -> float:
    """The wall-clock backstop of a CPU limit: never under two minutes, so that a small limit (a test's
    one second) is still decided by CPU time on a loaded machine."""
    return max(cpu_seconds * WALL_BACKSTOP, MIN_WALL_SECONDS)


@contextlib.contextmanager
def cpu_time_limit(seconds: float = CPU_SECONDS) -> Iterator[None]:
    """Fail the code in the block once the process has spent `seconds` of CPU time in it."""
    if seconds <= 0 or not available():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise CpuTimeExceeded(MESSAGE.format(seconds=seconds), pytrace=True)

    previous = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@contextlib.contextmanager
def cpu_time_limit_or_exit(seconds: float, dump_fd: int, exit_now: Callable[[int], object]) -> Iterator[None]:
    """Loading a kata: once the process has spent `seconds` of CPU time, dump where every thread was (as
    faulthandler's wall-clock limit does, so the parent names the learner's line) and end the process."""
    if seconds <= 0 or not available():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        os.write(dump_fd, f"Timeout ({seconds:g} s of CPU time)!\n".encode())
        faulthandler.dump_traceback(file=dump_fd, all_threads=True)
        exit_now(1)

    previous = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def seconds_for(item: pytest.Item) -> float:
    """The check's limit: the default, or the higher one its `cpu_seconds` mark asks (none when the default
    is switched off with 0)."""
    marker = item.get_closest_marker("cpu_seconds")
    if marker is None or CPU_SECONDS <= 0:
        return CPU_SECONDS
    return max(CPU_SECONDS, float(marker.args[0]))


def _is_grader_check(item: pytest.Item) -> bool:
    return Path(item.path).is_relative_to(paths.GRADERS)


def _limited(item: pytest.Item) -> Generator[None, object, object]:
    if not _is_grader_check(item):
        return (yield)
    with cpu_time_limit(seconds_for(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _limited(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _limited(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _limited(item))
