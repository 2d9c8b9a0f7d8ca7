"""Watch-time tracking: playback sessions, lesson progress, daily totals, the audit trail, presence checks.

Times and positions the rules compute with are whole milliseconds (`*_ms`,
times as epoch milliseconds UTC) so that sums are exact; human-facing
timestamps are UTC datetimes.
"""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

SESSION_STATUSES = ("open", "superseded", "ended")


def _now() -> datetime:
    return clock.now()


class TrackingUserState(db.Model):
    """Per-user tracking state; its row is the user's write lock (SELECT ... FOR UPDATE)."""

    __tablename__ = "tracking_user_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: end of the latest wall time credited (or reserved) for the user: nothing before it is credited
    #: again (R5); the open session carries the running value (PlaybackSession.credited_until_ms)
    credited_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: playing time since the last passed presence check (R8); the open session carries the running value
    playing_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: playing time after which the next presence check is due; 0 until drawn
    next_check_after_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the presence check waiting for its answer, if any
    pending_check_id: Mapped[str | None] = mapped_column(String(32))
    pending_due_ms: Mapped[int | None] = mapped_column(BigInteger)


class PlaybackSession(db.Model):
    """One playback of a lesson in a project on one device/tab, with its last accepted heartbeat (R2, R5)."""

    __tablename__ = "playback_sessions"
    __table_args__ = (Index("ix_playback_sessions_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    #: one of SESSION_STATUSES; only an open session earns credit
    status: Mapped[str] = mapped_column(String(12), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: when it was superseded or ended
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the browser that opened it (shown in the audit: two devices, two tabs)
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    # The last accepted heartbeat (R2, R9); last_at_ms is NULL before the first one.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    is_playing: Mapped[bool] = mapped_column(Boolean, default=False)
    is_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    rate: Mapped[float] = mapped_column(Float, default=1.0)
    #: earliest server time the next interval may be credited from (rules.SessionState)
    credit_from_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: bumped by every write: a heartbeat computed from an older version is recomputed (optimistic concurrency)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # While the session is open it carries the user's running figures; they are folded into
    # tracking_user_states when it is superseded or ended (only one session of a user is open).
    #: the user's credit floor (TrackingUserState.credited_until_ms)
    credited_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the user's playing time towards the next presence check (TrackingUserState.playing_ms)
    playing_ms: Mapped[int] = mapped_column(BigInteger, default=0)

    #: credited to this session so far
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: credit after a presence check's due time, waiting for its answer: [[start, end, from, to, "day"], ...]
    held: Mapped[list | None] = mapped_column(JSON)
    #: what earned nothing, by reason (R13): {"hidden": [count, ms], ...}
    reasons: Mapped[dict | None] = mapped_column(JSON)
    #: the audit window the next contiguous credit extends
    last_window_id: Mapped[int | None] = mapped_column(Integer)


class LessonProgress(db.Model):
    """A learner's progress on a lesson in a project: credited seconds, coverage, completion, resume point."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "project_id", "lesson_id", name="uq_lesson_progress_user_project_lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    #: credited so far: the sum of the lesson's audit windows plus administrators' corrections (R4, R13)
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: covered content as a union of disjoint segments [[start_ms, end_ms], ...] (R3)
    covered: Mapped[list] = mapped_column(JSON, default=list)
    covered_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: covered ≥ completion ratio × duration once; never reverts (R3)
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: where the player resumes
    resume_position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the furthest covered position (the player may forbid seeking beyond it)
    max_position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class DailyCredit(db.Model):
    """Credit of a user on one local calendar day, across projects (R6)."""

    __tablename__ = "daily_credits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: the day in the project's time zone
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditWindow(db.Model):
    """A stretch of server time credited to a session, within one local day (R13 audit)."""

    __tablename__ = "credit_windows"
    __table_args__ = (Index("ix_credit_windows_user_project_lesson", "user_id", "project_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_position_ms: Mapped[int] = mapped_column(BigInteger)
    to_position_ms: Mapped[int] = mapped_column(BigInteger)
    #: equals ended_at − started_at in milliseconds
    credited_ms: Mapped[int] = mapped_column(BigInteger)


class PresenceCheck(db.Model):
    """A presence check shown to a learner: pick `answer` among `options` (R8)."""

    __tablename__ = "presence_checks"

    #: random hex id handed to the player
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the session whose heartbeat answer delivered it
    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"))
    prompt: Mapped[str] = mapped_column(String(200))
    options: Mapped[list] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: answered after due_at + timeout: the time between was not credited
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)
    wrong_answers: Mapped[int] = mapped_column(Integer, default=0)


class CreditCorrection(db.Model):
    """An administrator's correction of a learner's credit on a lesson, with who, when and why (R13)."""

    __tablename__ = "credit_corrections"
    __table_args__ = (Index("ix_credit_corrections_user_project_lesson", "user_id", "project_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    #: added to the lesson's credited time (negative to remove)
    delta_ms: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
