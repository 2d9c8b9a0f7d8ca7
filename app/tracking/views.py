"""Tracking pages: the lesson player, a learner's progress, and the per-lesson audit ("why not credited?").

Staff in scope (tutor or class manager of the learner's class, org admin of the
learner's school or class, site admin) see the same progress and audit pages
for a learner. Thin: permission, service call, render.
"""
import math
import os
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from app.accounts.models import User
from app.common.exceptions import Forbidden
from app.courses import electives, service as courses
from app.tracking import service

bp = Blueprint("tracking", __name__)


@bp.get("/projects/<int:project_id>/lessons/<int:lesson_id>/play")
@login_required
def player(project_id: int, lesson_id: int):
    """Play a lesson (player.js) or read a document (reader.js); both report to the tracking API."""
    project, lesson = courses.get_project_lesson(current_user, project_id, lesson_id)
    if lesson.kind not in ("video", "audio", "document"):
        abort(404)
    progress = service.get_project_progress(current_user, project)
    lesson_progress = next((item for item in progress["lessons"] if item["lesson_id"] == lesson.id), None)
    if lesson.kind == "document":
        return _render_reader(project, lesson, lesson_progress)
    src, poster, media_state = _fallback_media(lesson)
    return render_template(
        "tracking/player.html",
        project=project,
        lesson=lesson,
        lesson_progress=lesson_progress or {"credited_s": 0, "covered_s": 0, "complete": False},
        api_base="/api/v1",
        fallback_src=src,
        poster=poster,
        has_media_source=_has_media_source(),
        media_state=media_state,
        can_project=_can_project(lesson, project),
    )


@bp.get("/projects/<int:project_id>/progress")
@login_required
def progress(project_id: int):
    """The signed-in learner's progress in a project."""
    project = courses.get_project_for_learner(current_user, project_id)
    return _render_progress(current_user, project)


@bp.get("/projects/<int:project_id>/lessons/<int:lesson_id>/audit")
@login_required
def audit(project_id: int, lesson_id: int):
    """The signed-in learner's audit trail of one lesson (also of a lesson no longer open to them)."""
    project = courses.get_project_for_learner(current_user, project_id)
    lesson = service.get_recorded_lesson(current_user, project, lesson_id)
    return _render_audit(current_user, project, lesson)


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/progress")
@login_required
def learner_progress(project_id: int, learner_id: int):
    """A learner's progress, for staff in scope."""
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    return _render_progress(learner, project)


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/lessons/<int:lesson_id>/audit")
@login_required
def learner_audit(project_id: int, learner_id: int, lesson_id: int):
    """A learner's audit trail of one lesson, for staff in scope."""
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    try:
        lesson = service.get_recorded_lesson(learner, project, lesson_id)
    except Forbidden:
        abort(404)  # staff see the project's lessons and the learner's records, nothing else
    return _render_audit(learner, project, lesson)


# ----------------------------------------------------------------------------- helpers


def _render_reader(project, lesson, lesson_progress):
    """The app's own PDF reader; a document without a PDF is offered as a download (not credited by reading)."""
    from app.media.delivery import get_document_page_count, get_signed_media

    media = get_signed_media(lesson)
    page_count = get_document_page_count(lesson) if media.get("pdf_url") else None
    return render_template(
        "tracking/reader.html",
        project=project,
        lesson=lesson,
        lesson_progress=lesson_progress or {"credited_s": 0, "covered_s": 0, "complete": False, "pages_viewed": 0},
        api_base="/api/v1",
        pdf_url=media.get("pdf_url") if page_count else None,
        download_url=media.get("document_url"),
        page_count=page_count,
        is_processing=media.get("state") == "processing",
    )


def _render_progress(learner: User, project):
    data = service.get_project_progress(learner, project)
    courses_by_id = {link.course_id: link for link in project.course_links}
    open_items = [item for item in data["lessons"] if item["is_open"]]
    groups: list[dict] = []
    for item in open_items:
        if not groups or groups[-1]["course_id"] != item["course_id"]:
            link = courses_by_id.get(item["course_id"])
            groups.append({"course_id": item["course_id"], "title": link.course.title if link else "",
                           "is_required": link.is_required if link else True, "lessons": []})
        groups[-1]["lessons"].append(item)
    per_hour_s = project.minutes_per_hour * 60
    # What the lessons can still give: each lesson is capped at duration × cap factor (R4).
    creditable_left_s = sum(max(0.0, item["duration_s"] * project.cap_factor - item["credited_s"])
                            for item in open_items)
    summary = {
        "missing_hours": math.ceil(data["missing_s"] / per_hour_s * 10) / 10 if per_hour_s else 0,
        "hours_ratio": min(1.0, data["learning_hours"] / project.required_hours) if project.required_hours else 1.0,
        "creditable_left_s": creditable_left_s,
        "is_short_of_content": data["missing_s"] > creditable_left_s + 0.5,
        "incomplete": [item for item in open_items if not item["complete"]],
    }
    closed = [item for item in data["lessons"] if not item["is_open"]]
    return render_template("tracking/progress.html", project=project, learner=learner,
                           is_own=learner.id == current_user.id, progress=data, groups=groups, summary=summary,
                           closed=closed, my_electives=electives.get_my_electives(project, learner))


def _render_audit(learner: User, project, lesson):
    data = service.get_lesson_audit(learner, project, lesson)
    tz = ZoneInfo(project.timezone or "Asia/Shanghai")

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    return render_template("tracking/audit.html", project=project, lesson=lesson, learner=learner,
                           is_own=learner.id == current_user.id, audit=data, local=local,
                           is_consistent=abs(data["recomputed_s"] - data["credited_s"]) < 0.0015)


def _can_project(lesson, project) -> bool:
    """Whether the signed-in user may show this lesson in projector mode (staff of the project's classes)."""
    try:
        from app.media.delivery import can_project_lesson
    except ImportError:  # the media feature is not there
        return False
    return can_project_lesson(current_user, lesson, project)


def _fallback_media(lesson) -> tuple[str | None, str | None, str]:
    """A signed URL of the lesson's middle rendition, its poster, and the media state ("ready", "processing"...)."""
    try:
        from app.media.delivery import get_signed_media
    except ImportError:  # the media feature is not there: nothing to fall back to
        return None, None, "ready"
    media = get_signed_media(lesson)
    renditions = media.get("renditions") or []
    # A modest rung (360p-ish) plays everywhere; media-source.js does the real choice.
    modest = [r for r in renditions if not r.get("height") or r["height"] <= 480]
    chosen = (modest or renditions or [None])[-1]
    state = media.get("state") or "ready"
    if state == "ready" and not renditions:
        state = "missing"
    return (chosen["url"] if chosen else None), media.get("poster_url"), state


_media_source_present: bool | None = None


def _has_media_source() -> bool:
    """Whether the media helper's app/static/js/media-source.js exists (checked once per process)."""
    global _media_source_present
    if _media_source_present is None:
        _media_source_present = os.path.exists(os.path.join(current_app.static_folder, "js", "media-source.js"))
    return _media_source_present
