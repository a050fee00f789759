"""The killed worker that graders share (`dojo.grading.worker_killed_at_update`), on a real database.

A worker killed half-way keeps what it committed, runs no `except Exception`, sends no further query
but the rollback the database does for it, and the grader's connection works again once the block ends.
"""

import pytest
from django.db import transaction

from dojo.grading import WorkerKilled, worker_killed_at_update
from dojo.workshop.models import Workshop

from .workshop.factories import WorkshopFactory

pytestmark = pytest.mark.django_db(transaction=True)


def renamed(workshop: Workshop, title: str) -> None:
    Workshop.objects.filter(pk=workshop.pk).update(title=title)


def test_a_killed_worker_keeps_its_commits_and_runs_no_except_clause_and_no_query() -> None:
    workshop = WorkshopFactory.create(title="before")
    caught: list[str] = []
    queried: list[int | str] = []
    committed: list[Workshop] = []

    def service() -> None:  # as a service under grading may be written
        committed.append(WorkshopFactory.create(title="committed first"))
        try:
            with transaction.atomic():
                WorkshopFactory.create(title="in the killed transaction")
                renamed(workshop, "after")
        except Exception:
            caught.append("except ran")
        finally:
            try:
                queried.append(Workshop.objects.count())
            except WorkerKilled:
                queried.append("refused")

    with worker_killed_at_update(Workshop, "the workshop's update") as kill:
        with pytest.raises(WorkerKilled, match="just before the workshop's update"):
            service()
        assert kill.dead
    assert caught == []
    assert queried == ["refused"]
    assert kill.dead is False  # the grader's connection works again
    assert sorted(Workshop.objects.values_list("title", flat=True)) == ["before", "committed first"]
    assert Workshop.objects.get(pk=committed[0].pk).title == "committed first"


def test_it_kills_once_only_when_armed_and_spares_another_process() -> None:
    workshop = WorkshopFactory.create(title="before")
    with worker_killed_at_update(Workshop, "the workshop's update", armed=False) as kill:
        renamed(workshop, "not armed")
        kill.armed = True
        kill.spares(lambda: renamed(workshop, "another process"))()
        assert kill.armed
        with pytest.raises(WorkerKilled):
            renamed(workshop, "killed")
    assert not kill.armed
    renamed(workshop, "a new worker")
    workshop.refresh_from_db()
    assert workshop.title == "a new worker"
