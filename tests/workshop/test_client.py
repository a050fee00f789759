"""The learner's side: join, queue each grading, send it later; a board out of reach never breaks a grading."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.live_server_helper import LiveServer

from dojo import paths
from dojo.results import KataResult, KataStatus, Results, TestResult
from dojo.workshop import client, http
from dojo.workshop.models import Grading, Learner

from .factories import WorkshopFactory

pytestmark = pytest.mark.urls("dojo.workshop.urls")


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    """A clone of the dojo of its own: the learner's real .dojo/ is never touched."""
    with paths.use_repo(tmp_path):
        yield tmp_path


def graded(slug: str = "n_plus_one", failing: bool = True) -> Results:
    tests = (
        TestResult("test_statement_lists_the_months_invoices_in_order_with_totals", "passed", None, "", False),
        TestResult("test_query_count_is_within_budget", "failed" if failing else "passed", "PERF-2", "", False),
    )
    status = KataStatus.FAILING if failing else KataStatus.SOLVED
    result = KataResult(slug, status, tests, graded_at="2026-12-06T10:00:00+00:00")
    return Results(tree="katas/", finished_at="2026-12-06T10:00:00+00:00", katas={slug: result})


def member(url: str = "http://127.0.0.1:9") -> client.Membership:
    token = "a-learner-token"  # noqa: S105 - a test's own token
    membership = client.Membership(url=url, token=token, name="Ada", workshop="Onboarding", attempts={})
    client.membership_path().parent.mkdir(parents=True, exist_ok=True)
    client.membership_path().write_text(json.dumps(membership.__dict__), encoding="utf-8")
    return membership


@pytest.mark.django_db(transaction=True)
def test_joining_sends_the_status_then_each_grading_reaches_the_board(clone: Path, live_server: LiveServer) -> None:
    WorkshopFactory.create(join_code="ABC234")
    from dojo import results

    results.write(paths.STATE / "results.json", graded("ruff_clean", failing=False))

    membership = client.join(live_server.url, "ABC234", "Ada")
    client.flush()
    client.queue(graded())
    client.queue(graded())
    sent, left = client.flush()

    assert (sent, left) == (2, 0)
    assert membership.name == "Ada"
    rows = list(Grading.objects.order_by("received_at", "id").values_list("kata", "status", "attempt", "failed"))
    assert rows == [("ruff_clean", "solved", 1, 0), ("n_plus_one", "failing", 1, 1), ("n_plus_one", "failing", 2, 1)]
    assert Grading.objects.get(kata="n_plus_one", attempt=1).failing == [
        {"check": "test_query_count_is_within_budget", "rule": "PERF-2"}
    ]
    assert Learner.objects.get().name == "Ada"


@pytest.mark.django_db(transaction=True)
def test_a_refused_grading_is_set_aside_and_the_rest_is_sent(clone: Path, live_server: LiveServer) -> None:
    WorkshopFactory.create(join_code="ABC234")
    client.join(live_server.url, "ABC234", "Ada")
    client.queue(graded())
    entries = [json.loads(line) for line in client.outbox_path().read_text(encoding="utf-8").splitlines()]
    conflicting = entries[0] | {"status": "solved"}  # the same grading id with other results: a 409
    client.outbox_path().write_text(
        "".join(json.dumps(entry) + "\n" for entry in [entries[0], conflicting]), encoding="utf-8"
    )

    assert client.flush() == (2, 0)
    assert Grading.objects.count() == 1
    refused = [json.loads(line) for line in client.rejected_path().read_text(encoding="utf-8").splitlines()]
    assert [entry["status"] for entry in refused] == [409]


def test_an_unreachable_board_keeps_every_grading_for_later(clone: Path) -> None:
    member()
    client.queue(graded())
    client.queue(graded("ruff_clean"))

    assert client.flush() == (0, 2)
    assert len(client.outbox_path().read_text(encoding="utf-8").splitlines()) == 2


def test_a_grading_only_queues_and_starts_a_sender_of_its_own(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    member()
    started: list[bool] = []

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the grading itself must not talk to the board")

    monkeypatch.setattr(http, "client", no_network)  # the module the client sends through
    monkeypatch.setattr(client, "send_in_background", lambda: started.append(True))

    client.after_grading(graded())

    assert started == [True]
    assert len(client.outbox_path().read_text(encoding="utf-8").splitlines()) == 1


def test_a_grading_before_joining_or_with_a_broken_membership_sends_nothing_and_never_fails(clone: Path) -> None:
    client.after_grading(graded())
    assert not client.outbox_path().exists()

    client.membership_path().parent.mkdir(parents=True, exist_ok=True)
    client.membership_path().write_text("{not json", encoding="utf-8")
    client.after_grading(graded())
    assert not client.outbox_path().exists()


def test_leaving_stops_sending(clone: Path) -> None:
    member()
    client.queue(graded())

    assert client.leave() is True
    client.after_grading(graded())

    assert not client.outbox_path().exists()
    assert client.leave() is False


@pytest.mark.django_db
def test_an_unknown_join_code_is_said_plainly(clone: Path, live_server: LiveServer) -> None:
    with pytest.raises(client.WorkshopClientError, match="join code"):
        client.join(live_server.url, "NOPE99", "Ada")
    with pytest.raises(client.WorkshopClientError, match="cannot be reached"):
        client.join("http://127.0.0.1:9", "NOPE99", "Ada")
