"""Notifications: one message for one person, read in the app and optionally sent by e-mail."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

#: Every kind of notification (CHECKed by the database; labels in app/notifications/labels.py).
KINDS = ("reminder", "forum_reply", "qa_answer", "post_excellent", "homework_graded", "homework_returned",
         "homework_recommended", "forum_digest", "system")
TEXT_MAX = 500
URL_MAX = 500


def _now() -> datetime:
    return clock.now()


def _kinds_check() -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")"


class Notification(db.Model):
    """A message to one user: a short text and the app page it is about."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_kinds_check(), name="kind"),
        CheckConstraint("url LIKE '/%'", name="url_relative"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: one of KINDS
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    #: an app-relative path ("/classes/3"), never another site
    url: Mapped[str] = mapped_column(String(URL_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the e-mail copy went out (None: not sent, or no e-mail wanted)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
