"""Assignments, the versions learners submit, their files and the history of each version's states."""
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.common.tus import UploadProgress
from app.common.types import UTCDateTime
from app.extensions import db

#: the states of a submission version (API.md "Homework")
STATES = ("draft", "submitted", "graded", "returned")
#: what the history records
ACTIONS = ("saved", "submitted", "graded", "returned", "recommended", "withdrawn")


def _now() -> datetime:
    return clock.now()


class Assignment(db.Model):
    """An assignment of a course (for every class of the project) or of one class."""

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("(course_id IS NULL) <> (class_id IS NULL)", name="course_or_class"),
        CheckConstraint("max_bytes > 0 AND max_files >= 0", name="limits"),
        CheckConstraint("accepts_text OR accepts_files", name="answer_kind"),
        CheckConstraint("late_until IS NULL OR late_until >= due_at", name="late_after_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    #: a course of the project: the assignment is for every class of the project (exactly one of course and class)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    #: one class only
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    #: Markdown, rendered with raw HTML off and cleaned
    instructions: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: submissions until then are accepted and marked late (None: no late window)
    late_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    #: comma-separated file kinds of app.homework.files.KINDS ("documents,images")
    allowed_kinds: Mapped[str] = mapped_column(String(80), default="documents")
    #: the largest file accepted
    max_bytes: Mapped[int] = mapped_column(Integer, default=20 * 1024 * 1024)
    #: the most files of one version
    max_files: Mapped[int] = mapped_column(Integer, default=5)
    accepts_text: Mapped[bool] = mapped_column(Boolean, default=True)
    accepts_files: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the tutor may return a submission for revision (需修改)
    is_returnable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    project = relationship("Project")
    course = relationship("Course")
    class_ = relationship("Class_")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in (self.allowed_kinds or "").split(",") if k)


class Submission(db.Model):
    """One version of a learner's answer to an assignment; every version is kept."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id", "version", name="uq_submissions_assignment_user_version"),
        CheckConstraint("state IN ('draft', 'submitted', 'graded', 'returned')", name="state"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("state = 'draft' OR submitted_at IS NOT NULL", name="submitted_time"),
        CheckConstraint("NOT is_excellent OR state = 'graded'", name="excellent_graded"),
        Index("ix_submissions_class_state", "class_id", "state", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the learner's class when the version was made: its tutor grades it
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    #: 1, 2, ... per learner and assignment
    version: Mapped[int] = mapped_column(Integer)
    #: one of STATES
    state: Mapped[str] = mapped_column(String(12), default="draft")
    text: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: submitted after the due date, inside the late window
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 0-100, set when graded
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    #: why the tutor returned it (需修改)
    return_reason: Mapped[str | None] = mapped_column(Text)
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: recommended as excellent work (优秀作业), shown to the class
    is_excellent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    assignment: Mapped[Assignment] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    class_ = relationship("Class_")
    files: Mapped[list["SubmissionFile"]] = relationship(back_populates="submission", order_by="SubmissionFile.id",
                                                         cascade="all, delete-orphan")


class SubmissionFile(db.Model):
    """A file of a submission version, stored under a generated key; a later version may point at the same key."""

    __tablename__ = "submission_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    #: the learner's own file name (shown and offered on download only, never a path)
    name: Mapped[str] = mapped_column(String(200))
    #: the storage key (homework/ab/<uid>/file.<ext>)
    storage_key: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    #: the type found in the content ("pdf", "docx", ...) and its media type
    file_type: Mapped[str] = mapped_column(String(16))
    mime_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    submission: Mapped[Submission] = relationship(back_populates="files")


class SubmissionEvent(db.Model):
    """What happened to a submission version, who did it and when (the history)."""

    __tablename__ = "submission_events"
    __table_args__ = (
        CheckConstraint("action IN ('saved', 'submitted', 'graded', 'returned', 'recommended', 'withdrawn')",
                        name="action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: one of ACTIONS
    action: Mapped[str] = mapped_column(String(12))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    score: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    actor = relationship("User")


class ClassBrief(db.Model):
    """A class brief (学习简报) written by the class's tutor: the class's figures when written plus their own text."""

    __tablename__ = "class_briefs"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(120))
    #: Markdown, rendered with raw HTML off and cleaned
    body: Mapped[str] = mapped_column(Text, default="")
    #: the class's figures as JSON (app.homework.briefs.get_class_stats), taken when the brief was last saved
    stats_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: published to the class (None: a draft only its tutor sees)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    class_ = relationship("Class_")
    author = relationship("User")


class HomeworkUpload(UploadProgress, db.Model):
    """A resumable (tus) upload of one file for a learner's answer; once complete it is a file of their draft."""

    __tablename__ = "homework_uploads"
    __table_args__ = (
        CheckConstraint("size_bytes > 0 AND offset_bytes >= 0 AND offset_bytes <= size_bytes", name="sizes"),
    )

    #: random hex, the id in the upload URL and the partial file's name
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the learner: only they may see, continue or abandon it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    #: the learner's own file name (cleaned); shown, never a path
    filename: Mapped[str] = mapped_column(String(200))
    #: the version and file it became
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    submission_file_id: Mapped[int | None] = mapped_column(ForeignKey("submission_files.id", ondelete="SET NULL"))

