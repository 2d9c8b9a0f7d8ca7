"""The answers of the tracking API as pydantic models: the OpenAPI document describes them (app.common.openapi)."""
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ProjectQuery(BaseModel):
    project_id: Id = Field(description="one of my training projects")


class LessonState(BaseModel):
    credited_s: float
    covered_s: float
    complete: bool
    segments: list[list[float]] = Field(description="covered ranges of the lesson, [[start_s, end_s], ...]")
    max_position_s: float = Field(description="furthest position covered (the seek limit when seeking ahead is "
                                              "forbidden)")


class PresenceCheckOut(BaseModel):
    id: str
    prompt: str
    options: list[int | str]
    due_at: datetime
    answer_by: datetime


class SessionOpened(BaseModel):
    session_id: int
    heartbeat_interval_s: float
    duration_s: float
    resume_position_s: float
    max_position_s: float
    is_seek_ahead_forbidden: bool
    #: "video", "audio" or "document" (a document session takes the reader's heartbeats, with `page`)
    kind: str
    #: pages of a document (None for video and audio), and the page the reader showed last
    page_count: int | None
    page: int | None
    lesson: LessonState
    presence_check: PresenceCheckOut | None


class HeartbeatOut(BaseModel):
    accepted: bool
    credited_s_session: float
    lesson: LessonState
    presence_check: PresenceCheckOut | None


class PresenceOut(BaseModel):
    ok: bool
    late: bool
    credited_s_session: float
    lesson: LessonState


class SessionEnded(BaseModel):
    credited_s_session: float


class LessonProgressOut(BaseModel):
    lesson_id: int
    course_id: int
    title: str
    kind: str
    duration_s: float
    credited_s: float
    covered_s: float
    complete: bool
    resume_position_s: float
    max_position_s: float
    segments: list[list[float]]
    #: documents: pages of the PDF and how many distinct ones the reader showed (never credited by themselves)
    page_count: int | None
    pages_viewed: int


class GroupPresenceOut(BaseModel):
    """A presence of mine at a group viewing (集中学习) at a learning center."""

    group_session_id: int
    lesson_id: int
    lesson_title: str
    class_id: int
    class_name: str
    learning_center: str | None
    session_id: int
    method: str = Field(description="self (checked in with the code) or manager (ticked on the roster)")
    checked_in_at: datetime
    checked_out_at: datetime | None
    credited_s: float


class AuditGroupOut(BaseModel):
    group_session_id: int
    class_id: int
    class_name: str
    learning_center: str | None


class ProgressOut(BaseModel):
    project_id: int
    title: str
    credited_s: float
    learning_hours: float
    required_hours: float
    minutes_per_hour: float
    missing_s: float
    lesson_count: int
    complete_count: int
    lessons: list[LessonProgressOut]
    group_sessions: list[GroupPresenceOut] = Field(description="my presences at group viewings, newest first")


class ReasonOut(BaseModel):
    reason: str
    label: str
    count: int
    seconds: float


class CreditWindowOut(BaseModel):
    started_at: datetime
    ended_at: datetime
    day: date
    from_position_s: float
    to_position_s: float
    credited_s: float


class PageViewOut(BaseModel):
    page: int
    first_seen_at: datetime
    last_seen_at: datetime
    reports: int


class AuditSessionOut(BaseModel):
    id: int
    status: str
    #: superseded by a session opened on the same device (a reload): "reopened"
    is_reopened: bool
    opened_at: datetime
    closed_at: datetime | None
    user_agent: str
    credited_s: float
    reasons: list[ReasonOut]
    windows: list[CreditWindowOut]
    pages: list[PageViewOut]
    kind: str = Field(description="own, projector (a group viewing's projector) or attendee (my share of one)")
    group: AuditGroupOut | None = Field(description="the group viewing this session belongs to")


class CorrectionOut(BaseModel):
    id: int
    delta_s: float
    reason: str
    created_by: str | None
    created_at: datetime


class AuditCheckOut(BaseModel):
    id: str
    session_id: int
    due_at: datetime
    answered_at: datetime | None
    is_late: bool
    wrong_answers: int


class AuditOut(BaseModel):
    project_id: int
    lesson_id: int
    title: str
    duration_s: float
    credited_s: float
    covered_s: float
    complete: bool
    segments: list[list[float]]
    page_count: int | None
    #: the distinct pages the reader showed, in order
    pages_viewed: list[int]
    recomputed_s: float
    reasons: list[ReasonOut]
    sessions: list[AuditSessionOut]
    corrections: list[CorrectionOut]
    presence_checks: list[AuditCheckOut]


class CorrectionMade(BaseModel):
    id: int
    delta_s: float
