"""Uploading: the tus 1.0 protocol details and the course staff's upload page.

The tus endpoints themselves are in app/media/api.py (under /api/v1/uploads,
so they answer in JSON and share the API's authentication). A client creates
an upload with POST (Upload-Length, Upload-Metadata), learns where it stands
with HEAD (Upload-Offset) and sends bytes with PATCH at that offset (409 at
any other); after a dropped connection it asks HEAD again and goes on from
there. The page uses tus-js-client, vendored under static/vendor/tus/.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from email.utils import format_datetime

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from app.media import permissions, service
from app.media.probe import reason_message

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
#: what the page's client sends per PATCH; small enough for proxies' body limits
CHUNK_BYTES = 8 * 1024 * 1024

bp = Blueprint("media_upload", __name__)


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode tus Upload-Metadata: comma-separated `key base64value` pairs (value optional)."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError(f"metadata {key!r} is not base64 UTF-8")
        result[key.strip()] = decoded
    return result


def encode_metadata(values: dict[str, str]) -> str:
    """Encode tus Upload-Metadata (tests and scripts)."""
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8')).decode('ascii')}" for k, v in values.items())


def http_date(moment: datetime) -> str:
    """Format an aware datetime as an HTTP date (Upload-Expires)."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


@bp.get("/courses/<int:course_id>/media")
@login_required
def course_media(course_id: int):
    """The course staff's media page: upload with a progress bar, see every job's state."""
    course = service.get_course(course_id)
    if course is None:
        abort(404)
    if not permissions.can_manage_media(current_user, course):
        abort(403)
    lessons = [lesson for module in course.modules for lesson in module.lessons]
    return render_template(
        "media/upload.html", course=course, lessons=lessons, assets=service.get_course_assets(course),
        max_upload_bytes=int(current_app.config.get("MAX_UPLOAD_BYTES") or 0), chunk_bytes=CHUNK_BYTES,
        extensions=sorted(service.ALLOWED_EXTENSIONS), reason_message=reason_message,
    )
