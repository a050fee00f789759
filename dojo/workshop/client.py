"""The learner's side of a workshop: join a board, and send it each grading without ever slowing one.

After `dojo workshop join`, every grading of the learner's own kata tree (`dojo check`, `dojo watch`,
`uv run pytest katas`) adds one line per graded kata to a local queue (`.dojo/workshop/outbox.jsonl`),
then starts a short process of its own that sends the queue and exits. A board that cannot be reached
leaves the queue as it is, and the next grading (or `dojo workshop flush`) sends it. What is sent: the
kata, its status, the counts of checks passed and failed, the name and rule of each failing check, the
time and the attempt number. Never a line of code.
"""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dojo import paths
from dojo.files import now, write_json_atomic
from dojo.results import Outcome, Results
from dojo.workshop import http

POST_TIMEOUT_SECONDS = 3.0
MAX_QUEUED = 5_000  # a learner offline all day still queues every grading; beyond this, the oldest go


def folder() -> Path:
    return paths.STATE / "workshop"


def membership_path() -> Path:
    return folder() / "membership.json"


def outbox_path() -> Path:
    return folder() / "outbox.jsonl"


def rejected_path() -> Path:
    return folder() / "rejected.jsonl"


@dataclass
class Membership:
    url: str
    token: str
    name: str
    workshop: str
    attempts: dict[str, int]


class WorkshopClientError(Exception):
    """Joining failed; the message says why, in the board's words where it gave any."""


def read_membership() -> Membership | None:
    try:
        data = json.loads(membership_path().read_text(encoding="utf-8"))
        return Membership(**data)
    except (OSError, ValueError, TypeError):
        return None


def _save(membership: Membership) -> None:
    write_json_atomic(membership_path(), membership.__dict__)


def _message(response: http.Response) -> str:
    try:
        return str(response.json().get("message") or response.text)
    except ValueError:
        return response.text[:200]


def join(url: str, code: str, name: str) -> Membership:
    """Join the board at `url`, then queue the learner's current status so that the lead sees it at once."""
    base = url.rstrip("/")
    try:
        with http.client(base) as board:
            response = board.post("/api/v1/workshop/join", json={"code": code, "name": name})
    except http.HTTPError as error:
        raise WorkshopClientError(f"The board at {base} cannot be reached: {error}") from error
    if response.status_code != 201:
        raise WorkshopClientError(f"The board refused to let you join ({response.status_code}): {_message(response)}")
    body = response.json()
    membership = Membership(url=base, token=body["token"], name=body["name"], workshop=body["workshop"], attempts={})
    _save(membership)
    from dojo import results

    current = results.read(paths.STATE / "results.json") if (paths.STATE / "results.json").exists() else None
    if current is not None:
        queue(current, membership)
    return membership


def leave() -> bool:
    """Stop sending; True when the learner had joined a board. The queue of unsent gradings goes too."""
    joined = membership_path().exists()
    for path in (membership_path(), outbox_path()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return joined


def payloads(document: Results, membership: Membership) -> list[dict[str, Any]]:
    """One post per graded kata: its counts and failing checks, and the learner's attempt number."""
    posts = []
    for slug, result in document.katas.items():
        membership.attempts[slug] = membership.attempts.get(slug, 0) + 1
        failed = [test for test in result.tests if test.outcome == Outcome.FAILED]
        posts.append(
            {
                "grading_id": uuid.uuid4().hex,
                "kata": slug,
                "status": str(result.status),
                "passed": sum(test.outcome == Outcome.PASSED for test in result.tests),
                "failed": len(failed),
                "failing": [{"check": test.test[:300], "rule": test.rule} for test in failed][:200],
                "attempt": membership.attempts[slug],
                "graded_at": result.graded_at or document.finished_at or now(),
                "source": "cli",
            }
        )
    return posts


@contextlib.contextmanager
def _locked() -> Iterator[bool]:
    """An exclusive lock on the queue; False when another sender holds it (that one will send everything)."""
    folder().mkdir(parents=True, exist_ok=True)
    with (folder() / "outbox.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry) + "\n")


def queue(document: Results, membership: Membership | None = None) -> int:
    """Add the document's gradings to the queue; the number queued (0 when the learner has not joined)."""
    membership = membership or read_membership()
    if membership is None or not document.katas:
        return 0
    entries = payloads(document, membership)
    _save(membership)
    _append(outbox_path(), entries)
    return len(entries)


def _read_outbox() -> list[dict[str, Any]]:
    entries = []
    with contextlib.suppress(FileNotFoundError):
        for line in outbox_path().read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
    return entries[-MAX_QUEUED:]


def flush() -> tuple[int, int]:
    """Send the queue, oldest first: (sent, left). Stops at the first grading the board cannot take now."""
    membership = read_membership()
    if membership is None:
        return 0, 0
    with _locked() as mine:
        if not mine:
            return 0, len(_read_outbox())
        entries = _read_outbox()
        sent = 0
        with http.client(membership.url, timeout=POST_TIMEOUT_SECONDS) as board:
            for entry in entries:
                try:
                    response = board.post(
                        "/api/v1/workshop/gradings",
                        json=entry,
                        headers={"Authorization": f"Bearer {membership.token}"},
                    )
                except http.HTTPError:
                    break  # unreachable: keep the rest for later
                if response.status_code >= 500 or response.status_code == 429:
                    break
                if response.status_code >= 400:  # refused for good (a bad token, a conflict): kept aside, never lost
                    _append(
                        rejected_path(), [{"entry": entry, "status": response.status_code, "why": _message(response)}]
                    )
                sent += 1
        left = entries[sent:]
        tmp = outbox_path().with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(entry) + "\n" for entry in left), encoding="utf-8")
        os.replace(tmp, outbox_path())
        return sent, len(left)


def send_in_background() -> None:
    """Start a process that sends the queue and exits: the grading that called this does not wait for it."""
    with contextlib.suppress(OSError):
        subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "dojo.workshop.client", str(paths.REPO)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=paths.REPO,
        )


def after_grading(document: Results) -> None:
    """Called once a grading of the learner's own tree is recorded. Never raises, never waits."""
    try:
        if queue(document):
            send_in_background()
    except Exception:
        return


if __name__ == "__main__":
    with paths.use_repo(Path(sys.argv[1]) if len(sys.argv) > 1 else paths.REPO):
        flush()
