"""A workshop as a room runs it: the lead serves the board under uvicorn, a learner joins and grades, the
board shows it in a real browser, at 1280 px and on a phone."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..clones import repo, template
from ..test_browser import SCREENSHOTS, Visit, browser, site_url

__all__ = ["browser", "repo", "site_url", "template"]  # fixtures

pytestmark = pytest.mark.heavy  # servers, Chromium (the maintainer group): --heavy runs it

BOOT_SECONDS = 60
SENT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    code: str
    token: str
    process: subprocess.Popen[str]

    def board(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/api/v1/workshop/board", headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, response.text
        board: dict[str, object] = response.json()
        return board


def dojo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dojo.cli", *args], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def served(repo: Path) -> Iterator[Served]:
    with board(repo) as started:
        yield started


@contextmanager
def board(repo: Path, *options: str) -> Iterator[Served]:
    """`dojo workshop serve` in the clone, on a free port, until the block ends."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    command = [sys.executable, "-u", "-m", "dojo.cli", "workshop", "serve", "--port", str(port)]
    command += ["--title", "Onboarding"]
    process = subprocess.Popen(
        [*command, *options],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []
    deadline = time.monotonic() + BOOT_SECONDS
    assert process.stdout is not None
    while not any(line.startswith("Your board:") for line in printed) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        printed.append(line)
    text = "".join(printed)
    code = re.search(r"join code (\w+)", text)
    token = re.search(r"#lead=([\w-]+)", text)
    assert code, f"serve printed no join code:\n{text}"
    assert token, f"serve printed no board address:\n{text}"
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield Served(url, code.group(1), token.group(1), process)
    process.terminate()
    process.wait(timeout=30)
    process.stdout.close()


def test_a_learner_joins_grades_and_shows_on_the_board(served: Served, repo: Path, browser: object) -> None:
    joined = dojo(repo, "workshop", "join", served.url, "--code", served.code, "--name", "Ada")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert "Joined 'Onboarding' as Ada" in joined.stdout

    graded = dojo(repo, "check", "n_plus_one")  # the starter: its N+1 checks fail
    assert "n_plus_one" in graded.stdout + graded.stderr

    deadline, board = time.monotonic() + SENT_SECONDS, served.board()
    while time.monotonic() < deadline:
        board = served.board()
        learners = board["learners"]
        assert isinstance(learners, list)
        if learners and learners[0]["current_kata"] == "n_plus_one":
            break
        time.sleep(0.5)
    learners = board["learners"]
    assert isinstance(learners, list)
    assert [row["name"] for row in learners] == ["Ada"]
    assert learners[0]["current_kata"] == "n_plus_one", board
    failed_rules = board["most_failed_rules"]
    assert isinstance(failed_rules, list)
    assert [entry["rule"] for entry in failed_rules] == ["PERF-2"]

    for width, name in ((1280, "workshop-board"), (390, "workshop-board-390")):
        visit = Visit(browser, served.url, width=width)
        page = visit.open(f"/#lead={served.token}")
        page.wait_for_selector("text=Ada")
        assert served.code in page.inner_text("#code")
        assert "PERF-2" in page.inner_text("#rules")
        assert visit.horizontal_overflow() == 0, "the page scrolls sideways: only the grid may"
        visit.screenshot(name, full_page=True)
        assert visit.errors == []
        assert visit.foreign_requests() == []
    assert (SCREENSHOTS / "workshop-board.png").is_file()


def test_the_site_may_post_to_the_board_and_no_other_origin_may(served: Served) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{served.url}/api/v1/workshop/gradings",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )

    assert preflight("http://127.0.0.1:8000").headers.get("access-control-allow-origin") == "http://127.0.0.1:8000"
    assert "access-control-allow-origin" not in preflight("http://elsewhere.test").headers


def test_a_wrong_lead_token_and_a_huge_body_get_the_envelope(served: Served) -> None:
    wrong = httpx.get(f"{served.url}/api/v1/workshop/board", headers={"Authorization": "Bearer nope"})
    json_body = {"Content-Type": "application/json"}
    huge = httpx.post(f"{served.url}/api/v1/workshop/join", content=b"x" * 200_000, headers=json_body)

    assert (wrong.status_code, wrong.json()["code"]) == (401, "not_authenticated")
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")


def test_a_kata_page_joins_from_the_lead_link_and_posts_its_gradings(repo: Path, site_url: str, browser: Any) -> None:
    with board(repo, "--site-origin", site_url) as served:
        visit = Visit(browser, site_url)
        visit.page.on("dialog", lambda dialog: dialog.accept("Grace"))
        page = visit.open(f"/katas/n_plus_one/#workshop={served.url}&code={served.code}")
        page.wait_for_selector("text=Joined 'Onboarding' as Grace", timeout=120_000)
        page.wait_for_selector("text=Ready: Python is loaded", timeout=120_000)
        page.get_by_role("button", name="Check", exact=True).click()
        try:
            page.wait_for_selector(".dojo-try__verdict >> text=checks fail", timeout=120_000)
        except Exception:
            visit.screenshot("debug-kata-workshop", full_page=True)
            raise AssertionError(str(visit.errors) + page.inner_text("body")[-3000:]) from None

        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + SENT_SECONDS
        while time.monotonic() < deadline and not rows:
            page_of = httpx.get(
                f"{served.url}/api/v1/workshop/gradings", headers={"Authorization": f"Bearer {served.token}"}
            ).json()
            rows = page_of["items"]
            time.sleep(0.5)
        assert [(row["learner"], row["kata"], row["status"], row["source"]) for row in rows] == [
            ("Grace", "n_plus_one", "failing", "browser")
        ]
        assert rows[0]["failing"], rows
        assert "#workshop" not in page.url, "the join link stays in the address bar after joining"


def test_only_gradings_of_the_learners_own_tree_are_queued_and_a_board_out_of_reach_breaks_none(repo: Path) -> None:
    membership = repo / ".dojo" / "workshop" / "membership.json"
    membership.parent.mkdir(parents=True, exist_ok=True)
    unreachable = {"url": "http://127.0.0.1:9", "token": "t", "name": "Ada", "workshop": "Onboarding", "attempts": {}}
    membership.write_text(json.dumps(unreachable), encoding="utf-8")
    outbox = repo / ".dojo" / "workshop" / "outbox.jsonl"

    reference = subprocess.run(
        [sys.executable, "-m", "pytest", "katas/n_plus_one", "--solutions", "-q"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reference.returncode == 0, reference.stdout[-2000:]
    assert not outbox.exists(), "a grading of the reference solutions was queued for the board"

    graded = dojo(repo, "check", "n_plus_one")
    assert "n_plus_one" in graded.stdout + graded.stderr
    queued = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert [(entry["kata"], entry["status"], entry["attempt"]) for entry in queued] == [("n_plus_one", "failing", 1)]
