"""Reports: the hour-registration exports that run as background jobs."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

EXPORT_STATUSES = ("queued", "running", "done", "failed")
EXPORT_FORMATS = ("xlsx", "csv")


def _now() -> datetime:
    return clock.now()


class ReportExport(db.Model):
    """An export of a project's learners of a unit or a class, written by a background job for one user."""

    __tablename__ = "report_exports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("format IN ('xlsx', 'csv')", name="format"),
        CheckConstraint("(org_unit_id IS NULL) <> (class_id IS NULL)", name="unit_or_class"),
        CheckConstraint("rows_total >= 0 AND rows_done >= 0", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who asked for it: only they may download it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    #: the subtree exported, or the class (exactly one of the two)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    #: one of EXPORT_FORMATS
    format: Mapped[str] = mapped_column(String(8))
    #: the language of the page it was asked from (column names, yes/no): the file is the one a streamed export gives
    locale: Mapped[str] = mapped_column(String(10))
    #: one of EXPORT_STATUSES
    status: Mapped[str] = mapped_column(String(12), default="queued")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    #: the written file's name under REPORTS_EXPORT_DIR (set when done)
    file_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
