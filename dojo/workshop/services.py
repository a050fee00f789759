"""What the board does: open a workshop, admit learners, record gradings, and read the room.

Every rule of the board lives here; the routes in `api.py` only translate HTTP to these calls. Tokens
are stored as SHA-256 digests, so that a copy of the database opens no board and posts as no learner.
"""

import csv
import hashlib
import io
import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from dojo import paths
from dojo.manifest import load_katas
from dojo.rules import load_rules

from .models import Grading, Learner, Workshop
from .schemas import (
    BoardOut,
    Cell,
    CellStatus,
    FailedCheck,
    FailedRule,
    GradingIn,
    LearnerRow,
    StuckLearner,
)

#: letters and digits that cannot be misread when a lead writes the code on a whiteboard
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MOST_FAILED = 10


class WorkshopError(Exception):
    """A request the board refuses; `status` is the HTTP status it answers with."""

    status = 400
    code = "bad_request"


class UnknownJoinCodeError(WorkshopError):
    status, code = 401, "not_authenticated"


class NameTakenError(WorkshopError):
    status, code = 409, "conflict"


class UnknownKataError(WorkshopError):
    status, code = 422, "validation_error"


class GradingConflictError(WorkshopError):
    status, code = 409, "conflict"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def kata_slugs() -> list[str]:
    return [kata.slug for kata in load_katas()]


def rule_page(rule: str | None) -> str | None:
    if rule is None or rule not in load_rules():
        return None
    return f"{paths.SITE_URL}/{load_rules()[rule].page}"


@dataclass(frozen=True)
class Opened:
    workshop: Workshop
    lead_token: str


def open_workshop(title: str, stuck_minutes: int = 10) -> Opened:
    """A new workshop with a fresh join code and lead token (shown once: only its digest is kept)."""
    lead_token = secrets.token_urlsafe(24)
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not Workshop.objects.filter(join_code=code).exists():
            break
    workshop = Workshop.objects.create(
        title=title, join_code=code, lead_token_hash=digest(lead_token), stuck_minutes=stuck_minutes
    )
    return Opened(workshop, lead_token)


def workshop_of_lead(token: str) -> Workshop | None:
    return Workshop.objects.filter(lead_token_hash=digest(token)).first()


def learner_of_token(token: str) -> Learner | None:
    return Learner.objects.select_related("workshop").filter(token_hash=digest(token)).first()


@dataclass(frozen=True)
class Joined:
    learner: Learner
    token: str


def join(code: str, name: str) -> Joined:
    """Admit a learner by the workshop's join code. A name already in the room is refused, not taken over."""
    workshop = Workshop.objects.filter(join_code=code.strip().upper()).first()
    if workshop is None:
        raise UnknownJoinCodeError("No workshop has this join code: ask the lead for it again.")
    token = secrets.token_urlsafe(24)
    try:
        with transaction.atomic():
            learner = Learner.objects.create(workshop=workshop, name=name.strip(), token_hash=digest(token))
    except IntegrityError as error:
        raise NameTakenError(
            f"Someone in this workshop already joined as {name.strip()!r}: pick another name."
        ) from error
    return Joined(learner, token)


def _body_hash(payload: GradingIn) -> str:
    body = payload.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def record_grading(learner: Learner, payload: GradingIn) -> tuple[Grading, bool]:
    """Store one grading; True when it is new. A replay of the same post changes nothing.

    Idempotent by the learner's grading id (DATA-3): the same id with the same body is the same grading,
    sent again by a queue that did not hear the answer; the same id with another body is a conflict.
    """
    if payload.kata not in kata_slugs():
        raise UnknownKataError(f"There is no kata {payload.kata!r} in this dojo.")
    body_hash = _body_hash(payload)
    try:
        with transaction.atomic():
            grading = Grading.objects.create(
                learner=learner,
                grading_id=payload.grading_id,
                kata=payload.kata,
                status=payload.status,
                passed=payload.passed,
                failed=payload.failed,
                failing=[check.model_dump() for check in payload.failing],
                attempt=payload.attempt,
                graded_at=payload.graded_at,
                received_at=timezone.now(),
                source=payload.source,
                body_hash=body_hash,
            )
    except IntegrityError:
        grading = Grading.objects.select_related("learner").get(learner=learner, grading_id=payload.grading_id)
        if grading.body_hash != body_hash:
            raise GradingConflictError(
                f"Grading {payload.grading_id} was already received with other results."
            ) from None
        return grading, False
    return grading, True


def mark_helped(workshop: Workshop, learner_id: int) -> Learner:
    learner = Learner.objects.get(workshop=workshop, pk=learner_id)  # another workshop's learner: not found
    learner.helped_at = timezone.now()
    learner.save(update_fields=["helped_at", "updated_at"])
    return learner


def set_stuck_minutes(workshop: Workshop, minutes: int) -> Workshop:
    workshop.stuck_minutes = minutes
    workshop.save(update_fields=["stuck_minutes", "updated_at"])
    return workshop


def delete_data(workshop: Workshop) -> int:
    """Delete the learners and gradings of a workshop (the workshop, its code and its lead stay)."""
    deleted, _ = Learner.objects.filter(workshop=workshop).delete()
    return deleted


def gradings_page(workshop: Workshop, after: tuple[datetime, int] | None, size: int) -> tuple[list[Grading], bool]:
    """Gradings in the order the board received them, from after a keyset (received_at, id)."""
    rows = Grading.objects.select_related("learner").filter(learner__workshop=workshop)
    if after is not None:
        moment, pk = after
        # the redundant bound lets the index find the page; the OR settles ties on the instant
        rows = rows.filter(received_at__gte=moment).exclude(received_at=moment, id__lte=pk)
    page = list(rows.order_by("received_at", "id")[: size + 1])
    return page[:size], len(page) > size


# --- the board -----------------------------------------------------------------------------------------


def _minutes(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / 60, 1)


def _current_run(history: Sequence[Grading]) -> tuple[str, datetime]:
    """The kata of the learner's last grading, and when they started on it (their last switch to it)."""
    kata = history[-1].kata
    start = history[-1].received_at
    for grading in reversed(history):
        if grading.kata != kata:
            break
        start = grading.received_at
    return kata, start


def _stuck(learner: Learner, history: Sequence[Grading], now: datetime, minutes: int) -> list[StuckLearner]:
    """The checks the learner's current kata has failed without a break for more than `minutes`."""
    last = history[-1]
    if last.status != Grading.Status.FAILING:
        return []
    of_kata = [grading for grading in history if grading.kata == last.kata]
    stuck = []
    # O(failing checks × gradings of this kata): a few checks and a few dozen gradings per learner
    # in a workshop, so walking back beats keeping an index of every check's streak
    for failing in last.failing:
        check = failing.get("check")
        since = last.received_at
        for grading in reversed(of_kata):
            if not any(entry.get("check") == check for entry in grading.failing):
                break
            since = grading.received_at
        helped = learner.helped_at is not None and learner.helped_at >= since
        if not helped and (now - since).total_seconds() > minutes * 60:
            rule = failing.get("rule")
            stuck.append(
                StuckLearner(
                    learner_id=learner.pk,
                    name=learner.name,
                    kata=last.kata,
                    check=str(check),
                    rule=rule,
                    rule_url=rule_page(rule),
                    minutes=_minutes(since, now),
                )
            )
    return stuck


def _cell_status(grading: Grading | None) -> CellStatus:
    if grading is None:
        return "not started"
    return cast(CellStatus, grading.status)  # a Grading.Status choice, stored as its string


def board(workshop: Workshop, now: datetime | None = None) -> BoardOut:
    """The room at a glance, from one query of its gradings."""
    now = now or timezone.now()
    katas = kata_slugs()
    learners = list(workshop.learners.order_by("name", "id"))
    histories: dict[int, list[Grading]] = defaultdict(list)
    for grading in Grading.objects.filter(learner__workshop=workshop).order_by("received_at", "id"):
        histories[grading.learner_id].append(grading)
    rows, stuck = [], []
    failed_checks: Counter[tuple[str, str, str | None]] = Counter()
    failed_rules: Counter[str] = Counter()
    for learner in learners:
        history = histories.get(learner.pk, [])
        latest: dict[str, Grading] = {}
        attempts: Counter[str] = Counter()
        for grading in history:
            latest[grading.kata] = grading
            attempts[grading.kata] += 1
        cells = [Cell(kata=kata, status=_cell_status(latest.get(kata)), attempts=attempts[kata]) for kata in katas]
        current, minutes_on = None, None
        if history:
            current, started = _current_run(history)
            minutes_on = _minutes(started, now)
            stuck += _stuck(learner, history, now, workshop.stuck_minutes)
        for grading in latest.values():
            if grading.status != Grading.Status.FAILING:
                continue
            for failing in grading.failing:
                failed_checks[(grading.kata, str(failing.get("check")), failing.get("rule"))] += 1
            for rule in {str(failing["rule"]) for failing in grading.failing if failing.get("rule")}:
                failed_rules[rule] += 1
        rows.append(
            LearnerRow(
                learner_id=learner.pk,
                name=learner.name,
                current_kata=current,
                minutes_on_current_kata=minutes_on,
                helped_at=learner.helped_at,
                cells=cells,
            )
        )
    return BoardOut(
        workshop=workshop.title,
        join_code=workshop.join_code,
        stuck_minutes=workshop.stuck_minutes,
        now=now,
        katas=katas,
        learners=rows,
        stuck=sorted(stuck, key=lambda entry: -entry.minutes),
        most_failed_checks=[
            FailedCheck(kata=kata, check=check, rule=rule, rule_url=rule_page(rule), learners=count)
            for (kata, check, rule), count in failed_checks.most_common(MOST_FAILED)
        ],
        most_failed_rules=[
            FailedRule(rule=rule, rule_url=rule_page(rule) or "", learners=count)
            for rule, count in failed_rules.most_common(MOST_FAILED)
        ],
    )


# --- export ------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "learner",
    "kata",
    "status",
    "passed",
    "failed",
    "failing_checks",
    "failing_rules",
    "attempt",
    "graded_at",
    "received_at",
    "source",
)


def export_rows(workshop: Workshop) -> Iterable[dict[str, object]]:
    rows = Grading.objects.select_related("learner").filter(learner__workshop=workshop).order_by("received_at", "id")
    for grading in rows.iterator(chunk_size=500):
        yield {
            "learner": grading.learner.name,
            "kata": grading.kata,
            "status": grading.status,
            "passed": grading.passed,
            "failed": grading.failed,
            "failing_checks": [entry.get("check") for entry in grading.failing],
            "failing_rules": sorted({str(entry.get("rule")) for entry in grading.failing if entry.get("rule")}),
            "attempt": grading.attempt,
            "graded_at": grading.graded_at.isoformat(),
            "received_at": grading.received_at.isoformat(),
            "source": grading.source,
        }


def export_csv(workshop: Workshop) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in export_rows(workshop):
        writer.writerow({key: "; ".join(map(str, v)) if isinstance(v, list) else v for key, v in row.items()})
    return out.getvalue()


def export_json(workshop: Workshop) -> dict[str, object]:
    return {
        "workshop": workshop.title,
        "exported_at": timezone.now().isoformat(),
        "self_reported": True,
        "gradings": list(export_rows(workshop)),
    }
