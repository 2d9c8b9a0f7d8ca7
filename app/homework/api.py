"""JSON API of homework (API.md "Homework"): assignments, submissions, grading, files, the class ZIP.

Beyond the contract, big files go up resumably with tus 1.0 (app/common/tus.py, as media's uploads):
POST /api/v1/assignments/<aid>/uploads (Upload-Length, Upload-Metadata `filename`) -> 201, Location
HEAD|GET|PATCH|DELETE /api/v1/homework-uploads/<id>   offset | {..., file} | append at offset | abandon
When the last byte arrives the file is checked by content as one sent with the form and becomes a file of
the learner's draft (Xueshi-Submission-Id, Xueshi-File-Id headers); a refused one answers 415 or 413.
"""
from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, jsonify, make_response, request, send_file, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.common import tus
from app.common.api import api_error, api_login_required, parse_json
from app.common.bodies import body_limit
from app.common.db import write_transaction
from app.common.numbers import query_int
from app.common.openapi import api_doc
from app.homework import permissions as perms, service
from app.homework.models import HomeworkUpload, Submission
from app.media.answers import TusHeaders, TusPatchHeaders, UploadBytes, UploadPath

bp = Blueprint("homework_api", __name__, url_prefix="/api/v1")

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class AssignmentOut(BaseModel):
    id: int
    title: str
    course_id: int | None
    class_id: int | None
    due_at: datetime
    late_until: datetime | None
    is_required: bool
    allowed_types: list[str] = Field(description="file kinds: documents, images, audio, video, archives")
    max_bytes: int
    max_files: int
    accepts_text: bool
    accepts_files: bool
    my_state: str | None = Field(description="not_started, draft, submitted, graded, returned; null for staff")


class AssignmentList(RootModel[list[AssignmentOut]]):
    pass


class FileOut(BaseModel):
    id: int
    name: str
    size_bytes: int
    type: str
    url: str


class VersionOut(BaseModel):
    id: int
    version: int
    state: Literal["draft", "submitted", "graded", "returned"]
    text: str
    files: list[FileOut]
    submitted_at: datetime | None
    is_late: bool
    score: int | None
    comment: str | None
    return_reason: str | None
    is_excellent: bool


class MySubmissions(BaseModel):
    latest: VersionOut | None
    history: list[VersionOut] = Field(description="every version, newest first (the latest included)")


class Created(BaseModel):
    id: int
    version: int
    state: str


class SubmissionForm(BaseModel):
    """multipart/form-data: `text`, `files` (repeated), `submit` ("true" submits; otherwise a draft)."""

    text: str | None = None
    files: list[bytes] | None = Field(default=None, json_schema_extra={"items": {"type": "string", "format": "binary"}})
    submit: Literal["true", "false"] | None = None


class ClassRow(BaseModel):
    id: int
    user_id: int
    display_name: str
    teacher_no: str | None
    version: int
    state: str
    submitted_at: datetime | None
    is_late: bool
    score: int | None
    is_excellent: bool


class ClassRows(RootModel[list[ClassRow]]):
    pass


class ClassQuery(BaseModel):
    class_id: Id = Field(description="the class")


class GradeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    score: Annotated[int, Field(ge=0, le=100)]
    comment: Annotated[str, Field(max_length=5000)] | None = None


class GradeOut(BaseModel):
    state: Literal["graded"]
    score: int


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: Annotated[str, Field(min_length=1, max_length=5000)]


class ReturnOut(BaseModel):
    state: Literal["returned"]


class RecommendBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    value: bool


class RecommendOut(BaseModel):
    is_excellent: bool


class BinaryFile(BaseModel):
    """The file's bytes (an attachment)."""


class HomeworkTusCreateHeaders(TusHeaders):
    upload_length: int = Field(alias="Upload-Length", ge=1, le=2**63 - 1, description="the file's size in bytes")
    upload_metadata: str = Field(alias="Upload-Metadata", description="tus metadata: filename (`key base64value`)")


class HomeworkUploadOut(BaseModel):
    id: str
    assignment_id: int
    filename: str
    offset: int
    size_bytes: int
    is_complete: bool
    submission_id: int | None = Field(description="the draft version the file joined, once complete")
    file: FileOut | None
    expires_at: datetime


def _me():
    return current_user._get_current_object()


def _iso(moment):
    return moment.isoformat() if moment else None


def _assignment(assignment_id: int):
    assignment = service.get_assignment(assignment_id)
    if assignment is None:
        raise api_error(404, "not_found", _("No such assignment."))
    me = _me()
    learner_class = service.get_learner_class(me, assignment.project_id)
    staff = service.get_staff_classes(me, assignment.project_id)
    if not perms.can_view_assignment(me, assignment, learner_class, staff):
        raise api_error(404, "not_found", _("No such assignment."))
    return assignment, learner_class


def _submission(submission_id: int) -> Submission:
    sub = service.get_submission(submission_id)
    if sub is None or not perms.can_view_submission(_me(), sub):
        raise api_error(404, "not_found", _("No such submission."))
    if not perms.can_grade(_me(), sub):
        raise api_error(403, "forbidden", _("Only the tutor of the learner's class grades this homework."))
    return sub


def _class(assignment):
    class_id = query_int("class_id", required=True, message=_("Add ?class_id=<id> of the class."))
    cls = service.get_class(class_id)
    if cls is None or not perms.is_for_learner_class(assignment, cls.id) or cls.project_id != assignment.project_id:
        raise api_error(404, "not_found", _("No such class."))
    return cls


def _version(sub: Submission) -> dict:
    return {"id": sub.id, "version": sub.version, "state": sub.state, "text": sub.text,
            "files": [{"id": f.id, "name": f.name, "size_bytes": f.size_bytes, "type": f.file_type,
                       "url": url_for("homework_api.submission_file", file_id=f.id)} for f in sub.files],
            "submitted_at": _iso(sub.submitted_at), "is_late": sub.is_late,
            "score": sub.score if sub.state == "graded" else None,
            "comment": sub.comment if sub.state == "graded" else None,
            "return_reason": sub.return_reason if sub.state == "returned" else None, "is_excellent": sub.is_excellent}


@bp.get("/projects/<int:project_id>/assignments")
@api_doc(summary=_l("The assignments of a project I learn in or staff"), responses={200: AssignmentList},
         errors=(404,))
@api_login_required
def project_assignments(project_id: int):
    me = _me()
    project = service.get_project(project_id)
    if project is None:
        raise api_error(404, "not_found", _("No such training project."))
    learner_class = service.get_learner_class(me, project.id)
    staff = service.get_staff_classes(me, project.id)
    assignments = [a for a in service.get_project_assignments(project)
                   if perms.can_view_assignment(me, a, learner_class, staff)]
    if not assignments and learner_class is None and not staff:
        from app.courses.permissions import can_view_project

        if not can_view_project(me, project):
            raise api_error(404, "not_found", _("No such training project."))
    mine = service.get_my_states(assignments, me.id) if learner_class else {}
    return jsonify([{
        "id": a.id, "title": a.title, "course_id": a.course_id, "class_id": a.class_id, "due_at": _iso(a.due_at),
        "late_until": _iso(a.late_until), "is_required": a.is_required, "allowed_types": list(a.kinds),
        "max_bytes": a.max_bytes, "max_files": a.max_files, "accepts_text": a.accepts_text,
        "accepts_files": a.accepts_files,
        "my_state": (mine[a.id].state if a.id in mine else "not_started")
        if perms.can_submit(me, a, learner_class) else None,
    } for a in assignments])


@bp.route("/assignments/<int:assignment_id>/submissions", methods=["GET", "POST"])
@api_doc(method="POST", summary=_l("Save my answer as a draft, or submit it (multipart: text, files, submit)"),
         body=SubmissionForm, media_type="multipart/form-data", responses={201: Created},
         errors=(400, 403, 404, 409, 413, 415))
@api_doc(method="GET", summary=_l("The latest handed-in version of each learner of a class (its tutor, class manager, "
                                  "admins above)"), query=ClassQuery, responses={200: ClassRows}, errors=(400, 403, 404))
@api_login_required
@body_limit("HOMEWORK_MAX_REQUEST_BYTES", extra_bytes=256 * 1024)
def submissions(assignment_id: int):
    """One URL, two methods (a second view on the same rule would answer 405 for ids out of range)."""
    if request.method == "GET":
        return _class_submissions(assignment_id)
    return _create_submission(assignment_id)


def _create_submission(assignment_id: int):
    me = _me()
    assignment, learner_class = _assignment(assignment_id)
    if not perms.can_submit(me, assignment, learner_class):
        raise api_error(403, "forbidden", _("Only the learners this assignment is for hand it in."))
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise api_error(415, "files", _("Send the answer as multipart/form-data (text, files, submit)."))
    uploads = [service.Upload(f.filename or "", f.stream) for f in request.files.getlist("files") if f]
    submit = request.form.get("submit")
    if submit not in (None, "", "true", "false"):
        raise api_error(400, "submit", _("submit is \"true\" or \"false\"."))
    text = request.form.get("text")
    with write_transaction():
        sub = service.check_save(me, service.get_assignment(assignment_id), learner_class, text=text,
                                 uploads=uploads, submit=submit == "true")
        answer = {"id": sub.id, "version": sub.version, "state": sub.state}
    response = jsonify(answer)
    response.status_code = 201
    return response


@bp.get("/assignments/<int:assignment_id>/submissions/me")
@api_doc(summary=_l("My latest version of an assignment, its grade, and every earlier version"),
         responses={200: MySubmissions}, errors=(404,))
@api_login_required
def my_submissions(assignment_id: int):
    assignment, _lc = _assignment(assignment_id)
    versions = service.get_versions(assignment, _me().id)
    history = [_version(v) for v in versions]
    return jsonify({"latest": history[0] if history else None, "history": history})


def _class_submissions(assignment_id: int):
    assignment, _lc = _assignment(assignment_id)
    cls = _class(assignment)
    if not perms.can_view_class_submissions(_me(), cls):
        raise api_error(404 if not perms.is_learner_of(_me(), cls.id) else 403, "not_found" if not
                        perms.is_learner_of(_me(), cls.id) else "forbidden", _("No such class."))
    return jsonify([{
        "id": s.id, "user_id": s.user_id, "display_name": s.user.display_name, "teacher_no": s.user.teacher_no,
        "version": s.version, "state": s.state, "submitted_at": _iso(s.submitted_at), "is_late": s.is_late,
        "score": s.score, "is_excellent": s.is_excellent,
    } for s in service.get_class_latest(assignment, cls.id)])


@bp.post("/submissions/<int:submission_id>/grade")
@api_doc(summary=_l("Grade a version 0–100 with a comment, or grade it again (the class's tutor)"), body=GradeBody,
         responses={200: GradeOut}, errors=(400, 403, 404, 409, 413, 415))
@api_login_required
def grade(submission_id: int):
    body = parse_json(GradeBody)
    _submission(submission_id)
    with write_transaction():
        sub = service.check_grade(_me(), service.get_submission(submission_id), body.score, body.comment)
        answer = {"state": sub.state, "score": sub.score}
    return jsonify(answer)


@bp.post("/submissions/<int:submission_id>/return")
@api_doc(summary=_l("Return a version for revision (需修改) with the reason (the class's tutor)"), body=ReturnBody,
         responses={200: ReturnOut}, errors=(400, 403, 404, 409, 413, 415))
@api_login_required
def return_submission(submission_id: int):
    body = parse_json(ReturnBody)
    _submission(submission_id)
    with write_transaction():
        sub = service.check_return(_me(), service.get_submission(submission_id), body.reason)
        answer = {"state": sub.state}
    return jsonify(answer)


@bp.post("/submissions/<int:submission_id>/recommend")
@api_doc(summary=_l("Recommend a graded version as excellent work, or withdraw it (the class's tutor)"),
         body=RecommendBody, responses={200: RecommendOut}, errors=(400, 403, 404, 409, 413, 415))
@api_login_required
def recommend(submission_id: int):
    body = parse_json(RecommendBody)
    _submission(submission_id)
    with write_transaction():
        sub = service.check_recommend(_me(), service.get_submission(submission_id), body.value)
        answer = {"is_excellent": sub.is_excellent}
    return jsonify(answer)


def _attachment_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/assignments/<int:assignment_id>/submissions.zip")
@api_doc(summary=_l("A ZIP of each learner's latest version, a folder per learner (the class's tutor and manager)"),
         query=ClassQuery, responses={200: BinaryFile}, errors=(400, 403, 404))
@api_login_required
def class_zip(assignment_id: int):
    assignment, _lc = _assignment(assignment_id)
    cls = _class(assignment)
    if not perms.can_download_class_zip(_me(), cls):
        if perms.can_view_class_submissions(_me(), cls):
            raise api_error(403, "forbidden", _("The class's tutor and class manager download its homework."))
        raise api_error(404, "not_found", _("No such class."))
    entries = service.zip_entries(service.get_class_latest(assignment, cls.id))
    storage = service.get_storage()
    response = Response(service.stream_zip(entries, storage), mimetype="application/zip")  # needs no context: entries are ready

    name = f"{assignment.title}-{cls.name}.zip"
    response.headers["Content-Disposition"] = service.content_disposition(name)
    return _attachment_headers(response)


@bp.get("/submission-files/<int:file_id>")
@api_doc(summary=_l("A file of a submission, as an attachment (its author, graders, the class when recommended)"),
         responses={200: BinaryFile}, errors=(404,))
@api_login_required
def submission_file(file_id: int):
    f = service.get_file(file_id)
    if f is None or not perms.can_view_submission(_me(), f.submission):
        raise api_error(404, "not_found", _("No such file."))
    storage = service.get_storage()
    try:
        path = storage.path(f.storage_key)
    except ValueError:
        raise api_error(404, "not_found", _("No such file."))
    if not path.is_file():
        raise api_error(404, "not_found", _("The file is missing from storage."))
    response = send_file(path, mimetype=f.mime_type, as_attachment=True, download_name=f.name, conditional=True,
                         etag=f.sha256[:32], max_age=0)
    response.headers["Content-Disposition"] = service.content_disposition(f.name)
    return _attachment_headers(response)


# ---------------------------------------------------------------- resumable (tus) uploads of a learner's files
def _my_upload(upload_id: str) -> HomeworkUpload:
    upload = service.get_upload(upload_id)
    if upload is None or not perms.can_use_upload(_me(), upload):
        raise api_error(404, "not_found", _("No such upload."))
    return service.check_upload_alive(upload)


def _tus(response, upload: HomeworkUpload | None = None):
    return tus.tus_headers(response, upload.expires_at if upload is not None and not upload.is_complete else None)


def _file_headers(response, added) -> None:
    if added is not None:
        response.headers["Xueshi-Submission-Id"] = str(added.submission_id)
        response.headers["Xueshi-File-Id"] = str(added.id)


@bp.post("/assignments/<int:assignment_id>/uploads")
@api_doc(summary=_l("tus: start a resumable upload of a file for my answer (Location names it)"),
         headers=HomeworkTusCreateHeaders, responses={201: None}, errors=(400, 403, 404, 409, 412, 413, 415))
@api_login_required
def tus_create(assignment_id: int):
    """Create a resumable upload: Upload-Length (within the assignment's limit), Upload-Metadata `filename`."""
    tus.check_version()
    me = _me()
    assignment, learner_class = _assignment(assignment_id)
    if not perms.can_submit(me, assignment, learner_class):
        raise api_error(403, "forbidden", _("Only the learners this assignment is for hand it in."))
    meta = tus.read_metadata()
    size = tus.read_length()
    service.do_sweep_uploads(me.id)
    with write_transaction():
        upload = service.check_start_upload(me, service.get_assignment(assignment_id), learner_class,
                                            meta.get("filename") or meta.get("name"), size)
        upload_id = upload.id
    upload = service.get_upload(upload_id)
    response = make_response("", 201)
    response.headers["Location"] = url_for("homework_api.tus_upload", upload_id=upload_id, _external=True)
    response.headers["Upload-Offset"] = "0"
    return _tus(response, upload)


@bp.route("/homework-uploads/<upload_id>", methods=["GET", "HEAD"])
@api_doc(summary=_l("A homework upload's offset and the file it became"), path=UploadPath,
         responses={200: HomeworkUploadOut}, errors=(403, 404, 409, 410, 413, 415))
@api_doc(method="HEAD", summary=_l("tus: where a homework upload stands (Upload-Offset)"), path=UploadPath,
         responses={200: None}, errors=(403, 404, 409, 410, 413, 415))
@api_login_required
def tus_upload(upload_id: str):
    """HEAD: where the upload stands (tus). GET: the same as JSON, with the file it became."""
    upload = _my_upload(upload_id)
    offset = service.upload_offset(upload)
    added = None
    if offset == upload.size_bytes and not upload.is_complete:
        added = service.do_finish_upload(_me(), upload)  # the bytes all arrived but the last PATCH did not finish
        upload = service.get_upload(upload_id)
    if request.method == "HEAD":
        response = make_response("", 200)
        response.headers["Upload-Offset"] = str(offset)
        response.headers["Upload-Length"] = str(upload.size_bytes)
        _file_headers(response, added)
        return _tus(response, upload)
    f = service.get_file(upload.submission_file_id) if upload.submission_file_id else None
    response = jsonify({
        "id": upload.id, "assignment_id": upload.assignment_id, "filename": upload.filename, "offset": offset,
        "size_bytes": upload.size_bytes, "is_complete": upload.is_complete, "submission_id": upload.submission_id,
        "file": {"id": f.id, "name": f.name, "size_bytes": f.size_bytes, "type": f.file_type,
                 "url": url_for("homework_api.submission_file", file_id=f.id)} if f else None,
        "expires_at": _iso(upload.expires_at)})
    return _tus(response, upload)


@bp.patch("/homework-uploads/<upload_id>")
@api_doc(summary=_l("tus: append bytes of a homework file at Upload-Offset"), path=UploadPath,
         headers=TusPatchHeaders, body=UploadBytes, media_type="application/offset+octet-stream",
         responses={204: None}, errors=(400, 403, 404, 409, 410, 412, 413, 415))
@api_login_required
@body_limit("HOMEWORK_MAX_REQUEST_BYTES")
def tus_patch(upload_id: str):
    """Append the body at Upload-Offset (409 anywhere else); the last bytes make it a file of my draft."""
    offset = tus.read_patch_offset()
    upload = _my_upload(upload_id)
    offset = service.do_append_upload(upload, offset, request.stream, request.content_length)
    upload = service.get_upload(upload_id)
    added = service.do_finish_upload(_me(), upload) if offset == upload.size_bytes else None
    response = make_response("", 204)
    response.headers["Upload-Offset"] = str(offset)
    _file_headers(response, added)
    return _tus(response, service.get_upload(upload_id))


@bp.delete("/homework-uploads/<upload_id>")
@api_doc(summary=_l("tus: abandon an unfinished homework upload"), path=UploadPath, headers=TusHeaders,
         responses={204: None}, errors=(404, 409, 410, 412))
@api_login_required
def tus_delete(upload_id: str):
    """Abandon an unfinished upload (tus termination)."""
    tus.check_version()
    service.do_delete_upload(_my_upload(upload_id))
    return _tus(make_response("", 204))
