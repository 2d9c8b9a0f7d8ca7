"""JSON API of watch-time tracking (TRACKING.md): playback sessions, heartbeats, presence, progress, audit."""
import io
import re
from datetime import date, datetime
from typing import Annotated, Literal

import structlog
from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.accounts.auth import NotSignedIn, get_api_credential, get_api_user_id, wsgi_api_credential
from app.common.api import ApiError, api_login_required, parse_json, unauthorized
from app.common.db import dbapi_connection
from app.common.exceptions import DomainError, Forbidden
from app.common.numbers import parse_int, query_int
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


class HeartbeatBody(_Body):
    seq: Annotated[int, Field(ge=1, le=2**31 - 1)]
    position_s: Seconds
    playing: bool
    visible: bool
    rate: Seconds
    event: Literal["tick", "play", "pause", "seek", "ended", "hidden", "shown"]
    from_position_s: Seconds | None = None


class PresenceBody(_Body):
    check_id: Annotated[str, Field(min_length=1, max_length=64)]
    answer: Annotated[str, Field(max_length=32)] | int


class CorrectionBody(_Body):
    delta_s: Annotated[float, Field(allow_inf_nan=False, ge=-1e7, le=1e7)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


_BODY_ERRORS = (400, 413, 415)


def _jsonable(value):
    """Turn a service result (datetimes, dates, lists, dicts) into JSON values."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


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
        current_user, body.project_id, body.lesson_id, request.user_agent.string if request.user_agent else ""
    )
    return jsonify(answer), 201


@bp.post("/playback/sessions/<int:session_id>/heartbeats")
@api_doc(summary=_l("Report the player's state (a heartbeat); the server credits the time"), body=HeartbeatBody,
         responses={200: HeartbeatOut}, errors=(*_BODY_ERRORS, 404, 409, 410))
def heartbeat(session_id: int):
    # The hot path: one pooled DBAPI connection outside the Session for the read and the writes; the
    # sign-in is checked with the read, instead of loading current_user.
    credential = get_api_credential()
    if credential is None:
        raise unauthorized()
    with dbapi_connection() as conn:
        try:
            body = parse_json(HeartbeatBody, max_bytes=1024)
        except ApiError:
            if get_api_user_id(conn) is None:  # 401 comes before 400
                raise unauthorized() from None
            raise
        try:
            answer = service.check_heartbeat(conn, credential, session_id, _heartbeat_input(body))
        except NotSignedIn:
            raise unauthorized() from None
    return jsonify(answer)


def _heartbeat_input(body: HeartbeatBody) -> service.HeartbeatInput:
    return service.HeartbeatInput(
        seq=body.seq,
        position_s=body.position_s,
        playing=body.playing,
        visible=body.visible,
        rate=body.rate,
        event=body.event,
        from_position_s=body.from_position_s,
    )


_HEARTBEAT_PATH = re.compile(r"/api/v1/playback/sessions/([1-9][0-9]{0,9})/heartbeats")
_MAX_HEARTBEAT_BYTES = 1024
_log = structlog.get_logger(__name__)


class HeartbeatFastPath:
    """WSGI middleware: credit a well-formed, signed-in heartbeat before Flask's request machinery.

    Heartbeats are most of the server's requests, and Flask's request context,
    routing, session and response objects cost about as much as crediting one.
    Only a heartbeat the route would answer 200 is answered here, by the same
    service call: a JSON body of at most 1 KiB that HeartbeatBody accepts, a
    Bearer token or a cookie sign-in with its CSRF token in a header, no query
    string (the page's sendBeacon), and an answer that is not an error. Anything
    else, or any failure, goes on to Flask with nothing written, and the route
    answers it. Off with HEARTBEAT_FAST_PATH = False.
    """

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "POST" and not environ.get("QUERY_STRING")
                and self.app.config.get("HEARTBEAT_FAST_PATH", True)):
            match = _HEARTBEAT_PATH.fullmatch(environ.get("PATH_INFO", ""))
            body = match and self._answer(environ, int(match[1]))
            if body:
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                          ("Vary", "Cookie")])
                return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, session_id: int) -> bytes | None:
        length = parse_int(environ.get("CONTENT_LENGTH"), min_value=1, max_value=_MAX_HEARTBEAT_BYTES)
        if length is None or environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # the route reads it again if it answers instead
        try:
            body = HeartbeatBody.model_validate_json(raw)
        except ValidationError:
            return None
        with self.app.app_context():
            credential = wsgi_api_credential(self.app, environ)
            if credential is None:
                return None
            try:
                with dbapi_connection() as conn:
                    answer = service.check_heartbeat(conn, credential, session_id, _heartbeat_input(body),
                                                     success_only=True)
            except (service.Declined, NotSignedIn, DomainError):
                return None  # an error answer: nothing was written, the route gives it
            except Exception:
                _log.exception("heartbeat_fast_path_failed", session_id=session_id)
                return None  # nothing was committed: the route tries again, and answers whatever happens
            return (self.app.json.dumps(answer, separators=(",", ":")) + "\n").encode()


@bp.record_once
def _install_fast_path(state) -> None:
    state.app.wsgi_app = HeartbeatFastPath(state.app.wsgi_app, state.app)


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
    return jsonify(_jsonable(service.get_project_progress(current_user, project)))


@bp.get("/me/lessons/<int:lesson_id>/audit")
@api_doc(summary=_l("The audit trail of one of my lessons"), query=ProjectQuery, responses={200: AuditOut},
         errors=(400, 403, 404))
@api_login_required
def my_lesson_audit(lesson_id: int):
    project = courses.get_project_for_learner(current_user, _project_id_arg())
    lesson = service.get_recorded_lesson(current_user, project, lesson_id)
    return jsonify(_jsonable(service.get_lesson_audit(current_user, project, lesson)))


# ----------------------------------------------------------------- staff: learners in their scope


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/progress")
@api_doc(summary=_l("A learner's progress (staff in their scope)"), responses={200: ProgressOut}, errors=(403, 404))
@api_login_required
def learner_progress(project_id: int, learner_id: int):
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    return jsonify(_jsonable(service.get_project_progress(learner, project)))


@bp.get("/projects/<int:project_id>/learners/<int:learner_id>/lessons/<int:lesson_id>/audit")
@api_doc(summary=_l("A learner's audit trail of a lesson (staff in their scope)"), responses={200: AuditOut},
         errors=(403, 404))
@api_login_required
def learner_lesson_audit(project_id: int, learner_id: int, lesson_id: int):
    project, learner = service.get_learner_in_project(current_user, project_id, learner_id)
    lesson = service.get_lesson_in_project(project, lesson_id)
    return jsonify(_jsonable(service.get_lesson_audit(learner, project, lesson)))


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
