"""JSON API: the learner's projects and lessons."""
from datetime import date

from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, RootModel

from app.common.api import api_login_required
from app.common.openapi import api_doc
from app.courses import service

bp = Blueprint("courses_api", __name__, url_prefix="/api/v1")


class ProjectOut(BaseModel):
    id: int
    title: str
    required_hours: float
    starts_on: date
    ends_on: date


class LessonOut(BaseModel):
    id: int
    course_id: int
    title: str
    kind: str
    duration_s: float | None


class ProjectList(RootModel[list[ProjectOut]]):
    pass


class LessonList(RootModel[list[LessonOut]]):
    pass


@bp.get("/me/projects")
@api_doc(summary=_l("My training projects"), responses={200: ProjectList})
@api_login_required
def my_projects():
    return jsonify([
        {
            "id": p.id,
            "title": p.title,
            "required_hours": p.required_hours,
            "starts_on": p.starts_on.isoformat(),
            "ends_on": p.ends_on.isoformat(),
        }
        for p in service.get_user_projects(current_user)
    ])


@bp.get("/projects/<int:project_id>/lessons")
@api_doc(summary=_l("The lessons of a project I am enrolled in"), responses={200: LessonList}, errors=(403, 404))
@api_login_required
def project_lessons(project_id: int):
    project = service.get_project_for_learner(current_user, project_id)
    return jsonify([
        {
            "id": lesson.id,
            "course_id": lesson.module.course_id,
            "title": lesson.title,
            "kind": lesson.kind,
            "duration_s": lesson.duration_s,
        }
        for lesson in service.get_project_lessons(project, current_user)
    ])
