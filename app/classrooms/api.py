"""JSON API of classes (API.md "Classes, rosters, reminders" and "Group viewing")."""
from typing import Annotated

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.models import User
from app.classrooms import answers, permissions as perms, service
from app.classrooms.models import Class_
from app.common.api import api_login_required, jsonable, parse_json
from app.common.exceptions import Forbidden, NotFound
from app.common.openapi import api_doc
from app.extensions import db
from app.tracking import group

bp = Blueprint("classrooms_api", __name__, url_prefix="/api/v1")

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
_BODY_ERRORS = (400, 413, 415)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GroupOpenBody(_Body):
    class_id: Id
    lesson_id: Id


class CheckinBody(_Body):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class AttendeeBody(_Body):
    user_id: Id


class RemindersBody(_Body):
    user_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]
    message: Annotated[str, Field(min_length=1, max_length=500)]


def _me():
    return current_user._get_current_object()


def _class(class_id: int) -> Class_:
    """A class the user may see (NotFound otherwise)."""
    cls = db.session.get(Class_, class_id)
    if cls is None or not perms.can_view_class(_me(), cls):
        raise NotFound(_("No such class."), code="class_not_found")
    return cls


def _run_group(group_id: int):
    """A group session the user runs: 404 when they may not see its class, 403 when they see but do not run it."""
    gs, cls = service.get_group_class(group_id)
    if not perms.can_run_group_session(_me(), cls):
        if perms.can_view_group_sessions(_me(), cls):
            raise Forbidden(_("Only the class's class manager runs its group viewing."))
        raise NotFound(_("No such group session."), code="group_not_found")
    return gs, cls


def _checkin_json(gs) -> dict | None:
    checkin = group.get_checkin(gs)
    if checkin is None:
        return None
    checkin["url"] = url_for("classwork.checkin_page", group_id=gs.id, code=checkin["code"], _external=True)
    return checkin


def group_state(gs) -> dict:
    """The answer of GET /group-sessions/<gid> (also used by the projector page)."""
    return {"id": gs.id, "class_id": gs.class_id, "lesson_id": gs.lesson_id, "project_id": gs.project_id,
            "status": gs.status, "session_id": group.get_projector_session_id(gs),
            "started_at": gs.started_at, "ended_at": gs.ended_at,
            "checkin": _checkin_json(gs), "attendees": group.get_attendees(gs)}


# ---------------------------------------------------------------- classes, rosters, reminders


@bp.get("/me/classes")
@api_doc(summary=_l("The classes I learn in or staff"), responses={200: answers.MyClassList})
@api_login_required
def my_classes():
    return jsonify([{"id": cls.id, "name": cls.name, "project_id": cls.project_id, "role": role}
                    for role, cls in service.get_class_roles(_me())])


@bp.get("/classes/<int:class_id>/roster")
@api_doc(summary=_l("A class's roster with each learner's figures"), responses={200: answers.Roster},
         errors=(404,))
@api_login_required
def roster(class_id: int):
    cls = _class(class_id)
    return jsonify(jsonable(service.roster(cls.id)))


@bp.post("/classes/<int:class_id>/reminders")
@api_doc(summary=_l("Remind learners of a class (at most one reminder a learner a day)"), body=RemindersBody,
         responses={200: answers.RemindersOut}, errors=(*_BODY_ERRORS, 403, 404))
@api_login_required
def reminders(class_id: int):
    body = parse_json(RemindersBody, max_bytes=16 * 1024)
    cls = _class(class_id)
    if not perms.can_remind(_me(), cls):
        raise Forbidden(_("Only the class's staff and administrators may send reminders."))
    result = service.do_send_reminders(_me(), cls, body.user_ids, body.message.strip() or body.message)
    db.session.commit()
    return jsonify(result)


# ---------------------------------------------------------------- group viewing


@bp.post("/group-sessions")
@api_doc(summary=_l("Open a group viewing of a lesson for a class (its class manager)"), body=GroupOpenBody,
         responses={201: answers.GroupOpened}, errors=(*_BODY_ERRORS, 403, 404, 409))
@api_login_required
def open_group():
    body = parse_json(GroupOpenBody, max_bytes=1024)
    cls = _class(body.class_id)
    if not perms.can_run_group_session(_me(), cls):
        raise Forbidden(_("Only the class's class manager runs its group viewing."))
    opened = service.do_start_group(_me(), cls, body.lesson_id)
    gs = group.get_group(opened["group_session_id"])
    return jsonify(jsonable({**opened, "checkin": _checkin_json(gs)})), 201


@bp.get("/group-sessions/<int:group_id>")
@api_doc(summary=_l("A group viewing: its check-in code and who is in (its class manager)"),
         responses={200: answers.GroupOut}, errors=(403, 404))
@api_login_required
def get_group(group_id: int):
    gs, _cls = _run_group(group_id)
    return jsonify(jsonable(group_state(gs)))


@bp.post("/group-sessions/<int:group_id>/checkins")
@api_doc(summary=_l("Check myself in to a group viewing with the code on the screen"), body=CheckinBody,
         responses={201: answers.CheckedIn}, errors=(*_BODY_ERRORS, 403, 404, 409, 410, 422, 429))
@api_login_required
def check_in(group_id: int):
    body = parse_json(CheckinBody, max_bytes=1024)
    gs, cls = service.get_group_class(group_id)
    if not perms.can_check_in(_me(), cls):
        raise Forbidden(_("Only learners of this class can check in to its group viewing."), code="not_in_class")
    return jsonify(jsonable(service.check_in_with_code(gs, _me(), body.code.strip()))), 201


@bp.delete("/group-sessions/<int:group_id>/checkins/me")
@api_doc(summary=_l("Check myself out of a group viewing"), responses={200: answers.CheckedOut},
         errors=(403, 404, 409))
@api_login_required
def check_out(group_id: int):
    gs, cls = service.get_group_class(group_id)
    if not perms.can_check_in(_me(), cls):
        raise Forbidden(_("Only learners of this class can check in to its group viewing."), code="not_in_class")
    return jsonify(jsonable(group.do_check_out(gs, _me().id, "self")))


@bp.post("/group-sessions/<int:group_id>/attendees")
@api_doc(summary=_l("Tick a learner of the class on the roster (a teacher without a phone)"), body=AttendeeBody,
         responses={201: answers.CheckedIn}, errors=(*_BODY_ERRORS, 403, 404, 409, 410))
@api_login_required
def tick_attendee(group_id: int):
    body = parse_json(AttendeeBody, max_bytes=1024)
    gs, cls = _run_group(group_id)
    learner = db.session.get(User, body.user_id)
    if learner is None or not perms.can_check_in(learner, cls):
        raise NotFound(_("No such learner in this class."), code="learner_not_found")
    return jsonify(jsonable(group.do_check_in(gs, learner, method="manager", by_id=_me().id))), 201


@bp.delete("/group-sessions/<int:group_id>/attendees/<int:user_id>")
@api_doc(summary=_l("Check an attendee out"), responses={200: answers.CheckedOut}, errors=(403, 404, 409))
@api_login_required
def remove_attendee(group_id: int, user_id: int):
    gs, _cls = _run_group(group_id)
    return jsonify(jsonable(group.do_check_out(gs, user_id, "manager")))


@bp.post("/group-sessions/<int:group_id>/end")
@api_doc(summary=_l("End a group viewing: its playback ends and everyone is checked out"), body=_Body,
         body_required=False, responses={200: answers.GroupEnded}, errors=(*_BODY_ERRORS, 403, 404, 410))
@api_login_required
def end_group(group_id: int):
    gs, _cls = _run_group(group_id)
    return jsonify(jsonable({"attendees": group.do_end_group(gs)}))
