"""Notification pages: the list (newest first, paged), opening one (marks it read, goes to its page), mark all read."""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.common.db import write_transaction
from app.common.numbers import query_int
from app.notifications import permissions as perms
from app.notifications import rules, service
from app.notifications.forms import ButtonForm

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _me():
    return current_user._get_current_object()


def _local(moment: datetime | None) -> str:
    """A time as the site's clock shows it (BABEL_DEFAULT_TIMEZONE, Beijing time)."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.get("/")
@login_required
def index():
    """My notifications, newest first; `?cursor=` shows the older ones."""
    cursor = query_int("cursor")
    items, next_cursor = service.get_page(_me().id, cursor)
    return render_template("notifications/index.html", items=items, next_cursor=next_cursor, cursor=cursor,
                           form=ButtonForm(), local=_local, unread=service.unread_count(_me().id))


@bp.post("/<int:nid>/open")
@login_required
def open_(nid: int):
    """Mark the notification read and go to the page it is about (an app page only)."""
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        notification = service.get_notification(nid)
        if not perms.can_view_notification(_me(), notification):
            abort(404)
        service.do_mark_read(notification)
        target = notification.url
    return redirect(target if rules.is_app_path(target) else url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def read_all():
    """Mark every notification of mine read."""
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        count = service.do_mark_all_read(_me().id)
    flash(_("%(n)d notifications marked read.", n=count) if count else _("No unread notifications."), "success")
    return redirect(url_for("notifications.index"))
