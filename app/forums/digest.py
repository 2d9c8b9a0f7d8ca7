"""The forums' daily digest by e-mail: each person's forum notifications of the last day in one message.

Run once a day (cron: `flask forums digest`) when SMTP is configured. Each digest leaves a "forum_digest"
notification, which also marks where the next digest starts, so running it twice sends nothing new.
"""
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale, gettext as _
from sqlalchemy import select

from app.accounts.models import User
from app.common import clock
from app.common.db import write_transaction
from app.extensions import db
from app.notifications.mail import send_mail
from app.notifications.models import Notification
from app.notifications.service import mail_enabled, notify

FORUM_KINDS = ("forum_reply", "qa_answer", "post_excellent")
MAX_LINES = 30


def do_send_digests() -> int:
    """Send the digest to everyone with an e-mail address and new forum notifications; return how many were sent."""
    if not mail_enabled():
        return 0
    now = clock.now()
    since_default = now - timedelta(days=1)
    rows = db.session.execute(
        select(Notification).where(Notification.kind.in_(FORUM_KINDS), Notification.created_at > since_default,
                                   Notification.read_at.is_(None))
        .order_by(Notification.user_id, Notification.created_at)).scalars().all()
    by_user: dict[int, list[Notification]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    base = (current_app.config.get("SITE_URL") or "").rstrip("/")
    sent = 0
    for user_id, items in by_user.items():
        user = db.session.get(User, user_id)
        if user is None or not user.email:
            continue
        last = db.session.execute(select(Notification.created_at).where(
            Notification.user_id == user_id, Notification.kind == "forum_digest")
            .order_by(Notification.created_at.desc()).limit(1)).scalar()
        items = [n for n in items if last is None or n.created_at > last]
        if not items:
            continue
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            subject = _("Forum news: %(n)d new", n=len(items))
            lines = [f"- {n.text} {base}{n.url}" for n in items[:MAX_LINES]]
            body = _("Hello %(name)s,", name=user.display_name) + "\n\n" + "\n".join(lines) + "\n"
            marker = _("The forum digest of %(n)d news was sent to your e-mail.", n=len(items))
        send_mail(user.email, subject, body)
        with write_transaction():
            notify([user_id], "forum_digest", marker, "/notifications/", email=False)
        sent += 1
    return sent


@click.group("forums")
def forums_cli():
    """The forums (研讨)."""


@forums_cli.command("digest")
@with_appcontext
def digest_command():
    """E-mail each person the forum news of the last day (run daily; needs MAIL_SERVER)."""
    click.echo(f"forum digests sent: {do_send_digests()}")


def register(app: Flask) -> None:
    app.cli.add_command(forums_cli)
