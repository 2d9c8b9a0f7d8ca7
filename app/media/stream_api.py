"""JSON API of media delivery: a lesson's signed media URLs for a player."""
from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.common.api import api_login_required
from app.common.numbers import query_int
from app.common.openapi import api_doc
from app.media import delivery
from app.media.answers import LessonMediaOut, LessonMediaQuery

bp = Blueprint("media_stream_api", __name__, url_prefix="/api/v1")


@bp.get("/lessons/<int:lesson_id>/media")
@api_doc(summary=_l("A lesson's signed media URLs for the player"), query=LessonMediaQuery,
         responses={200: LessonMediaOut}, errors=(400, 403, 404))
@api_login_required
def lesson_media(lesson_id: int):
    """Return {renditions: [{height, bitrate, url}], poster_url, document_url, expires_at}.

    Optional ``?project_id=`` limits the check to that project. URLs live
    MEDIA_URL_TTL_S; ask again for fresh ones.
    """
    lesson, _project = delivery.get_lesson_for_watching(
        current_user, lesson_id, query_int("project_id")
    )
    body = delivery.get_signed_media(lesson, url_prefix=request.host_url.rstrip("/"))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
