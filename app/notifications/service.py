"""Notifications: the PUBLIC interface other features call, and the reads and writes of the pages and API.

Other features call:

* ``notify(user_ids, kind, text, url, *, email=True)`` — adds one Notification per distinct user to the
  current ``db.session`` and flushes; the CALLER commits, so the notification belongs to the same
  transaction as the action it tells about (rolled back with it). When e-mail is wanted, MAIL_SERVER is
  set and the user has an e-mail address, the notification is remembered on the session and an e-mail job
  is queued by an ``after_commit`` hook of that session (SQLAlchemy's public event API): nothing is sent
  inside the request, and nothing at all when the transaction is rolled back.
* ``unread_count(user_id)`` — one COUNT query.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app.common import clock
from app.extensions import db
from app.notifications import rules
from app.notifications.models import KINDS, TEXT_MAX, URL_MAX, Notification

PAGE_SIZE = 20
_PENDING = "xueshi_notifications_to_email"


def notify(user_ids: Iterable[int], kind: str, text: str, url: str, *, email: bool = True) -> list[Notification]:
    """Tell each user (duplicates once) `text` about the app page `url`; return the new, flushed rows.

    `kind` is one of app.notifications.models.KINDS; `text` at most 500 characters; `url` an
    app-relative path starting with "/" (ValueError otherwise). The rows are added to the current
    db.session and NOT committed: the caller commits. With `email` (and MAIL_SERVER configured and
    the user having an e-mail address) an e-mail job is queued after that commit.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    text = (text or "").strip()
    if not text or len(text) > TEXT_MAX:
        raise ValueError(f"a notification's text has 1 to {TEXT_MAX} characters")
    if not rules.is_app_path(url) or len(url) > URL_MAX:
        raise ValueError(f"a notification links to an app-relative path, not {url!r}")
    ids = list(dict.fromkeys(int(u) for u in user_ids))
    session = db.session()
    rows = [Notification(user_id=uid, kind=kind, text=text, url=url) for uid in ids]
    session.add_all(rows)
    session.flush()
    if email and rows and mail_enabled():
        from app.accounts.models import User

        with_address = set(session.execute(
            select(User.id).where(User.id.in_(ids), User.email.is_not(None), User.email != "")).scalars())
        _pending(session).extend(n.id for n in rows if n.user_id in with_address)
    return rows


def mail_enabled() -> bool:
    """True when an SMTP server is configured (MAIL_SERVER not empty)."""
    return bool(current_app.config.get("MAIL_SERVER"))


def _pending(session: Session) -> list[int]:
    """The session's notifications waiting for its commit to be e-mailed (hooks installed on first use)."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)
    return pending


def _after_commit(session: Session) -> None:
    ids = list(session.info.get(_PENDING) or ())
    if ids:
        session.info[_PENDING].clear()
        from app.notifications import jobs

        jobs.enqueue_emails(ids)


def _after_rollback(session: Session, _previous_transaction) -> None:
    if not session.in_transaction() and session.info.get(_PENDING):
        session.info[_PENDING].clear()


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread (one COUNT query)."""
    return db.session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))).scalar_one()


def nav_unread_count(user_id: int) -> int:
    """unread_count for the navigation's badge: 0 when the database cannot answer (an error page must still render)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return unread_count(user_id)
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def get_page(user_id: int, cursor: int | None = None, size: int = PAGE_SIZE) -> tuple[list[Notification], int | None]:
    """The user's notifications newest first, after `cursor` (an id), and the cursor of the next page."""
    query = select(Notification).where(Notification.user_id == user_id)
    if cursor is not None:
        query = query.where(Notification.id < cursor)
    rows = list(db.session.execute(query.order_by(Notification.id.desc()).limit(size + 1)).scalars())
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)


def get_notification(notification_id: int) -> Notification | None:
    return db.session.get(Notification, notification_id)


def do_mark_read(notification: Notification) -> datetime:
    """Mark it read (once: a second call keeps and returns the first time)."""
    if notification.read_at is None:
        notification.read_at = clock.now()
    return notification.read_at


def do_mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; return how many."""
    result = db.session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now()).execution_options(synchronize_session=False))
    return result.rowcount or 0
