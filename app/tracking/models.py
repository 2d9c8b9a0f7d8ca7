"""Watch-time tracking: playback sessions, lesson progress, daily totals, the audit trail, presence checks.

Times and positions the rules compute with are whole milliseconds (`*_ms`,
times as epoch milliseconds UTC) so that sums are exact; human-facing
timestamps are UTC datetimes.

The invariants the crediting rules rely on are held by the schema as well:
CHECK constraints on statuses and non-negative figures, a credit window's
seconds equal to its end minus its start, one open playback session per user
(a partial unique index: R5), and credit, windows, presence checks and
corrections never deleted with a lesson or project (their foreign keys
RESTRICT such a delete).
"""
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db
from app.tracking.rules import from_ms

SESSION_STATUSES = ("open", "superseded", "ended")
#: a learner's own playback, a group viewing's projector, or an attendee's share of a group viewing
SESSION_KINDS = ("own", "projector", "attendee")
GROUP_STATUSES = ("open", "ended")
CHECKIN_METHODS = ("self", "manager")
#: how an attendance ended: by the learner, by the manager, by the end of the group session,
#: by a playback of the learner's own, or by a check-in to another group session
CHECKOUT_REASONS = ("self", "manager", "end", "own_playback", "other_group")
OPEN = text("status = 'open'")


def _now() -> datetime:
    return clock.now()


def _content_fk(table: str):
    """A tracking row's reference to a lesson or project: deleting the content is refused while it exists."""
    return ForeignKey(f"{table}.id", ondelete="RESTRICT")


class TrackingUserState(db.Model):
    """Per-user tracking state; its row is the user's write lock (service.user_write_lock)."""

    __tablename__ = "tracking_user_states"
    __table_args__ = (
        CheckConstraint("credited_until_ms >= 0 AND playing_ms >= 0 AND next_check_after_ms >= 0"
                        " AND COALESCE(pending_due_ms, 0) >= 0", name="non_negative"),
        CheckConstraint("(pending_check_id IS NULL) = (pending_due_ms IS NULL)", name="pending_check_pair"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: end of the latest wall time credited (or reserved) for the user: nothing before it is credited again (R5)
    credited_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: playing time since the last passed presence check (R8)
    playing_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: playing time after which the next presence check is due; 0 until drawn
    next_check_after_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the presence check waiting for its answer, if any, and when it was due
    pending_check_id: Mapped[str | None] = mapped_column(String(32))
    pending_due_ms: Mapped[int | None] = mapped_column(BigInteger)


class PlaybackSession(db.Model):
    """One playback of a lesson in a project on one device/tab, with its last accepted heartbeat (R2, R5)."""

    __tablename__ = "playback_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'superseded', 'ended')", name="status"),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_when_not_open"),
        CheckConstraint("last_seq >= 0 AND last_position_ms >= 0 AND credited_ms >= 0", name="non_negative"),
        CheckConstraint("rate > 0", name="rate_positive"),
        CheckConstraint("coverage_lead_ms BETWEEN 0 AND 2000", name="coverage_lead"),
        CheckConstraint("kind IN ('own', 'projector', 'attendee')", name="kind"),
        CheckConstraint("(kind = 'own') = (group_session_id IS NULL)", name="group_when_not_own"),
        # R5 held by the database: at most one open session per user.
        Index("uq_playback_sessions_open_user", "user_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_playback_sessions_user_project_lesson", "user_id", "project_id", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(_content_fk("projects"))
    lesson_id: Mapped[int] = mapped_column(_content_fk("lessons"))
    #: one of SESSION_STATUSES; only an open session earns credit
    status: Mapped[str] = mapped_column(String(12), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: when it was superseded or ended (NULL exactly while open)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the browser that opened it (shown in the audit: two devices, two tabs)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    #: the random id the player or reader keeps in the browser's localStorage ("" when not sent)
    device_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: superseded by a session opened on the same device (a reload, a second open): "reopened" in the audit
    is_reopened: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: one of SESSION_KINDS; only an "own" session takes heartbeats from the learner's player
    kind: Mapped[str] = mapped_column(String(12), default="own", server_default="own")
    #: the group viewing this projector or attendee session belongs to
    group_session_id: Mapped[int | None] = mapped_column(ForeignKey("group_sessions.id", ondelete="RESTRICT"),
                                                         index=True)

    # The last accepted heartbeat (R2, R9); last_at_ms is NULL before the first one.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    is_playing: Mapped[bool] = mapped_column(Boolean, default=False)
    is_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    rate: Mapped[float] = mapped_column(Float, default=1.0)
    #: earliest server time the next interval may be credited from (rules.SessionState)
    credit_from_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: how far coverage has run ahead of the wall time used, within R3's fixed 2 s (rules.SessionState.lead_ms)
    coverage_lead_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: document sessions (R14): the page shown in the last accepted heartbeat, and when it last changed
    page: Mapped[int | None] = mapped_column(Integer)
    page_turned_ms: Mapped[int | None] = mapped_column(BigInteger)

    #: credited to this session so far
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: credit after a presence check's due time, waiting for its answer: [[start, end, from, to, "day"], ...]
    held: Mapped[list | None] = mapped_column(JSON)
    #: what earned nothing, by reason (R13): {"hidden": [count, ms], ...}
    reasons: Mapped[dict | None] = mapped_column(JSON)


class LessonProgress(db.Model):
    """A learner's progress on a lesson in a project: credited seconds, coverage, completion, resume point."""

    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "project_id", "lesson_id", name="uq_lesson_progress_user_project_lesson"),
        CheckConstraint("credited_ms >= 0 AND covered_ms >= 0 AND resume_position_ms >= 0 AND max_position_ms >= 0",
                        name="non_negative"),
        CheckConstraint("NOT is_complete OR completed_at IS NOT NULL", name="completed_at_when_complete"),
        # the reports' per-learner totals of a project, read from the index alone (migration 0011_report_indexes)
        Index("ix_lesson_progress_user_project_credit", "user_id", "project_id", "credited_ms", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(_content_fk("projects"), index=True)
    lesson_id: Mapped[int] = mapped_column(_content_fk("lessons"), index=True)
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
    __table_args__ = (CheckConstraint("credited_ms >= 0", name="non_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: the day in the project's time zone
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class ProjectDayCredit(db.Model):
    """Credit of a user in one project on one local calendar day: the day series of the reports.

    Written with daily_credits by the same heartbeat write; daily_credits (across projects) stays what
    R6's daily cap reads.
    """

    __tablename__ = "project_day_credits"
    __table_args__ = (
        CheckConstraint("credited_ms >= 0", name="non_negative"),
        Index("ix_project_day_credits_project_day", "project_id", "day"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(_content_fk("projects"), primary_key=True)
    #: the day in the project's time zone
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditWindow(db.Model):
    """A stretch of server time credited to a session, within one local day (R13 audit)."""

    __tablename__ = "credit_windows"
    __table_args__ = (
        CheckConstraint("credited_ms = ended_ms - started_ms AND ended_ms > started_ms", name="credited_is_span"),
        CheckConstraint("started_ms >= 0 AND from_position_ms >= 0 AND to_position_ms >= 0", name="non_negative"),
        Index("ix_credit_windows_user_project_lesson", "user_id", "project_id", "lesson_id"),
        # the session's last window (the one the next contiguous credit extends)
        Index("ix_credit_windows_session_id_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(_content_fk("projects"))
    lesson_id: Mapped[int] = mapped_column(_content_fk("lessons"))
    day: Mapped[date] = mapped_column(Date)
    #: server time the window starts and ends (epoch ms UTC)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    ended_ms: Mapped[int] = mapped_column(BigInteger)
    from_position_ms: Mapped[int] = mapped_column(BigInteger)
    to_position_ms: Mapped[int] = mapped_column(BigInteger)
    #: equals ended_ms − started_ms (a CHECK constraint)
    credited_ms: Mapped[int] = mapped_column(BigInteger)

    @property
    def started_at(self) -> datetime:
        return from_ms(self.started_ms)

    @property
    def ended_at(self) -> datetime:
        return from_ms(self.ended_ms)


class PresenceCheck(db.Model):
    """A presence check shown to a learner: pick `answer` among `options` (R8)."""

    __tablename__ = "presence_checks"
    __table_args__ = (CheckConstraint("wrong_answers >= 0", name="non_negative"),)

    #: random hex id handed to the player
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the session whose heartbeat answer delivered it
    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"), index=True)
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
    __table_args__ = (
        CheckConstraint("delta_ms <> 0", name="delta_not_zero"),
        CheckConstraint("reason <> ''", name="reason_given"),
        Index("ix_credit_corrections_user_project_lesson", "user_id", "project_id", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(_content_fk("projects"))
    lesson_id: Mapped[int] = mapped_column(_content_fk("lessons"))
    #: added to the lesson's credited time (negative to remove)
    delta_ms: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class DocumentPageView(db.Model):
    """A page a document session's reader showed (R14): recorded for the audit, never credited by itself."""

    __tablename__ = "document_page_views"
    __table_args__ = (
        CheckConstraint("page >= 1 AND reports >= 1 AND last_seen_ms >= first_seen_ms", name="valid"),
    )

    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"), primary_key=True)
    #: 1-based page number, within the document's page count
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: server times of the first and the last heartbeat that reported it (epoch ms UTC)
    first_seen_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger)
    #: heartbeats that reported it
    reports: Mapped[int] = mapped_column(Integer, default=1)


OPEN_ATTENDANCE = text("checked_out_ms IS NULL")


class GroupSession(db.Model):
    """A group viewing (集中学习): a class manager plays a lesson on a projector for the learners in the room.

    The projector's playback session (kind "projector") sends the heartbeats; each attendee
    is credited through a session of their own (kind "attendee") for the part inside their presence.
    """

    __tablename__ = "group_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'ended')", name="status"),
        CheckConstraint("(status = 'open') = (ended_at IS NULL)", name="ended_when_not_open"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"), index=True)
    project_id: Mapped[int] = mapped_column(_content_fk("projects"))
    lesson_id: Mapped[int] = mapped_column(_content_fk("lessons"))
    #: the class manager who runs it (the projector session is theirs)
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: where it takes place: the class's learning center when it has one
    learning_center_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    #: one of GROUP_STATUSES
    status: Mapped[str] = mapped_column(String(12), default="open")
    #: random key of the check-in codes (rules.checkin_code): codes cannot be guessed from another session's
    code_secret: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: server time the check-in codes count their minutes from (epoch ms UTC)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    cls = db.relationship("Class_")
    lesson = db.relationship("Lesson")
    project = db.relationship("Project")
    manager = db.relationship("User", foreign_keys=[manager_id])
    learning_center = db.relationship("OrgUnit")


class GroupAttendance(db.Model):
    """One presence of a learner at a group viewing: who, from, to, how, and what it credited."""

    __tablename__ = "group_attendances"
    __table_args__ = (
        CheckConstraint("method IN ('self', 'manager')", name="method"),
        CheckConstraint("checked_out_ms IS NULL OR checked_out_ms >= checked_in_ms", name="out_after_in"),
        CheckConstraint("(checked_out_ms IS NULL) = (checkout_reason IS NULL)", name="reason_when_out"),
        CheckConstraint("credited_ms >= 0", name="non_negative"),
        # a learner is checked in at most once at a time in a group session
        Index("uq_group_attendances_open", "group_session_id", "user_id", unique=True,
              sqlite_where=OPEN_ATTENDANCE, postgresql_where=OPEN_ATTENDANCE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the attendee's own session of kind "attendee": their credit windows are recorded under it
    session_id: Mapped[int] = mapped_column(ForeignKey("playback_sessions.id", ondelete="RESTRICT"), unique=True)
    #: one of CHECKIN_METHODS: the learner's own phone, or the manager's roster tick
    method: Mapped[str] = mapped_column(String(12))
    #: who ticked the roster (the manager) or checked in (the learner)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: presence from and to (server times, epoch ms UTC); out is NULL while present
    checked_in_ms: Mapped[int] = mapped_column(BigInteger)
    checked_out_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: one of CHECKOUT_REASONS once checked out
    checkout_reason: Mapped[str | None] = mapped_column(String(16))
    #: credited to the attendee for this presence (sum of their windows in its session)
    credited_ms: Mapped[int] = mapped_column(BigInteger, default=0)

    user = db.relationship("User", foreign_keys=[user_id])

    @property
    def checked_in_at(self) -> datetime:
        return from_ms(self.checked_in_ms)

    @property
    def checked_out_at(self) -> datetime | None:
        return None if self.checked_out_ms is None else from_ms(self.checked_out_ms)
