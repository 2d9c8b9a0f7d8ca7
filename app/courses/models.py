"""Training projects, courses > modules > lessons, project–course links and enrolments."""
from datetime import date, datetime

from flask import current_app
from sqlalchemy import (
    Boolean, CheckConstraint, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

LESSON_KINDS = ("video", "audio", "document")


def _now() -> datetime:
    return clock.now()


class Project(db.Model):
    """A training project (培训项目): dates, required hours, tracking and assessment settings."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: the org unit whose admins run the project; its subtree is the project's scope
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    #: IANA time zone of the project's calendar days (R6, R7)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    required_hours: Mapped[float] = mapped_column(Float, default=60.0)
    #: minutes of credited time per learning hour (R12)
    minutes_per_hour: Mapped[int] = mapped_column(Integer, default=45)
    #: electives chosen by a teacher need the school's confirmation
    is_elective_confirmation_required: Mapped[bool] = mapped_column(Boolean, default=False)

    # Tracking settings (TRACKING.md); NULL interval means the server's HEARTBEAT_INTERVAL_S.
    heartbeat_interval_s: Mapped[int | None] = mapped_column(Integer)
    #: gap allowance G = gap_factor × interval (R2)
    gap_factor: Mapped[float] = mapped_column(Float, default=8.0)
    min_rate: Mapped[float] = mapped_column(Float, default=0.5)
    max_rate: Mapped[float] = mapped_column(Float, default=2.0)
    #: covered share of a lesson that makes it complete (R3)
    completion_ratio: Mapped[float] = mapped_column(Float, default=0.9)
    #: credited seconds of a lesson never exceed duration × cap_factor (R4)
    cap_factor: Mapped[float] = mapped_column(Float, default=1.0)
    #: most seconds credited per user per local day (R6)
    daily_cap_s: Mapped[int] = mapped_column(Integer, default=8 * 3600)
    is_presence_check_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    presence_min_s: Mapped[int] = mapped_column(Integer, default=20 * 60)
    presence_max_s: Mapped[int] = mapped_column(Integer, default=30 * 60)
    presence_timeout_s: Mapped[int] = mapped_column(Integer, default=120)
    #: the player refuses seeking beyond the furthest position reached
    is_seek_ahead_forbidden: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a learner lags (督促) once credited time falls this many days' worth of the pace behind it
    lag_grace_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    #: archived: kept with every credited second, but no longer offered for study
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Assessment weights (percent, summing to 100) and level thresholds.
    weight_video: Mapped[int] = mapped_column(Integer, default=60)
    weight_forum: Mapped[int] = mapped_column(Integer, default=10)
    weight_homework: Mapped[int] = mapped_column(Integer, default=20)
    weight_exam: Mapped[int] = mapped_column(Integer, default=10)
    pass_score: Mapped[int] = mapped_column(Integer, default=60)
    good_score: Mapped[int] = mapped_column(Integer, default=80)
    excellent_score: Mapped[int] = mapped_column(Integer, default=90)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    org_unit = relationship("OrgUnit")
    course_links: Mapped[list["ProjectCourse"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectCourse.position"
    )

    def effective_heartbeat_interval_s(self) -> int:
        """Return the project's heartbeat interval, or the server default when it sets none."""
        if self.heartbeat_interval_s:
            return int(self.heartbeat_interval_s)
        return int(current_app.config["HEARTBEAT_INTERVAL_S"])

    def is_open_on(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class Course(db.Model):
    """A course: an ordered set of modules, reusable across projects."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: org unit whose admins may edit the course
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    subject: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str | None] = mapped_column(String(20))
    #: archived: kept with every credited second, but no longer offered for study in any project
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    org_unit = relationship("OrgUnit")
    modules: Mapped[list["Module"]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Module.position"
    )


class Module(db.Model):
    """A module (chapter) of a course."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list["Lesson"]] = relationship(
        back_populates="module", cascade="all, delete-orphan", order_by="Lesson.position"
    )


class Lesson(db.Model):
    """A lesson: a video, an audio or a document, with a credited duration."""

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: one of LESSON_KINDS
    kind: Mapped[str] = mapped_column(String(20), default="video")
    #: credited duration in seconds; for media it comes from the probe, never from a client
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: storage key of the lesson's source file under MEDIA_ROOT (ASCII, generated)
    media_key: Mapped[str | None] = mapped_column(String(255))
    #: pages of a document lesson's PDF, counted on the server (the reader's `page` is checked against it)
    page_count: Mapped[int | None] = mapped_column(Integer)
    #: archived: kept with every credited second, but no longer offered for study
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    module: Mapped[Module] = relationship(back_populates="lessons")

    @property
    def course_id(self) -> int:
        return self.module.course_id


class ProjectCourse(db.Model):
    """A course offered in a project, required or elective."""

    __tablename__ = "project_courses"
    __table_args__ = (UniqueConstraint("project_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    project: Mapped[Project] = relationship(back_populates="course_links")
    course: Mapped[Course] = relationship()


class Enrollment(db.Model):
    """A learner's enrolment in a project."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: how the learner came in: admin, import, card
    source: Mapped[str] = mapped_column(String(20), default="admin")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    project: Mapped[Project] = relationship()
    user = relationship("User")


#: how long a refusal's reason may be
REFUSAL_REASON_MAX = 200
ELECTIVE_OUTCOMES = ("confirmed", "refused")


class ElectiveChoice(db.Model):
    """An elective course a learner chose in a project (confirmed or refused by the school when the project asks).

    The columns hold the current decision; every decision is also kept in ElectiveDecision.
    """

    __tablename__ = "elective_choices"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", "course_id"),
        CheckConstraint("NOT (is_confirmed AND is_refused)", name="decided_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    is_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: when the learner withdrew; the row stays so the progress page can say why the course closed
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the school refused the choice: the course does not open (the learner may choose it again)
    is_refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: when the current decision (confirmed or refused) was taken; NULL while it waits
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the short reason an administrator gave with a refusal
    refusal_reason: Mapped[str | None] = mapped_column(String(REFUSAL_REASON_MAX))

    project: Mapped[Project] = relationship()
    course: Mapped[Course] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def status(self) -> str:
        """pending, confirmed or refused."""
        return "confirmed" if self.is_confirmed else "refused" if self.is_refused else "pending"


class ElectiveDecision(db.Model):
    """A school's decision on an elective choice, kept for good: who decided what, when, and whether the learner saw it.

    The learner's notices (and later the notification centre) read these rows.
    """

    __tablename__ = "elective_decisions"
    __table_args__ = (CheckConstraint("outcome IN ('confirmed', 'refused')", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    choice_id: Mapped[int] = mapped_column(ForeignKey("elective_choices.id", ondelete="CASCADE"), index=True)
    #: the learner whose choice it was (denormalised for their notices)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: one of ELECTIVE_OUTCOMES
    outcome: Mapped[str] = mapped_column(String(10))
    refusal_reason: Mapped[str | None] = mapped_column(String(REFUSAL_REASON_MAX))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: when the learner was shown the decision; NULL means unread
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    choice: Mapped[ElectiveChoice] = relationship()
