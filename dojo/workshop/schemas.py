"""What the board's API takes and answers: every request and response has its schema."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from dojo.api_errors import Text

Name = Annotated[Text, Field(min_length=1, max_length=80)]
Code = Annotated[Text, Field(min_length=4, max_length=16)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Count = Annotated[int, Field(ge=0, le=10_000)]
Status = Literal["solved", "failing", "incomplete", "broken"]


class JoinIn(Schema):
    code: Code
    name: Name


class JoinOut(Schema):
    learner_id: int
    name: str
    token: str
    workshop: str


class FailingCheck(Schema):
    check: Annotated[Text, Field(min_length=1, max_length=300)]
    rule: Annotated[str, Field(pattern=r"^[A-Z]+-[0-9]+$")] | None = None


class GradingIn(Schema):
    """One grading, as the learner's machine sends it: no code, only counts and the checks that fail."""

    grading_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    kata: Slug
    status: Status
    passed: Count
    failed: Count
    failing: Annotated[list[FailingCheck], Field(max_length=200)] = []
    attempt: Annotated[int, Field(ge=1, le=1_000_000)]
    graded_at: datetime
    source: Literal["cli", "browser"] = "cli"


class GradingOut(Schema):
    grading_id: str
    learner: str
    kata: str
    status: Status
    passed: int
    failed: int
    failing: list[FailingCheck]
    attempt: int
    graded_at: datetime
    received_at: datetime
    source: str


class GradingPage(Schema):
    items: list[GradingOut]
    next: str | None


CellStatus = Literal["not started", "solved", "failing", "incomplete", "broken"]


class Cell(Schema):
    kata: str
    status: CellStatus
    attempts: int


class LearnerRow(Schema):
    learner_id: int
    name: str
    current_kata: str | None
    minutes_on_current_kata: float | None
    helped_at: datetime | None
    cells: list[Cell]


class StuckLearner(Schema):
    learner_id: int
    name: str
    kata: str
    check: str
    rule: str | None
    rule_url: str | None
    minutes: float


class FailedCheck(Schema):
    kata: str
    check: str
    rule: str | None
    rule_url: str | None
    learners: int


class FailedRule(Schema):
    rule: str
    rule_url: str
    learners: int


class BoardOut(Schema):
    workshop: str
    join_code: str
    stuck_minutes: int
    now: datetime
    katas: list[str]
    learners: list[LearnerRow]
    stuck: list[StuckLearner]
    most_failed_checks: list[FailedCheck]
    most_failed_rules: list[FailedRule]
    self_reported: bool = True  # results come from the learners' machines: a lead reads them as such


class ExportRow(Schema):
    learner: str
    kata: str
    status: str
    passed: int
    failed: int
    failing_checks: list[str]
    failing_rules: list[str]
    attempt: int
    graded_at: datetime
    received_at: datetime
    source: str


class ExportOut(Schema):
    workshop: str
    exported_at: datetime
    self_reported: bool
    gradings: list[ExportRow]


class SettingsIn(Schema):
    stuck_minutes: Annotated[int, Field(ge=1, le=600)]


class LearnerOut(Schema):
    learner_id: int
    name: str
    helped_at: datetime | None
