"""JSON API of watch-time tracking (TRACKING.md): playback sessions, heartbeats, presence, progress, audit."""
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field

from app.common.api import api_login_required, jsonable, parse_json
from app.common.exceptions import Forbidden
from app.common.numbers import query_int
from app.common.openapi import api_doc
from app.courses import service as courses
from app.tracking import service
from app.tracking.answers import (AuditOut, CorrectionMade, HeartbeatOut, PresenceOut, ProgressOut, ProjectQuery,
                                  SessionEnded, SessionOpened)
from app.tracking.permissions import can_correct_credit

bp = Blueprint(__name__.split(".")[1] + "_api", __name__, url_prefix="/api/v1")

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Seconds = Annotated[float, Field(allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OpenSessionBody(_Body):
    lesson_id: Id
    project_id: Id
    #: the random id the player or reader keeps in the browser (localStorage): the same device reopening
    device_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""


class HeartbeatBody(_Body):
    seq: Annotated[int, Field(ge=1, le=2**31 - 1)]
    position_s: Seconds
    playing: bool
    visible: bool
    rate: Seconds
    event: Literal["tick", "play", "pause", "seek", "ended", "hidden", "shown"]
    from_position_s: Seconds | None = None
    #: the page a document reader shows (R14)
    page: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class PresenceBody(_Body):
    check_id: Annotated[str, Field(min_length=1, max_length=64)]
    answer: Annotated[str, Field(max_length=32)] | int


class CorrectionBody(_Body):
    delta_s: Annotated[float, Field(allow_inf_nan=False, ge=-1e7, le=1e7)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


_BODY_ERRORS = (400, 413, 415)


def _project_id_arg() -> int:
    return query_int("project_id", required=True,
                     message=_("Add ?project_id=<id> of one of your training projects."))


# ----------------------------------------------------------------- playback


@bp.post("/playback/sessions")
@api_doc(summary=_l("Open a playback session (supersedes my other sessions)"), body=OpenSessionBody,
         responses={201: SessionOpened}, errors=(*_BODY_ERRORS, 403, 404, 409))
@api_login_required
def open_session():
    body = parse_json(OpenSessionBody, max_bytes=1024)
    answer = service.do_open_session(
        current_user, body.project_id, body.lesson_id, request.user_agent.string if request.user_agent else "",
        body.device_id,
    )
    return jsonify(answer), 201


@bp.post("/playback/sessions/<int:session_id>/heartbeats")
@api_doc(summary=_l("Report the player's state (a heartbeat); the server credits the time"), body=HeartbeatBody,
         responses={200: HeartbeatOut}, errors=(*_BODY_ERRORS, 404, 409, 410))
@api_login_required
def heartbeat(session_id: int):
    body = parse_json(HeartbeatBody, max_bytes=1024)
    return jsonify(service.check_heartbeat(current_user.id, session_id, service.HeartbeatInput(**body.model_dump())))


@bp.post("/playback/sessions/<int:session_id>/presence")
@api_doc(summary=_l("Answer a presence check"), body=PresenceBody, responses={200: PresenceOut},
         errors=(*_BODY_ERRORS, 404, 409, 410))
@api_login_required
def presence(session_id: int):
    body = parse_json(PresenceBody, max_bytes=1024)
    return jsonify(service.check_presence_answer(current_user.id, session_id, body.check_id, str(body.answer)))


@bp.post("/playback/sessions/<int:session_id>/end")
@api_doc(summary=_l("End a playback session"), body=_Body, body_required=False, responses={200: SessionEnded},
         errors=(*_BODY_ERRORS, 404, 409, 410))
@api_login_required
def end_session(session_id: int):
    if request.get_data(cache=True).strip():
        parse_json(_Body, max_bytes=1024)  # `{}`: anything else in it is an error
    return jsonify(service.do_end_session(current_user.id, session_id))


# ----------------------------------------------------------------- the learner's own progress


@bp.get("/me/progress")
@api_doc(summary=_l("My progress and learning hours in a project"), query=ProjectQuery, responses={200: ProgressOut},
         errors=(400, 403, 404))
@api_login_required
def my_progress():
    project = courses.get_project_for_learner(current_user, _project_id_arg())
    return jsonify(jsonable(service.get_project_progress(current_user, project)))


@bp.get("/me/lessons/<int:lesson_id>/audit")
@api_doc(summary=_l("The audit trail of one of my lessons"), query=ProjectQuery, responses={200: AuditOut},
         errors=(400, 403, 404))
@api_login_required
def my_lesson_audit(lesson_id: int):
    project = courses.get_project_for_learner(current_user, _project_id_arg())
    lesson = service.get_recorded_lesson(current_user, project, lesson_id)
    return jsonify(jsonable(service.get_lesson_audit(current_user, project, lesson)))


# ----------------------------------------------------------------- staff: learners in their scope


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/progress")
@api_doc(summary=_l("A learner's progress (staff in their scope)"), responses={200: ProgressOut}, errors=(403, 404))
@api_login_required
def learner_progress(project_id: int, learner_id: int):
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    return jsonify(jsonable(service.get_project_progress(learner, project)))


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/lessons/<int:lesson_id>/audit")
@api_doc(summary=_l("A learner's audit trail of a lesson (staff in their scope)"), responses={200: AuditOut},
         errors=(403, 404))
@api_login_required
def learner_lesson_audit(project_id: int, learner_id: int, lesson_id: int):
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    lesson = service.get_lesson_in_project(project, lesson_id)
    return jsonify(jsonable(service.get_lesson_audit(learner, project, lesson)))


@bp.post("/projects/<int:project_id>/learners/<int:learner_id>/lessons/<int:lesson_id>/corrections")
@api_doc(summary=_l("Correct a learner's credited time (administrators; recorded with who and why)"),
         body=CorrectionBody, responses={201: CorrectionMade}, errors=(*_BODY_ERRORS, 403, 404))
@api_login_required
def correct_credit(project_id: int, learner_id: int, lesson_id: int):
    body = parse_json(CorrectionBody, max_bytes=4096)
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    if not can_correct_credit(current_user, learner, project):
        raise Forbidden(_("Only an administrator of this learner may correct credited time."))
    lesson = service.get_lesson_in_project(project, lesson_id)
    correction = service.do_correct_credit(current_user, learner, project, lesson, body.delta_s, body.reason)
    return jsonify({"id": correction.id, "delta_s": round(correction.delta_ms / 1000, 3)}), 201
