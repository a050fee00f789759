"""The board's routes under /api/v1/workshop/: each translates HTTP into one service call."""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer

from dojo import api_errors

from . import services
from .models import Grading, Learner, Workshop
from .schemas import (
    BoardOut,
    ExportOut,
    GradingIn,
    GradingOut,
    GradingPage,
    JoinIn,
    JoinOut,
    LearnerOut,
    SettingsIn,
)

PAGE_SIZE = 50


class LearnerToken(HttpBearer):
    """The token `join` gave a learner: it posts that learner's gradings and nothing else."""

    def authenticate(self, request: HttpRequest, token: str) -> Learner | None:
        return services.learner_of_token(token)


class LeadToken(HttpBearer):
    """The lead's token, printed by `dojo workshop serve`: it opens the board, the export and the settings."""

    def authenticate(self, request: HttpRequest, token: str) -> Workshop | None:
        return services.workshop_of_lead(token)


class PageQuery(Schema):
    cursor: Annotated[str, Field(max_length=200)] | None = None
    size: Annotated[int, Field(ge=1, le=200)] = PAGE_SIZE


def encode_cursor(grading: Grading) -> str:
    raw = json.dumps([grading.received_at.isoformat(), grading.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(moment)
        if not isinstance(pk, int) or isinstance(pk, bool) or not 1 <= pk <= api_errors.BIGINT_MAX or at.tzinfo is None:
            raise ValueError(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise HttpError(422, "The cursor is not one this list gave: start again without it.") from None
    return at, pk


def _learner(request: HttpRequest) -> Learner:
    learner = request.auth  # type: ignore[attr-defined]  # set by LearnerToken
    if not isinstance(learner, Learner):
        raise HttpError(401, "A learner's token is required.")
    return learner


def _workshop(request: HttpRequest) -> Workshop:
    workshop = request.auth  # type: ignore[attr-defined]  # set by LeadToken
    if not isinstance(workshop, Workshop):
        raise HttpError(401, "The lead's token is required.")
    return workshop


router = Router(tags=["workshop"])


@router.post("/join", response={201: JoinOut}, auth=None)
def join(request: HttpRequest, payload: JoinIn) -> Status[JoinOut]:
    joined = services.join(payload.code, payload.name)
    learner = joined.learner
    return Status(
        201, JoinOut(learner_id=learner.pk, name=learner.name, token=joined.token, workshop=learner.workshop.title)
    )


@router.post("/gradings", response={200: GradingOut, 201: GradingOut}, auth=LearnerToken())
def post_grading(request: HttpRequest, payload: GradingIn) -> Status[GradingOut]:
    grading, created = services.record_grading(_learner(request), payload)
    return Status(201 if created else 200, _grading_out(grading))


@router.get("/gradings", response=GradingPage, auth=LeadToken())
def list_gradings(request: HttpRequest, page: Query[PageQuery]) -> GradingPage:
    after = decode_cursor(page.cursor) if page.cursor else None
    rows, more = services.gradings_page(_workshop(request), after, page.size)
    return GradingPage(items=[_grading_out(row) for row in rows], next=encode_cursor(rows[-1]) if more else None)


@router.get("/board", response=BoardOut, auth=LeadToken())
def read_board(request: HttpRequest) -> BoardOut:
    return services.board(_workshop(request))


@router.post("/learners/{learner_id}/helped", response=LearnerOut, auth=LeadToken())
def mark_helped(request: HttpRequest, learner_id: api_errors.DatabaseId) -> LearnerOut:
    learner = services.mark_helped(_workshop(request), learner_id)
    return LearnerOut(learner_id=learner.pk, name=learner.name, helped_at=learner.helped_at)


@router.put("/settings", response=SettingsIn, auth=LeadToken())
def update_settings(request: HttpRequest, payload: SettingsIn) -> SettingsIn:
    workshop = services.set_stuck_minutes(_workshop(request), payload.stuck_minutes)
    return SettingsIn(stuck_minutes=workshop.stuck_minutes)


@router.get("/export.json", response=ExportOut, auth=LeadToken())
def export_json(request: HttpRequest, response: HttpResponse) -> dict[str, object]:
    response["Content-Disposition"] = 'attachment; filename="workshop.json"'
    return services.export_json(_workshop(request))


@router.get("/export.csv", auth=LeadToken())  # dojo: ignore[API-2] a CSV file for a spreadsheet, not JSON
def export_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(services.export_csv(_workshop(request)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="workshop.csv"'
    return response


@router.delete("/data", response={204: None}, auth=LeadToken())
def delete_data(request: HttpRequest) -> Status[None]:
    services.delete_data(_workshop(request))
    return Status(204, None)


def _grading_out(grading: Grading) -> GradingOut:
    return GradingOut(
        grading_id=grading.grading_id,
        learner=grading.learner.name,
        kata=grading.kata,
        status=grading.status,  # type: ignore[arg-type]  # a Status choice, stored as its string
        passed=grading.passed,
        failed=grading.failed,
        failing=grading.failing,
        attempt=grading.attempt,
        graded_at=grading.graded_at,
        received_at=grading.received_at,
        source=grading.source,
    )


api = NinjaAPI(title="Workshop board", version="1", urls_namespace="workshop")
api_errors.install(api)


def _workshop_error(request: HttpRequest, exc: Any) -> HttpResponse:  # noqa: ANN401 - Ninja's handler type
    return api.create_response(request, api_errors.error_body(exc.code, str(exc)), status=exc.status)


api.add_exception_handler(services.WorkshopError, _workshop_error)
api.add_router("/workshop", router)
