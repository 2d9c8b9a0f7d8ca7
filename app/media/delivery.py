"""Who may watch or project a lesson, and the signed URLs they get.

Used by the stream API (GET /api/v1/lessons/<id>/media) and the projector
page. The stream route itself needs none of this: the signed URL is the
permission, checked in app/media/views.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import OrgUnit, User
from app.classrooms.models import Class_
from app.common import clock
from app.common.exceptions import Forbidden, NotFound
from app.common.permissions import is_admin, path_in_scope, staff_class_ids
from app.courses.models import Lesson, Project, ProjectCourse
from app.courses.service import get_open_course_ids, get_projects_with_lesson, is_enrolled
from app.extensions import db
from app.media import signing
from app.media.permissions import can_manage_media

# --------------------------------------------------------------- permissions


def _project_has_lesson(project: Project, lesson: Lesson) -> bool:
    return db.session.execute(
        select(ProjectCourse.id).where(
            ProjectCourse.project_id == project.id, ProjectCourse.course_id == lesson.module.course_id
        )
    ).first() is not None


def _org_paths(*unit_ids: int | None) -> list[str]:
    ids = [i for i in unit_ids if i]
    if not ids:
        return []
    return list(db.session.execute(select(OrgUnit.path).where(OrgUnit.id.in_(ids))).scalars())


def can_project_in(user: User, project: Project) -> bool:
    """Tell whether the user runs group viewing for the project.

    Site admins; tutors and class managers of one of its classes; org admins
    whose subtree holds the project, or the school or learning center of one
    of its classes.
    """
    if not user or not user.is_authenticated:
        return False
    if user.is_site_admin:
        return True
    classes = db.session.execute(
        select(Class_.id, Class_.org_unit_id, Class_.learning_center_id).where(Class_.project_id == project.id)
    ).all()
    if staff_class_ids(user) & {c.id for c in classes}:
        return True
    if not is_admin(user):
        return False
    unit_ids = [project.org_unit_id] + [c.org_unit_id for c in classes] + [c.learning_center_id for c in classes]
    return any(path_in_scope(user, p) for p in _org_paths(*unit_ids))


def can_project_lesson(user: User, lesson: Lesson, project: Project) -> bool:
    """Tell whether the user may show the lesson full screen for the project's group viewing."""
    return _project_has_lesson(project, lesson) and can_project_in(user, project)


def can_watch_lesson(user: User, lesson: Lesson, project: Project | None = None) -> bool:
    """Tell whether the user may get the lesson's media URLs.

    Learners enrolled in a project with the lesson's course open to them, the
    project's group-viewing staff, the course's media staff (can_manage_media)
    and site admins. With ``project``, only that project counts.
    """
    if not user or not user.is_authenticated:
        return False
    if user.is_site_admin:
        return True
    projects = [project] if project is not None else get_projects_with_lesson(lesson)
    course_id = lesson.module.course_id
    for candidate in projects:
        if not _project_has_lesson(candidate, lesson):
            continue
        if is_enrolled(user, candidate) and course_id in get_open_course_ids(candidate, user):
            return True
        if can_project_in(user, candidate):
            return True
    return can_manage_media(user, lesson.module.course)


# --------------------------------------------------------------- use cases


def get_lesson_for_watching(user: User, lesson_id: int, project_id: int | None) -> tuple[Lesson, Project | None]:
    """Return the lesson (and project) the user may watch; NotFound or Forbidden otherwise."""
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    project = None
    if project_id is not None:
        project = db.session.get(Project, project_id)
        if project is None:
            raise NotFound(_("No such training project."))
    if not can_watch_lesson(user, lesson, project):
        raise Forbidden(_("You are not enrolled in a training project with this lesson."), code="not_enrolled")
    return lesson, project


def get_lesson_for_projecting(user: User, lesson_id: int, project_id: int | None) -> tuple[Lesson, Project]:
    """Return the lesson and project for the projector page; NotFound or Forbidden otherwise."""
    lesson = db.session.get(Lesson, lesson_id)
    project = db.session.get(Project, project_id) if project_id is not None else None
    if lesson is None or project is None or not _project_has_lesson(project, lesson):
        raise NotFound(_("No such lesson in this training project."))
    if not can_project_lesson(user, lesson, project):
        raise Forbidden(_("Only the class's tutor, class manager or an administrator can use projector mode."))
    return lesson, project


def get_projects_for_projecting(user: User, lesson_id: int) -> tuple[Lesson, list[Project]]:
    """Return the lesson and the projects holding it in which the user runs group viewing (newest first).

    NotFound when the lesson is in no project, Forbidden when the user may project it in none.
    """
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    projects = get_projects_with_lesson(lesson)
    if not projects:
        raise NotFound(_("This lesson is in no training project, so it cannot be shown in projector mode."))
    mine = [p for p in projects if can_project_in(user, p)]
    if not mine:
        raise Forbidden(_("Only the class's tutor, class manager or an administrator can use projector mode."))
    mine.sort(key=lambda p: (p.starts_on is None, -(p.starts_on.toordinal() if p.starts_on else 0), p.title, p.id))
    return lesson, mine


@dataclass(frozen=True)
class Rendition:
    """What the player needs to choose a rendition (height 0: audio only; None: unknown)."""

    key: str
    height: int | None
    width: int | None
    bitrate: int | None
    label: str
    content_type: str | None


@dataclass(frozen=True)
class LessonMedia:
    """The playable files of a lesson, by storage key."""

    renditions: tuple[Rendition, ...]
    poster_key: str | None
    document_key: str | None
    state: str  # "ready", "processing" or "missing"
    #: the PDF the reader shows (the document itself, or its conversion); None: download only
    pdf_key: str | None = None


def get_lesson_media(lesson: Lesson) -> LessonMedia:
    """Return the lesson's playable files: its current asset, else its plain media_key."""
    from app.media import service as media_service

    asset = media_service.get_lesson_asset(lesson)
    if asset is not None:
        renditions = tuple(
            Rendition(r.storage_key, r.height, r.width, r.bitrate, r.label, r.content_type)
            for r in sorted(asset.renditions, key=lambda r: (r.height, r.bitrate))
        )
        return LessonMedia(renditions, asset.poster_key, asset.document_key, "ready", asset.reader_key)
    key = lesson.media_key
    if key and signing.is_valid_key(key):
        if lesson.kind == "document":
            return LessonMedia((), None, key, "ready", key if key.lower().endswith(".pdf") else None)
        return LessonMedia((Rendition(key, None, None, None, "source", None),), None, None, "ready")
    from app.media.models import MediaAsset

    pending = db.session.execute(
        select(MediaAsset.id).where(MediaAsset.lesson_id == lesson.id, MediaAsset.state.in_(("queued", "running")))
    ).first()
    return LessonMedia((), None, None, "processing" if pending else "missing")


def media_urls(media: LessonMedia, now: datetime, ttl_s: int, secret: str, url_prefix: str = "") -> dict:
    """Return the API body: every file of ``media`` signed until now + ttl_s."""
    expires = int(now.timestamp()) + int(ttl_s)

    def url(key: str | None) -> str | None:
        return signing.sign_key(key, expires, secret, url_prefix).url if key else None

    return {
        "renditions": [
            {
                "height": r.height,
                "width": r.width,
                "bitrate": r.bitrate,
                "label": r.label,
                "content_type": r.content_type,
                "url": url(r.key),
            }
            for r in media.renditions
        ],
        "poster_url": url(media.poster_key),
        "document_url": url(media.document_key),
        "pdf_url": url(media.pdf_key),
        "expires_at": datetime.fromtimestamp(expires, timezone.utc).isoformat().replace("+00:00", "Z"),
        "ttl_s": int(ttl_s),
        "state": media.state,
    }


def get_signed_media(lesson: Lesson, url_prefix: str = "") -> dict:
    """Return the lesson's signed media URLs, valid for MEDIA_URL_TTL_S from now."""
    config = current_app.config
    return media_urls(
        get_lesson_media(lesson), clock.now(), config["MEDIA_URL_TTL_S"], config["MEDIA_SIGNING_KEY"], url_prefix
    )


def get_document_page_count(lesson: Lesson) -> int | None:
    """Return the page count of a document lesson's PDF (None without one), counting it once if unknown.

    Uploads are counted by the media job; a lesson whose file was placed by
    hand (the demo, an import) is counted here, on first use, and stored.
    """
    from app.common.db import write_transaction
    from app.media.probe import ProbeError, check_pdf
    from app.media.storage import get_storage

    if lesson.page_count:
        return lesson.page_count
    key = get_lesson_media(lesson).pdf_key
    if key is None:
        return None
    try:
        pages = check_pdf(get_storage().path(key))
    except (ProbeError, ValueError):
        return None
    lesson_id = lesson.id
    with write_transaction():
        db.session.get(Lesson, lesson_id).page_count = pages
    return pages
