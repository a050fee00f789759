"""A room of learners posting at once, against a board served on this machine (127.0.0.1 only).

`uv run dojo-bench --workshop-only` runs it: 100 simulated learners join, then each posts a grading every
5 seconds for 2 minutes, while a lead reads the board every 2 seconds, on SQLite and then on PostgreSQL.
Every request goes to a board this module starts on the loopback address, the loops are bounded in count
and time, and the board stops when the run ends. It prints what was sent, what the board kept (no post
may be lost), and the latencies, each p95 next to the floor: the p95 of the board's own page, a request
that reads no table, measured in the same run.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dojo import config
from dojo.workshop import http

HOST = "127.0.0.1"
BOOT_SECONDS = 60
POSTGRESQL = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class Run:
    """What one load run measured."""

    database: str
    learners: int
    seconds: float
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    kept: int = 0
    post_latencies: list[float] = field(default_factory=list)
    board_latencies: list[float] = field(default_factory=list)
    floor_latencies: list[float] = field(default_factory=list)

    @staticmethod
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else 0.0)

    def lines(self) -> list[str]:
        floor = self.p95(self.floor_latencies) or 1e-9
        post, board = self.p95(self.post_latencies), self.p95(self.board_latencies)
        lost = self.sent - self.kept
        return [
            f"workshop board on {self.database}: {self.learners} learners for {self.seconds:.0f} s",
            f"  posts sent {self.sent}, kept {self.kept}, lost {lost}, refused {len(self.failed)}"
            + (f" (first: {self.failed[0]})" if self.failed else ""),
            f"  post p95 {post * 1000:.1f} ms = {post / floor:.1f} × floor; "
            f"board read p95 {board * 1000:.1f} ms = {board / floor:.1f} × floor "
            f"(floor: the page, p95 {floor * 1000:.1f} ms)",
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def board_server(database_url: str | None) -> Iterator[tuple[str, str, str]]:
    """A board on the loopback address, with a workshop open: (url, join code, lead token)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dojo-workshop-load-") as scratch:
        env = {key: value for key, value in os.environ.items() if not key.startswith("DOJO_WORKSHOP_")}
        env[config.WORKSHOP_SQLITE] = str(Path(scratch) / "board.sqlite3")
        if database_url:
            env[config.WORKSHOP_DATABASE_URL] = database_url
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-u", "-m", "dojo.workshop.load", "--serve", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            first = process.stdout.readline().split() if process.stdout is not None else []
            if len(first) != 2:
                said = process.stdout.read()[:2000] if process.stdout is not None else ""
                raise RuntimeError(f"the board did not start: {' '.join(first)}{said}")
            url = f"http://{HOST}:{port}"
            deadline = time.monotonic() + BOOT_SECONDS
            while time.monotonic() < deadline:
                try:
                    with http.client(timeout=1) as probe:
                        probe.get(url)
                    break
                except http.HTTPError:
                    time.sleep(0.2)
            yield url, first[0], first[1]
        finally:
            process.terminate()
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()


def _grading(attempt: int) -> dict[str, object]:
    failing = attempt % 3 != 0
    return {
        "grading_id": uuid.uuid4().hex,
        "kata": ("n_plus_one", "webhook_idempotency", "ruff_clean")[attempt % 3],
        "status": "failing" if failing else "solved",
        "passed": 10,
        "failed": 2 if failing else 0,
        "failing": [{"check": "test_query_count_is_within_budget", "rule": "PERF-2"}] if failing else [],
        "attempt": attempt,
        "graded_at": "2026-12-06T10:00:00+00:00",
    }


async def _learner(board: "http.AsyncClient", run: Run, token: str, offset: float, every: float, until: float) -> None:
    await asyncio.sleep(offset)
    attempt = 0
    while time.monotonic() < until:
        attempt += 1
        started = time.monotonic()
        try:
            response = await board.post(
                "/api/v1/workshop/gradings", json=_grading(attempt), headers={"Authorization": f"Bearer {token}"}
            )
            run.sent += 1
            if response.status_code != 201:
                run.failed.append(f"{response.status_code} {response.text[:120]}")
        except http.HTTPError as error:
            run.sent += 1
            run.failed.append(repr(error))
        run.post_latencies.append(time.monotonic() - started)
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


async def _lead(board: "http.AsyncClient", run: Run, lead: str, until: float) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        await board.get("/api/v1/workshop/board", headers={"Authorization": f"Bearer {lead}"})
        run.board_latencies.append(time.monotonic() - started)
        started = time.monotonic()
        await board.get("/")
        run.floor_latencies.append(time.monotonic() - started)
        await asyncio.sleep(2.0)


async def _room(url: str, code: str, lead: str, run: Run, every: float) -> None:
    async with http.async_client(url, connections=run.learners + 5) as board:
        tokens = []
        for index in range(run.learners):
            joined = await board.post("/api/v1/workshop/join", json={"code": code, "name": f"learner {index:03d}"})
            joined.raise_for_status()
            tokens.append(joined.json()["token"])
        until = time.monotonic() + run.seconds
        await asyncio.gather(
            _lead(board, run, lead, until),
            *(
                _learner(board, run, token, every * index / run.learners, every, until)
                for index, token in enumerate(tokens)
            ),
        )
        exported = await board.get("/api/v1/workshop/export.json", headers={"Authorization": f"Bearer {lead}"})
        run.kept = len(exported.json()["gradings"])


def load(database: str, database_url: str | None, learners: int, seconds: float, every: float) -> Run:
    run = Run(database, learners, seconds)
    with board_server(database_url) as (url, code, lead):
        asyncio.run(_room(url, code, lead, run, every))
    return run


@contextmanager
def scratch_postgresql() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, dropped at the end."""
    import psycopg

    name = f"dojo_workshop_load_{os.getpid()}"
    with psycopg.connect(POSTGRESQL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRESQL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRESQL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _serve(port: int) -> None:
    """The board process of a load run: migrate, open a workshop, print its code and token, serve."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "dojo.workshop.settings"
    import django
    import uvicorn
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from dojo.workshop import services

    opened = services.open_workshop("Load", stuck_minutes=10)
    print(opened.workshop.join_code, opened.lead_token, flush=True)
    uvicorn.run("dojo.workshop.asgi:application", host=HOST, port=port, log_level="error")


def figures(learners: int = 100, seconds: float = 120, every: float = 5.0, postgresql: bool = True) -> list[str]:
    lines = load("SQLite", None, learners, seconds, every).lines()
    if postgresql:
        with scratch_postgresql() as url:
            lines += load("PostgreSQL", url, learners, seconds, every).lines()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.workshop.load", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--sqlite-only", action="store_true")
    options = parser.parse_args(argv)
    if options.serve:
        _serve(options.serve)
        return 0
    for line in figures(options.learners, options.seconds, options.every, postgresql=not options.sqlite_only):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
