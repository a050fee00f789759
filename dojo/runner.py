"""Run the graders in a separate pytest process and read back their results.

Each kata tree needs a process of its own (the app labels are the kata slugs in every tree), so the
project's integrity tests and `uv run dojo` grade through here. A grading that runs out of time is
returned as one whose katas are broken, with a message that says so: `grade()` never raises for it.
"""

import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dojo import paths, results
from dojo.manifest import load_katas
from dojo.plugin import warm as warm_imports
from dojo.results import KataResult, KataStatus, TestResult

__all__ = [
    "Grading",
    "GradingServer",
    "KataResult",
    "KataStatus",
    "TestResult",
    "WarmPytest",
    "grade",
    "parse_results",
]


@dataclass(frozen=True)
class Grading:
    """The result of one grading run: per kata, plus the process's exit code and output."""

    exit_code: int
    output: str
    katas: dict[str, KataResult] = field(default_factory=dict)


#: The exit code of a grading that was stopped because it ran out of time (as `timeout(1)` uses).
TIMED_OUT = 124


def parse_results(document: dict[str, Any]) -> dict[str, KataResult]:
    """The per-kata results of a report the plugin wrote (`--dojo-report`, `.dojo/results.json`)."""
    return results.parse_katas(document)


def _graded_slugs(targets: list[str]) -> list[str]:
    """The katas that `targets` name (`katas`: every kata), for a grading that produced no results."""
    slugs: list[str] = []
    known = [kata.slug for kata in load_katas()]
    for target in targets:
        parts = Path(target.split("::", 1)[0]).parts
        if parts and parts[0] in ("katas", "solutions", "graders"):
            if len(parts) == 1:
                return known
            if parts[1] in known and parts[1] not in slugs:
                slugs.append(parts[1])
    return slugs


def timed_out(targets: list[str], seconds: float, output: str) -> Grading:
    """A grading stopped after `seconds`: every kata it was grading is broken, and says so."""
    message = (
        f"The grading timed out: it was stopped after {seconds:g} s without finishing. "
        "Look for code that loops or waits for ever, then grade again."
    )
    katas = {
        slug: KataResult(
            slug=slug,
            status=KataStatus.BROKEN,
            tests=(results.stopped("kata_loads", results.Stop.GRADING_TIMEOUT, message),),
            notes=(message,),
        )
        for slug in _graded_slugs(targets)
    }
    return Grading(exit_code=TIMED_OUT, output=f"{output}\n{message}".strip(), katas=katas)


def _process_env(env: dict[str, str] | None) -> dict[str, str]:
    process_env = {**os.environ, **(env or {})}
    process_env.pop("PYTEST_ADDOPTS", None)
    return process_env


def grade(
    targets: list[str],
    *,
    kata_root: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    warm: "WarmPytest | None" = None,
    server: "GradingServer | None" = None,
) -> Grading:
    """Grade `targets` (e.g. `["katas"]`, `["katas/n_plus_one"]`) in a new pytest process.

    `cwd` is the repository to grade in (this one by default): `uv run dojo` passes the clone it runs in.
    `warm` is a process started earlier with its own directory and environment (`dojo watch`).
    `server` forks each grading from a process that has its libraries imported already (`dojo-mutate`).
    """
    with tempfile.TemporaryDirectory(prefix="dojo-report-") as scratch:
        report = Path(scratch) / "results.json"
        # the dojo's own configuration, named: a tree graded outside the repository would otherwise have
        # pytest look for one above both, and take any stray pyproject.toml there (e.g. in `/`)
        configuration = (cwd or paths.REPO) / "pyproject.toml"
        args = [*targets, "-c", str(configuration), "--dojo-report", str(report), "-p", "no:cacheprovider"]
        if kata_root is not None:
            args += ["--kata-root", str(kata_root)]
        args += list(extra_args)
        try:
            if server is not None and server.clean:
                completed = server.run(args, env=env or {}, cwd=cwd or paths.REPO, timeout=timeout)
            elif warm is not None and warm.ready():
                completed = warm.run(args, timeout=timeout)
            else:
                completed = subprocess.run(  # noqa: S603 - our own interpreter running pytest
                    [sys.executable, "-m", "pytest", *args],
                    cwd=cwd or paths.REPO,
                    env=_process_env(env),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired as expired:
            return timed_out(targets, timeout, _text(expired.stdout) + _text(expired.stderr))
        output = completed.stdout + completed.stderr
        document = results.read(report)
        katas = document.katas if document is not None else {}
    return Grading(exit_code=completed.returncode, output=output, katas=katas)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


# Libraries that ship a pytest plugin (pytest-django, pytest-timeout, faker, respx, time-machine...) are imported
# ahead of time on purpose: pytest would warn that it can no longer rewrite their asserts, which only
# matters for assertions inside those plugins. This warning alone is let through.
ALREADY_IMPORTED = "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"


class WarmPytest:
    """A pytest process started ahead of time: its libraries imported, it waits for what to grade.

    `dojo watch` keeps one ready, so that the grading after a save does not wait for Python to start
    and import pytest and Django. The process grades once, exactly as `python -m pytest` would.
    """

    def __init__(self, *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "dojo.runner"],
            cwd=cwd or paths.REPO,
            env=_process_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> bool:
        return self._process.poll() is None

    def run(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            stdout, stderr = self._process.communicate(json.dumps(args) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        return subprocess.CompletedProcess(args, self._process.returncode, stdout, stderr)

    def close(self) -> None:
        """Stop the process if it has not graded (and so not ended)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def _warm_process() -> int:
    """`python -m dojo.runner`: import the libraries, wait for pytest's arguments on stdin, grade."""
    clean = warm_imports.import_before_pytest()
    gc.freeze()  # what was imported so far stays: pytest's garbage collections need not walk it again
    line = sys.stdin.readline()
    if not line:
        return 0
    args = [str(arg) for arg in json.loads(line)] + ["-W", ALREADY_IMPORTED]
    if not clean:  # a library imported a plugin early: grade in a fresh interpreter instead
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])  # noqa: S606
    import pytest

    return int(pytest.main(args))


class GradingServer:
    """A process that imports the grading's libraries once, then forks a fresh `pytest` for each grading.

    Starting Python and importing pytest and Django is most of a small kata's grading: a run of many
    gradings (the mutants of `dojo-mutate`) pays it once. Each grading is a copy of the server as it
    was after the imports, so it starts from the same state as a `WarmPytest`, and is as independent of
    the gradings before it as a new process. One grading at a time: start one server per parallel job.
    """

    def __init__(self, *, env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "dojo.runner", "--serve"],
            cwd=paths.REPO,
            env=_process_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("the grading server has no pipes")
        self._requests, self._answers = self._process.stdin, self._process.stdout
        started = json.loads(self._answers.readline() or '{"clean": false}')
        #: False when a library imported the kata settings or our plugin early: then grade() starts a
        #: cold process for each grading instead (the results must be those of a cold process)
        self.clean: bool = bool(started["clean"])

    def run(
        self, args: list[str], *, env: dict[str, str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Grade once, as `python -m pytest *args` with `env` added would in `cwd`.

        Raises `subprocess.TimeoutExpired` when the grading was stopped after `timeout` seconds."""
        with tempfile.TemporaryDirectory(prefix="dojo-served-") as scratch:
            output = Path(scratch) / "output.txt"
            request = {"args": args, "env": env, "cwd": str(cwd), "timeout": timeout, "output": str(output)}
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
            answer = self._answers.readline()
            if not answer:
                raise RuntimeError("the grading server ended unexpectedly")
            reply = json.loads(answer)
            text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        if reply["timed_out"]:
            raise subprocess.TimeoutExpired(args, timeout, output=text)
        return subprocess.CompletedProcess(args, reply["exit_code"], text, "")

    def close(self) -> None:
        """End the server (it ends when its requests do) and close its pipes."""
        self._requests.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._answers.close()

    def __enter__(self) -> "GradingServer":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _served_grading(request: dict[str, Any]) -> int:
    """In the forked copy of the server: become `python -m pytest *args`, writing to the output file."""
    os.setsid()  # its own process group: a grading stopped for time is stopped with its kata processes
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own stdin
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    os.environ.update(request["env"])
    os.environ.pop("PYTEST_ADDOPTS", None)
    os.chdir(request["cwd"])
    import pytest

    code = int(pytest.main([*request["args"], "-W", ALREADY_IMPORTED]))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _serve() -> int:
    """`python -m dojo.runner --serve`: import the libraries, then fork a grading per request on stdin.

    A request is a JSON line (args, env, cwd, timeout, output); the answer is a JSON line with the
    grading's exit code, or `timed_out` when it was stopped after `timeout` seconds."""
    import signal
    import time

    clean = warm_imports.import_before_pytest()
    gc.collect()
    gc.freeze()
    print(json.dumps({"clean": clean}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _served_grading(request)
            finally:
                os._exit(code)
        deadline = time.monotonic() + float(request["timeout"])
        timed_out = False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # the grading and its kata processes
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # stopped before it made its group
                _done, status = os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        print(json.dumps({"exit_code": os.waitstatus_to_exitcode(status), "timed_out": timed_out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_serve() if sys.argv[1:] == ["--serve"] else _warm_process())
