"""The answers of the classes API as pydantic models: the OpenAPI document describes them (app.common.openapi)."""
from datetime import datetime

from pydantic import BaseModel, Field, RootModel


class MyClassOut(BaseModel):
    id: int
    name: str
    project_id: int
    role: str = Field(description="learner, tutor or class_manager")


class RosterRowOut(BaseModel):
    user_id: int
    display_name: str
    teacher_no: str | None
    school: str | None
    credited_s: float
    learning_hours: float
    complete_lessons: int
    forum_points: int
    homework_submitted: int
    homework_graded: int
    last_active_at: datetime | None
    is_lagging: bool = Field(description="credited time below the project's pace minus its grace (督促)")


class SkippedOut(BaseModel):
    user_id: int
    reason: str = Field(description="not_in_class or limit (already reminded today)")


class RemindersOut(BaseModel):
    sent: list[int]
    skipped: list[SkippedOut]


class CheckinOut(BaseModel):
    code: str = Field(description="6 digits, new every 60 s, accepted for 120 s after it appeared")
    url: str = Field(description="the check-in page with the code (what the QR code encodes)")
    expires_at: datetime


class GroupOpened(BaseModel):
    group_session_id: int
    session_id: int = Field(description="the projector's playback session: heartbeats go there")
    heartbeat_interval_s: float
    duration_s: float
    resume_position_s: float
    checkin: CheckinOut


class AttendeeOut(BaseModel):
    user_id: int
    display_name: str
    method: str = Field(description="self (own phone) or manager (roster tick)")
    checked_in_at: datetime
    checked_out_at: datetime | None
    credited_s: float


class GroupOut(BaseModel):
    id: int
    class_id: int
    lesson_id: int
    status: str = Field(description="open or ended")
    checkin: CheckinOut | None = Field(description="the code shown now (null once ended)")
    attendees: list[AttendeeOut]


class CheckedIn(BaseModel):
    checked_in_at: datetime


class CheckedOut(BaseModel):
    checked_out_at: datetime
    credited_s: float


class GroupEnded(BaseModel):
    attendees: list[AttendeeOut]


class MyClassList(RootModel[list[MyClassOut]]):
    pass


class Roster(RootModel[list[RosterRowOut]]):
    pass
