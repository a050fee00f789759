"""`uv run dojo-bench`: how fast the learner's loop and the project's checks are, each next to its floor.

Every figure is the median wall time of several runs on this machine, in one run of this script, so
that figures and floors share the same conditions. Child processes run with PYTHONDONTWRITEBYTECODE
unset (bytecode caching on, as on a developer's machine); one warm-up run precedes each measurement.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dojo import paths

ENV = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS")}
ENV["NO_MKDOCS_2_WARNING"] = "1"
WARM_UP_SECONDS = 3.0  # time given to a warm process to import its libraries before it is used


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    floor: float | None
    target: float | None
    target_ratio: float | None = None
    target_over_floor: float | None = None  # seconds allowed above the floor

    def line(self) -> str:
        floor = f"{self.floor:7.2f} s" if self.floor is not None else "      —  "
        ratio = f"{self.seconds / self.floor:5.2f}×" if self.floor else "   —  "
        verdicts = []
        if self.target is not None:
            verdicts.append(f"≤ {self.target:g} s {'ok' if self.seconds <= self.target else 'MISSED'}")
        if self.target_ratio is not None and self.floor:
            within = self.seconds / self.floor <= self.target_ratio
            verdicts.append(f"≤ {self.target_ratio:g}× floor {'ok' if within else 'MISSED'}")
        if self.target_over_floor is not None and self.floor:
            limit = self.floor + self.target_over_floor
            verdicts.append(
                f"≤ floor + {self.target_over_floor:g} s = {limit:.2f} s {'ok' if self.seconds <= limit else 'MISSED'}"
            )
        return f"{self.name:<38} {self.seconds:7.2f} s  {floor}  {ratio}  {'; '.join(verdicts)}"


def timed(command: list[str], *, ok_codes: tuple[int, ...] = (0, 1, 5)) -> float:
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603 - our own interpreter and tools, fixed arguments
        command, cwd=paths.REPO, env=ENV, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(command)} exited {completed.returncode}:\n{completed.stdout[-2000:]}")
    return elapsed


def median(run: Callable[[], float], repeat: int) -> float:
    run()  # warm-up: caches, bytecode, the OS's file cache
    return statistics.median(run() for _ in range(repeat))


def pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]


def mkdocs_floor_config(directory: Path) -> Path:
    """mkdocs.yml without hooks and plugins: the same Markdown through MkDocs and the same theme."""
    text = (paths.REPO / "mkdocs.yml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^hooks:\n(?:  .*\n)+", "", text)
    text = re.sub(r"(?ms)^plugins:\n(?:  .*\n)+", "plugins: []\n", text)
    text = re.sub(r"(?ms)^nav:\n(?:  .*\n)+", "", text)
    text = re.sub(r"(?m)^strict: true\n", "", text)
    config = directory / "mkdocs.yml"
    config.write_text(f"docs_dir: {paths.DOCS}\n{text}", encoding="utf-8")
    return config


def warm_grading(repeat: int) -> float:
    """Seconds from handing a ready warm process (`WarmPytest`, as `dojo check` and `watch` use) one
    kata to grade, to its results being read back."""
    from dojo.runner import WarmPytest, grade

    samples = []
    for _ in range(repeat + 1):  # the first is a warm-up
        warm = WarmPytest(env=ENV)
        try:
            time.sleep(WARM_UP_SECONDS)  # the process imports its libraries, then waits for arguments
            started = time.perf_counter()
            grading = grade(["katas/n_plus_one"], warm=warm)
            samples.append(time.perf_counter() - started)
        finally:
            warm.close()
        if "n_plus_one" not in grading.katas:
            raise SystemExit(f"the warm grading did not grade n_plus_one:\n{grading.output[-2000:]}")
    return statistics.median(samples[1:])


def watch_latency(repeat: int) -> float:
    """Seconds from saving a kata file to `dojo watch` printing the new result (the file is unchanged)."""
    target = paths.KATAS / "n_plus_one" / "services.py"
    content = target.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "dojo.cli", "watch", "n_plus_one"],
        cwd=paths.REPO,
        env={**ENV, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if process.stdout is None:
        raise RuntimeError("dojo watch has no output to read")
    samples: list[float] = []
    try:
        results_seen = 0
        saved_at = 0.0
        for line in process.stdout:
            if "after the save" in line or "Watching" in line:
                if saved_at:
                    samples.append(time.perf_counter() - saved_at)
                results_seen += 1
                if len(samples) > repeat:  # the first sample is a warm-up
                    break
                time.sleep(0.5)
                saved_at = time.perf_counter()
                target.write_bytes(content)  # a save, with the learner's own bytes
    finally:
        process.terminate()
        process.wait(timeout=10)
        target.write_bytes(content)
    return statistics.median(samples[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dojo-bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--skip-suite", action="store_true", help="leave out the project's test suite (1–2 min)")
    parser.add_argument("--skip-site", action="store_true", help="leave out the site build and its floor")
    options = parser.parse_args(argv)
    print(f"dojo-bench: median of {options.repeat} runs after a warm-up; PYTHONDONTWRITEBYTECODE unset in children")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="dojo-bench-") as scratch:
        empty = Path(scratch) / "empty"
        empty.mkdir()
        # the project's settings and plugins with nothing to collect: an empty folder, this configuration
        floor_args = (str(empty), "-c", str(paths.REPO / "pyproject.toml"), "--rootdir", str(paths.REPO))
        floor = median(lambda: timed(pytest(*floor_args)), options.repeat)
        one = median(lambda: timed(pytest("katas/n_plus_one")), options.repeat)
        figures.append(Figure("one kata, cold (pytest katas/n_plus_one)", one, floor, None, target_over_floor=0.3))
        figures.append(Figure("one kata, warm (dojo check n_plus_one)", warm_grading(options.repeat), None, 0.5))
        every = median(lambda: timed(pytest("katas")), options.repeat)
        figures.append(Figure("all 22 katas (pytest katas)", every, floor, 5.0))
        site = Path(scratch) / "site"
        build = (
            0.0
            if options.skip_site
            else median(
                lambda: timed([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)]),
                options.repeat,
            )
        )
        config = mkdocs_floor_config(Path(scratch))
        build_floor = (
            0.0
            if options.skip_site
            else median(
                lambda: timed([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(site)]),
                options.repeat,
            )
        )
        if not options.skip_site:
            figures.append(Figure("strict site build", build, build_floor, 10.0))
        figures.append(Figure("dojo watch: save → result", watch_latency(options.repeat), None, 0.5))
        if not options.skip_suite:
            suite = timed([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], ok_codes=(0,))
            figures.append(Figure("project test suite (one run)", suite, None, None))
        shutil.rmtree(site, ignore_errors=True)
    print(f"{'figure':<38} {'time':>9}  {'floor':>9}  {'ratio':>6}  target")
    for figure in figures:
        print(figure.line())
    print(f"floors: pytest start-up + django.setup() with no tests = {floor:.2f} s; MkDocs, same Markdown, no plugins")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
