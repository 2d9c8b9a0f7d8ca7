"""JSON API: the learner's projects and lessons."""
from flask import Blueprint, jsonify
from flask_login import current_user

from app.common.api import api_login_required
from app.courses import service

bp = Blueprint("courses_api", __name__, url_prefix="/api/v1")


@bp.get("/me/projects")
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
