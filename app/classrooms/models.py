"""Classes (班级) and workshops (工作坊); members are role assignments scoped to the class."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

MAX_CLASS_SIZE = 50


def _now() -> datetime:
    return clock.now()


class Class_(db.Model):
    """A class of at most 50 learners of one project, with a tutor and a class manager."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: the org unit the class belongs to (its admins manage it)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    #: where group viewing happens, an org unit of kind learning_center
    learning_center_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str | None] = mapped_column(String(20))
    #: a workshop (工作坊) led by a workshop leader (坊主, the class manager role)
    is_workshop: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int] = mapped_column(Integer, default=MAX_CLASS_SIZE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    project = relationship("Project")
    org_unit = relationship("OrgUnit", foreign_keys=[org_unit_id])
    learning_center = relationship("OrgUnit", foreign_keys=[learning_center_id])


class ClassReminder(db.Model):
    """A reminder (督促) a learner got: from a class's staff (class_id) or an admin of an org subtree (org_unit_id).

    Whatever its source, a learner gets at most REMINDERS_PER_DAY of them a day (classrooms.rules).
    """

    __tablename__ = "class_reminders"
    __table_args__ = (Index("ix_class_reminders_user_day", "user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the class whose roster it was sent from (None: sent from an org subtree's lagging list)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    #: the subtree whose lagging list it was sent from (None: sent from a class's roster)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    #: the project whose pace the learner was reminded of
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the day it was sent, in the project's time zone (the per-day limit counts these)
    day: Mapped[date] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
