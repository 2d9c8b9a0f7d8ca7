"""E-mail copies of notifications on Huey, built like app.reports.jobs: SqliteHuey by default, RedisHuey with REDIS_URL.

The queue is its own (NOTIFICATIONS_HUEY_NAME) and runs under `flask notifications worker`
(started by `make run`); with HUEY_IMMEDIATE (tests) a task runs at once in the caller.
A task carries notification ids only; it sends each unsent one and stamps emailed_at.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey

log = logging.getLogger(__name__)

EMAIL_TASK = "xueshi.notifications.email"


def _make_huey(app: Flask):
    immediate = bool(app.config.get("HUEY_IMMEDIATE", False))
    name = (app.config.get("NOTIFICATIONS_HUEY_NAME")
            or app.config.get("MEDIA_HUEY_NAME", "xueshi") + "-notifications")
    if app.config.get("REDIS_URL") and not immediate:
        huey = RedisHuey(name, url=app.config["REDIS_URL"], results=False)
    else:
        huey = SqliteHuey(name, filename=app.config["HUEY_SQLITE_PATH"], results=False, immediate=immediate)

    @huey.task(name=EMAIL_TASK, retries=2, retry_delay=60)
    def email_task(notification_ids: list[int]) -> None:
        with app.app_context():
            log.info("notification e-mails %s: %d sent", notification_ids, send_emails(notification_ids))

    huey.xueshi_tasks = {"email": email_task}
    return huey


def get_huey(app: Flask | None = None):
    """Return the app's notifications Huey instance, building it on first use."""
    app = app or current_app._get_current_object()
    huey = app.extensions.get("notifications_huey")
    if huey is None:
        huey = app.extensions["notifications_huey"] = _make_huey(app)
    return huey


def enqueue_emails(notification_ids: list[int]) -> None:
    """Queue the e-mails of committed notifications (sent right now in immediate mode)."""
    try:
        get_huey().xueshi_tasks["email"](list(notification_ids))
    except Exception:  # the action is committed: a queue that is down must not turn it into an error page
        log.exception("could not queue notification e-mails %s", notification_ids)


def send_emails(notification_ids: list[int]) -> int:
    """Send the e-mail of each notification not yet e-mailed whose user has an address; return how many."""
    from flask_babel import force_locale, gettext as _
    from sqlalchemy import select

    from app.accounts.models import User
    from app.common import clock
    from app.common.labels import label
    from app.extensions import db
    from app.notifications.mail import send_mail
    from app.notifications.models import Notification

    sent = 0
    rows = db.session.execute(
        select(Notification, User).join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(notification_ids), Notification.emailed_at.is_(None))
        .order_by(Notification.id)).all()
    base = (current_app.config.get("SITE_URL") or "").rstrip("/")
    for notification, user in rows:
        if not user.email:
            continue
        locale = user.locale if user.locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale):
            subject = _("[Xueshi] %(kind)s", kind=label(notification.kind, "notification_kind"))
            body = "\n\n".join([notification.text, base + notification.url,
                                _("You can read all your notifications in Xueshi under “Notifications”.")])
        send_mail(user.email, subject, body)
        notification.emailed_at = clock.now()
        db.session.commit()
        sent += 1
    return sent
