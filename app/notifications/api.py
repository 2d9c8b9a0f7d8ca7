"""JSON API: my notifications (cursor paged) and marking one read."""
from datetime import datetime
from typing import Literal

from flask import Blueprint, jsonify
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, Field

from app.common.api import api_error, api_login_required
from app.common.db import write_transaction
from app.common.numbers import DB_INT_MAX, query_int
from app.common.openapi import api_doc
from app.notifications import permissions as perms
from app.notifications import service
from app.notifications.models import KINDS

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1")


class NotificationOut(BaseModel):
    id: int
    kind: Literal[KINDS]  # type: ignore[valid-type]
    text: str
    url: str = Field(pattern=r"^/")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next: str | None = Field(description="The cursor of the next (older) page; null on the last page.")


class NotificationQuery(BaseModel):
    cursor: int | None = Field(None, ge=1, le=DB_INT_MAX, description="The `next` of the previous page.")


class ReadOut(BaseModel):
    read_at: datetime


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@bp.get("/me/notifications")
@api_doc(summary=_l("My notifications, newest first"), responses={200: NotificationPage}, errors=(400,),
         query=NotificationQuery)
@api_login_required
def my_notifications():
    items, next_cursor = service.get_page(current_user.id, query_int("cursor"))
    return jsonify({
        "items": [{"id": n.id, "kind": n.kind, "text": n.text, "url": n.url, "created_at": _iso(n.created_at),
                   "read_at": _iso(n.read_at)} for n in items],
        "next": str(next_cursor) if next_cursor is not None else None,
    })


@bp.post("/me/notifications/<int:nid>/read")
@api_doc(summary=_l("Mark one of my notifications read (again: the first time is kept)"),
         responses={200: ReadOut}, errors=(404,))
@api_login_required
def mark_read(nid: int):
    with write_transaction():
        notification = service.get_notification(nid)
        if not perms.can_view_notification(current_user, notification):
            raise api_error(404, "not_found", _("No such notification."))
        read_at = service.do_mark_read(notification)
    return jsonify({"read_at": _iso(read_at)})
