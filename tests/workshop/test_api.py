"""The board's API under /api/v1/workshop/: schemas, the one envelope, tokens, idempotency, pagination."""

from typing import Any

import pytest
from django.test import Client, override_settings

from dojo.workshop.models import Grading

from .factories import GradingFactory, LearnerFactory, WorkshopFactory, lead_token, moment

pytestmark = [pytest.mark.django_db, pytest.mark.urls("dojo.workshop.urls")]

BASE = "/api/v1/workshop"
GRADING = {
    "grading_id": "a1b2c3d4e5",
    "kata": "n_plus_one",
    "status": "failing",
    "passed": 10,
    "failed": 1,
    "failing": [{"check": "test_query_count_is_within_budget", "rule": "PERF-2"}],
    "attempt": 1,
    "graded_at": "2026-12-06T10:00:00+00:00",
}


def enveloped(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    return body


def joined(client: Client, code: str = "ABC234", name: str = "Ada") -> str:
    response = client.post(f"{BASE}/join", {"code": code, "name": name}, content_type="application/json")
    assert response.status_code == 201, response.content
    token: str = response.json()["token"]
    return token


def post(client: Client, token: str, body: dict[str, Any]) -> Any:
    auth = {"Authorization": f"Bearer {token}"}
    return client.post(f"{BASE}/gradings", body, content_type="application/json", headers=auth)


def test_a_learner_joins_and_posts_gradings_idempotently(client: Client) -> None:
    WorkshopFactory.create(join_code="ABC234")
    token = joined(client)

    first, replay = post(client, token, GRADING), post(client, token, GRADING)
    conflict = post(client, token, GRADING | {"status": "solved", "failed": 0, "failing": []})

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert enveloped(conflict, 409)["code"] == "conflict"
    assert Grading.objects.count() == 1


def test_an_unknown_code_a_taken_name_and_a_missing_or_wrong_token_answer_in_the_envelope(client: Client) -> None:
    workshop = WorkshopFactory.create(join_code="ABC234")
    token = joined(client)

    unknown = client.post(f"{BASE}/join", {"code": "ZZZZ99", "name": "Grace"}, content_type="application/json")
    taken = client.post(f"{BASE}/join", {"code": "ABC234", "name": "Ada"}, content_type="application/json")
    assert enveloped(unknown, 401)["code"] == "not_authenticated"
    assert enveloped(taken, 409)["code"] == "conflict"
    enveloped(post(client, "not-a-token", GRADING), 401)
    enveloped(post(client, lead_token(workshop), GRADING), 401)  # the lead cannot post as a learner
    enveloped(client.get(f"{BASE}/board", headers={"Authorization": f"Bearer {token}"}), 401)  # nor a learner read
    enveloped(client.get(f"{BASE}/board"), 401)


@pytest.mark.parametrize(
    "change",
    [
        {"kata": "no_such_kata"},
        {"kata": "../../etc"},
        {"status": "passed"},
        {"passed": -1},
        {"attempt": 0},
        {"grading_id": "x"},
        {"graded_at": "yesterday"},
        {"failing": [{"check": "", "rule": "PERF-2"}]},
        {"failing": [{"check": "a\u0000b", "rule": None}]},
        {"failing": "all of them"},
    ],
    ids=lambda change: ",".join(change),
)
def test_a_malformed_grading_is_refused_with_a_4xx_and_stores_nothing(client: Client, change: dict[str, Any]) -> None:
    WorkshopFactory.create(join_code="ABC234")
    token = joined(client)

    body = enveloped(post(client, token, GRADING | change), 422)

    assert body["code"] == "validation_error"
    assert Grading.objects.count() == 0


@override_settings(MIDDLEWARE=["dojo.workshop.middleware.BodyLimitMiddleware"], DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_huge_body_is_refused_before_it_is_read(client: Client) -> None:
    WorkshopFactory.create(join_code="ABC234")
    token = joined(client)

    body = enveloped(post(client, token, GRADING | {"failing": [{"check": "x" * 300}] * 200}), 413)

    assert body["code"] == "payload_too_large"
    assert Grading.objects.count() == 0


def test_the_lead_reads_the_board_pages_the_gradings_and_marks_a_learner_helped(client: Client) -> None:
    workshop = WorkshopFactory.create()
    auth = {"Authorization": f"Bearer {lead_token(workshop)}"}
    learner = LearnerFactory.create(workshop=workshop, name="Ada")
    made = [GradingFactory.create(learner=learner, received_at=moment(index // 2)) for index in range(7)]
    stranger = LearnerFactory.create()

    board = client.get(f"{BASE}/board", headers=auth)
    ids, url = [], f"{BASE}/gradings?size=3"
    while url:
        page = client.get(url, headers=auth).json()
        ids += [item["grading_id"] for item in page["items"]]
        url = f"{BASE}/gradings?size=3&cursor={page['next']}" if page["next"] else ""
    helped = client.post(f"{BASE}/learners/{learner.pk}/helped", headers=auth)
    not_ours = client.post(f"{BASE}/learners/{stranger.pk}/helped", headers=auth)

    assert board.status_code == 200
    assert board.json()["learners"][0]["name"] == "Ada"
    assert ids == [grading.grading_id for grading in made]
    assert helped.json()["helped_at"] is not None
    enveloped(not_ours, 404)


@pytest.mark.parametrize("cursor", ["not-base64!", "bnVsbA==", "WzEsMl0=", "WyIyMDI2LTEyLTA2VDEwOjAwOjAwIiwgMV0="])
def test_a_cursor_the_list_did_not_give_is_refused(client: Client, cursor: str) -> None:
    workshop = WorkshopFactory.create()

    auth = {"Authorization": f"Bearer {lead_token(workshop)}"}

    response = client.get(f"{BASE}/gradings?cursor={cursor}", headers=auth)

    assert "cursor" in enveloped(response, 422)["message"]


def test_the_lead_exports_sets_the_limit_and_deletes_the_data(client: Client) -> None:
    workshop = WorkshopFactory.create()
    auth = {"Authorization": f"Bearer {lead_token(workshop)}"}
    GradingFactory.create(learner__workshop=workshop, learner__name="Ada")

    csv = client.get(f"{BASE}/export.csv", headers=auth)
    json = client.get(f"{BASE}/export.json", headers=auth)
    limit = client.put(f"{BASE}/settings", {"stuck_minutes": 5}, content_type="application/json", headers=auth)
    deleted = client.delete(f"{BASE}/data", headers=auth)

    assert b"Ada,n_plus_one,failing" in csv.content
    assert json.json()["gradings"][0]["learner"] == "Ada"
    assert limit.json() == {"stuck_minutes": 5}
    assert deleted.status_code == 204
    assert Grading.objects.count() == 0


def test_a_method_a_path_does_not_have_answers_in_the_envelope(client: Client) -> None:
    enveloped(client.get(f"{BASE}/join"), 405)


def test_the_board_page_is_served_and_keeps_the_token_out_of_the_server(client: Client) -> None:
    page = client.get("/")

    assert page.status_code == 200
    assert b"#lead=" in page.content or b"location.hash" in page.content
    assert page["Referrer-Policy"] == "no-referrer"
