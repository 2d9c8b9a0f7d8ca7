"""JSON API: the learner's projects, lessons and electives; the school's confirmation of electives."""
from datetime import date, datetime
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.common.api import api_login_required, parse_json
from app.common.db import write_transaction
from app.common.exceptions import Forbidden, Invalid, NotFound
from app.common.numbers import query_int
from app.common.openapi import api_doc
from app.common.permissions import is_admin
from app.courses import electives, permissions, service
from app.courses.models import REFUSAL_REASON_MAX, ElectiveChoice, Project
from app.extensions import db

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


# ---------------------------------------------------------------- electives
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Status = Literal["pending", "confirmed", "refused", "open"]


class ElectiveOut(BaseModel):
    choice_id: int
    course_id: int
    course_title: str
    status: Status = Field(description="pending, confirmed, refused; open when the project asks no confirmation")
    refusal_reason: str | None
    decided_at: datetime | None


class MyElectives(RootModel[list[ElectiveOut]]):
    pass


class ElectiveChoiceOut(ElectiveOut):
    user_id: int
    username: str
    display_name: str
    teacher_no: str | None
    school: str | None
    chosen_at: datetime
    decided_by: str | None


class ElectiveChoicePage(BaseModel):
    items: list[ElectiveChoiceOut]
    next: int | None = Field(description="the next page's number, null on the last page")


class ElectiveQuery(BaseModel):
    status: Literal["pending", "confirmed", "refused"] | None = None
    page: Id = 1


class MyElectivesQuery(BaseModel):
    project_id: Id = Field(description="one of my training projects")


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    choice_ids: Annotated[list[Id], Field(min_length=1, max_length=electives.MAX_AT_ONCE)]
    action: Literal["confirm", "refuse"]
    reason: Annotated[str, Field(max_length=REFUSAL_REASON_MAX)] | None = None


class DecisionsOut(BaseModel):
    decided: list[ElectiveOut]


def _elective(project: Project, choice: ElectiveChoice) -> dict:
    return {"choice_id": choice.id, "course_id": choice.course_id, "course_title": choice.course.title,
            "status": electives.status_of(project, choice), "refusal_reason": choice.refusal_reason,
            "decided_at": choice.decided_at.isoformat() if choice.decided_at else None}


def _admin_project(project_id: int) -> Project:
    """The project whose electives the signed-in admin decides: 403 for non-admins, 404 outside their reach."""
    if not is_admin(current_user):
        raise Forbidden(_("Only administrators confirm or refuse electives."))
    project = db.session.get(Project, project_id)
    if project is None or not permissions.can_view_electives(current_user, project):
        raise NotFound(_("No such training project."))
    return project


@bp.get("/me/electives")
@api_doc(summary=_l("My elective choices in a project and the school's decision on each"), query=MyElectivesQuery,
         responses={200: MyElectives}, errors=(400, 403, 404))
@api_login_required
def my_electives():
    project_id = query_int("project_id", required=True,
                           message=_("Add ?project_id=<id> of one of your training projects."))
    project = service.get_project_for_learner(current_user, project_id)
    return jsonify([_elective(project, item["choice"]) for item in electives.get_my_electives(project, current_user)])


@bp.get("/projects/<int:project_id>/electives")
@api_doc(summary=_l("The electives chosen by the project's teachers in my area (administrators), pending first"),
         query=ElectiveQuery, responses={200: ElectiveChoicePage}, errors=(400, 403, 404))
@api_login_required
def project_electives(project_id: int):
    project = _admin_project(project_id)
    status = request.args.get("status") or None
    if status is not None and status not in electives.STATUSES:
        raise Invalid(_("status must be one of: pending, confirmed, refused."), code="status")
    page = db.paginate(electives.get_choices_query(current_user, project, status), page=query_int("page", 1),
                       per_page=100, error_out=False)
    items = []
    for choice in page.items:
        user = choice.user
        items.append({**_elective(project, choice), "user_id": user.id, "username": user.username,
                      "display_name": user.display_name, "teacher_no": user.teacher_no,
                      "school": user.school.name if user.school else None, "chosen_at": choice.created_at.isoformat(),
                      "decided_by": choice.decided_by.display_name if choice.decided_by else None})
    return jsonify({"items": items, "next": page.next_num if page.has_next else None})


@bp.post("/projects/<int:project_id>/electives/decisions")
@api_doc(summary=_l("Confirm or refuse elective choices, all or none (administrators of the teachers)"),
         body=DecisionBody, responses={200: DecisionsOut}, errors=(400, 403, 404, 409, 410, 413, 415))
@api_login_required
def decide_electives(project_id: int):
    body = parse_json(DecisionBody, max_bytes=64 * 1024)
    project = _admin_project(project_id)
    outcome = "confirmed" if body.action == "confirm" else "refused"
    with write_transaction():
        decided = electives.check_decide(current_user._get_current_object(), project, body.choice_ids, outcome,
                                         body.reason)
        answer = {"decided": [_elective(project, choice) for choice in decided]}
    return jsonify(answer)
