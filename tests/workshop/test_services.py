"""The board's rules: joining, idempotent gradings, and the room as the lead reads it."""

from datetime import timedelta

import pytest
import time_machine

from dojo.workshop import services
from dojo.workshop.models import Grading, Learner
from dojo.workshop.schemas import GradingIn

from .factories import GradingFactory, LearnerFactory, WorkshopFactory, moment

pytestmark = pytest.mark.django_db

FAILING = [{"check": "test_query_count_is_within_budget", "rule": "PERF-2"}]


def posted(**fields: object) -> GradingIn:
    body: dict[str, object] = {
        "grading_id": "a1b2c3d4e5",
        "kata": "n_plus_one",
        "status": "failing",
        "passed": 10,
        "failed": 1,
        "failing": FAILING,
        "attempt": 1,
        "graded_at": "2026-12-06T10:00:00Z",
    }
    return GradingIn.model_validate(body | fields)


def test_a_learner_joins_with_the_code_and_gets_a_token_that_only_its_digest_is_kept_of() -> None:
    workshop = WorkshopFactory.create(join_code="ABC234")

    joined = services.join("abc234", "Ada")

    assert joined.learner.workshop == workshop
    assert services.learner_of_token(joined.token) == joined.learner
    assert joined.token not in joined.learner.token_hash


def test_an_unknown_code_and_a_name_already_in_the_room_are_refused() -> None:
    WorkshopFactory.create(join_code="ABC234")
    services.join("ABC234", "Ada")

    with pytest.raises(services.UnknownJoinCodeError):
        services.join("ZZZ999", "Grace")
    with pytest.raises(services.NameTakenError):
        services.join("ABC234", "Ada")
    assert Learner.objects.count() == 1


def test_a_replayed_grading_changes_nothing_and_the_same_id_with_other_results_is_a_conflict() -> None:
    learner = LearnerFactory.create()

    first, created = services.record_grading(learner, posted())
    again, created_again = services.record_grading(learner, posted())

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    with pytest.raises(services.GradingConflictError):
        services.record_grading(learner, posted(status="solved", failed=0, failing=[]))
    assert Grading.objects.count() == 1


def test_two_learners_may_send_the_same_grading_id() -> None:
    for learner in LearnerFactory.create_batch(2):
        services.record_grading(learner, posted())

    assert Grading.objects.count() == 2


def test_an_unknown_kata_is_refused() -> None:
    with pytest.raises(services.UnknownKataError):
        services.record_grading(LearnerFactory.create(), posted(kata="no_such_kata"))


def test_the_board_orders_by_its_own_clock_so_a_fast_learner_clock_is_neither_refused_nor_first() -> None:
    learner = LearnerFactory.create()
    with time_machine.travel(moment(0), tick=False):
        services.record_grading(learner, posted(grading_id="early0001", graded_at="2030-01-01T00:00:00Z"))
    with time_machine.travel(moment(5), tick=False):
        services.record_grading(learner, posted(grading_id="later0001", kata="webhook_idempotency"))

    board = services.board(learner.workshop, now=moment(6))

    assert board.learners[0].current_kata == "webhook_idempotency"


def test_the_grid_shows_each_learners_last_status_per_kata_and_how_long_they_have_been_on_the_current_one() -> None:
    workshop = WorkshopFactory.create()
    ada, grace = (
        LearnerFactory.create(workshop=workshop, name="Ada"),
        LearnerFactory.create(workshop=workshop, name="Grace"),
    )
    GradingFactory.create(learner=ada, kata="n_plus_one", received_at=moment(0))
    GradingFactory.create(learner=ada, kata="n_plus_one", status="solved", failed=0, failing=[], received_at=moment(3))
    GradingFactory.create(learner=ada, kata="webhook_idempotency", received_at=moment(4))
    GradingFactory.create(learner=ada, kata="webhook_idempotency", received_at=moment(9))
    LearnerFactory.create()  # another workshop's learner

    board = services.board(workshop, now=moment(10))

    assert [row.name for row in board.learners] == ["Ada", "Grace"]
    cells = {cell.kata: (cell.status, cell.attempts) for cell in board.learners[0].cells}
    assert cells["n_plus_one"] == ("solved", 2)
    assert cells["webhook_idempotency"] == ("failing", 2)
    assert cells["ruff_clean"] == ("not started", 0)
    assert (board.learners[0].current_kata, board.learners[0].minutes_on_current_kata) == ("webhook_idempotency", 6.0)
    assert board.learners[1].current_kata is None
    assert grace.pk == board.learners[1].learner_id


def test_a_learner_failing_the_same_check_past_the_limit_is_stuck_until_marked_helped() -> None:
    workshop = WorkshopFactory.create(stuck_minutes=10)
    ada = LearnerFactory.create(workshop=workshop, name="Ada")
    for minute in (0, 4, 8, 11):
        GradingFactory.create(learner=ada, received_at=moment(minute), failing=FAILING)

    stuck = services.board(workshop, now=moment(12)).stuck
    assert [(entry.name, entry.check, entry.rule, entry.minutes) for entry in stuck] == [
        ("Ada", "test_query_count_is_within_budget", "PERF-2", 12.0)
    ]
    assert stuck[0].rule_url is not None
    assert stuck[0].rule_url.endswith("/rules/perf-2/")

    with time_machine.travel(moment(12), tick=False):
        services.mark_helped(workshop, ada.pk)
    assert services.board(workshop, now=moment(13)).stuck == []


def test_a_check_that_passed_in_between_starts_the_clock_again() -> None:
    workshop = WorkshopFactory.create(stuck_minutes=10)
    ada = LearnerFactory.create(workshop=workshop)
    GradingFactory.create(learner=ada, received_at=moment(0))
    GradingFactory.create(learner=ada, received_at=moment(5), failing=[{"check": "test_other", "rule": "PERF-2"}])
    GradingFactory.create(learner=ada, received_at=moment(9))

    assert services.board(workshop, now=moment(15)).stuck == []
    assert len(services.board(workshop, now=moment(20)).stuck) == 1


def test_the_most_failed_checks_and_rules_count_learners_on_their_last_grading() -> None:
    workshop = WorkshopFactory.create()
    for name in ("Ada", "Grace", "Linus"):
        learner = LearnerFactory.create(workshop=workshop, name=name)
        GradingFactory.create(learner=learner, received_at=moment(1))
    solved = LearnerFactory.create(workshop=workshop, name="Solved")
    GradingFactory.create(learner=solved, received_at=moment(1))
    GradingFactory.create(learner=solved, status="solved", failed=0, failing=[], received_at=moment(2))

    board = services.board(workshop, now=moment(3))

    assert [(c.check, c.learners) for c in board.most_failed_checks] == [("test_query_count_is_within_budget", 3)]
    assert [(r.rule, r.learners) for r in board.most_failed_rules] == [("PERF-2", 3)]


def test_the_board_reads_the_room_in_a_fixed_number_of_queries(django_assert_max_num_queries: object) -> None:
    workshop = WorkshopFactory.create()
    for index in range(30):
        learner = LearnerFactory.create(workshop=workshop)
        GradingFactory.create_batch(3, learner=learner, received_at=moment(index % 50))

    with django_assert_max_num_queries(3):  # type: ignore[operator]  # the learners, then all their gradings
        services.board(workshop, now=moment(55))


def test_deleting_the_data_keeps_the_workshop_and_removes_its_learners_and_gradings() -> None:
    workshop = WorkshopFactory.create()
    GradingFactory.create_batch(2, learner__workshop=workshop)
    other = GradingFactory.create()

    services.delete_data(workshop)

    assert list(Grading.objects.all()) == [other]
    assert workshop.learners.count() == 0


def test_the_export_lists_every_grading_in_the_order_received() -> None:
    workshop = WorkshopFactory.create()
    learner = LearnerFactory.create(workshop=workshop, name="Ada")
    GradingFactory.create(learner=learner, kata="ruff_clean", received_at=moment(2))
    GradingFactory.create(learner=learner, kata="n_plus_one", received_at=moment(1))

    rows = list(services.export_rows(workshop))
    text = services.export_csv(workshop)

    assert [row["kata"] for row in rows] == ["n_plus_one", "ruff_clean"]
    assert text.splitlines()[0].startswith("learner,kata,status")
    assert "Ada,n_plus_one,failing,10,2,test_query_count_is_within_budget,PERF-2" in text
    assert services.export_json(workshop)["self_reported"] is True


def test_pages_of_gradings_hold_each_once(django_assert_max_num_queries: object) -> None:
    workshop = WorkshopFactory.create()
    learner = LearnerFactory.create(workshop=workshop)
    made = [
        GradingFactory.create(learner=learner, received_at=moment(index // 3)) for index in range(10)
    ]  # ties on time

    seen, after = [], None
    while True:
        page, more = services.gradings_page(workshop, after, 4)
        seen += page
        if not more:
            break
        after = (page[-1].received_at, page[-1].pk)

    assert [grading.pk for grading in seen] == [grading.pk for grading in made]
    assert timedelta(0) <= seen[-1].received_at - seen[0].received_at
