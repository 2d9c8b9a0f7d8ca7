"""Uploading: the tus 1.0 protocol details and the course staff's upload page.

The tus endpoints themselves are in app/media/api.py (under /api/v1/uploads,
so they answer in JSON and share the API's authentication). A client creates
an upload with POST (Upload-Length, Upload-Metadata), learns where it stands
with HEAD (Upload-Offset) and sends bytes with PATCH at that offset (409 at
any other); after a dropped connection it asks HEAD again and goes on from
there. The protocol itself is app/common/tus.py (homework uses it too); the page uses
tus-js-client, vendored under static/vendor/tus/, through static/js/resumable.js.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from app.common.tus import CHUNK_BYTES, TUS_EXTENSIONS, TUS_VERSION, encode_metadata, http_date, parse_metadata
from app.media import permissions, service
from app.media.probe import reason_message

__all__ = ["CHUNK_BYTES", "TUS_EXTENSIONS", "TUS_VERSION", "bp", "encode_metadata", "http_date", "parse_metadata"]

bp = Blueprint("media_upload", __name__)


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
