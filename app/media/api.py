"""JSON API of the media pipeline: uploads (multipart and tus), job state, retry.

POST /api/v1/media                 multipart `file`, `course_id`, optional `lesson_id` -> 202 {media_id, job_id}
GET  /api/v1/media/<id>            {state, progress, error, duration_s, renditions, ...}
POST /api/v1/media/<id>/retry      -> 202 {media_id, job_id}
GET  /api/v1/courses/<id>/media    every asset of a course (staff)
OPTIONS|POST /api/v1/uploads       tus: capabilities | create (Upload-Length, Upload-Metadata)
HEAD|PATCH|DELETE /api/v1/uploads/<id>   tus: offset | append at offset | abandon
GET  /api/v1/uploads/<id>          {offset, size_bytes, is_complete, media_id, job_id}
"""
from flask import Blueprint, current_app, jsonify, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.common.api import api_error, api_login_required
from app.common.bodies import body_limit
from app.common.db import write_transaction
from app.common.numbers import parse_int
from app.common.openapi import api_doc
from app.media import jobs, permissions, service
from app.media.answers import (CourseMedia, MediaAccepted, MediaForm, MediaStatus, TusCreateHeaders, TusHeaders,
                               TusPatchHeaders, UploadBytes, UploadOut, UploadPath)
from app.common import tus
from app.common.tus import TUS_EXTENSIONS, TUS_VERSION

bp = Blueprint(__name__.split(".")[1] + "_api", __name__, url_prefix="/api/v1")


def _int_field(value, name: str, required: bool) -> int | None:
    if value in (None, ""):
        if required:
            raise api_error(400, name, _("%(field)s is required.", field=name))
        return None
    number = parse_int(value, min_value=1)
    if number is None:
        raise api_error(400, name, _("%(field)s must be a whole number.", field=name))
    return number


def _staff_asset(media_id: int):
    asset = service.get_asset(media_id)
    if asset is None:
        raise api_error(404, "not_found", _("No such media."))
    if not permissions.can_view_media_status(current_user, asset):
        raise api_error(403, "forbidden", _("Only the course's staff may see this media."))
    return asset


def _accepted(asset, job):
    body = {"media_id": asset.id, "job_id": job.id, "state": asset.state,
            "status_url": url_for("media_api.media_status", media_id=asset.id)}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["status_url"]
    return response


# ------------------------------------------------------------------------------------ media and jobs

@bp.post("/media")
@api_doc(summary=_l("Upload a whole media file (multipart); probing and transcoding run in a job"),
         body=MediaForm, media_type="multipart/form-data", responses={202: MediaAccepted},
         errors=(400, 403, 404, 413, 415))
@api_login_required
@body_limit("MAX_UPLOAD_BYTES", extra_bytes=64 * 1024)  # the multipart envelope around the file
def create_media():
    """Upload a whole file in one multipart request (scripts); probing and transcoding run in a job."""
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise api_error(415, "file", _("Send the file as multipart/form-data in a field named 'file'."))
    course_id = _int_field(request.form.get("course_id"), "course_id", True)
    lesson_id = _int_field(request.form.get("lesson_id"), "lesson_id", False)
    course, lesson = service.check_can_upload(current_user, course_id, lesson_id)
    upload = request.files.get("file")
    if upload is None:
        raise api_error(400, "file", _("Send the file in a field named 'file'."))
    filename = service.check_filename(upload.filename)
    uid, key, size, checksum = service.do_store_source(upload.stream)
    try:
        if size == 0:
            raise api_error(400, "empty", service.reason_message("empty"))
        service.check_upload_size(size)
        with write_transaction():
            asset, job = service.do_create_asset(current_user, course, lesson, uid=uid, source_key=key,
                                                 filename=filename, size_bytes=size, checksum=checksum)
            asset_id, job_id = asset.id, job.id
    except BaseException:
        service.get_storage().delete(key)
        raise
    jobs.enqueue_transcode(job_id)
    return _accepted(service.get_asset(asset_id), job)


@bp.get("/media/<int:media_id>")
@api_doc(summary=_l("The state of a media file's job and what it produced (course staff)"),
         responses={200: MediaStatus}, errors=(403, 404))
@api_login_required
def media_status(media_id: int):
    """Return the state of an asset's job and what it produced."""
    response = jsonify(service.asset_status(_staff_asset(media_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/media/<int:media_id>/retry")
@api_doc(summary=_l("Retry a failed media job (course staff)"), responses={202: MediaAccepted},
         errors=(403, 404, 409))
@api_login_required
def retry_media(media_id: int):
    """Queue a new attempt for a failed (or killed) job."""
    asset = _staff_asset(media_id)
    service.check_retry(current_user, asset)
    with write_transaction():
        asset = service.get_asset(media_id)
        job = service.do_retry(asset)
        job_id = job.id
    jobs.enqueue_transcode(job_id)
    asset = service.get_asset(media_id)
    return _accepted(asset, asset.latest_job)


@bp.get("/courses/<int:course_id>/media")
@api_doc(summary=_l("Every media file of a course (course staff)"), responses={200: CourseMedia}, errors=(403, 404))
@api_login_required
def course_media(course_id: int):
    course = service.get_course(course_id)
    if course is None:
        raise api_error(404, "not_found", _("No such course."))
    if not permissions.can_manage_media(current_user, course):
        raise api_error(403, "forbidden", _("Only the course's staff may see its media."))
    response = jsonify({"media": [service.asset_status(a) for a in service.get_course_assets(course)]})
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------- tus

def _tus(response, upload=None):
    return tus.tus_headers(response, upload.expires_at if upload is not None and not upload.is_complete else None)


def _finish_headers(response, finished) -> None:
    if finished:
        asset, job = finished
        response.headers["Xueshi-Media-Id"] = str(asset.id)
        response.headers["Xueshi-Job-Id"] = str(job.id)


def _finish(upload):
    """Finish a complete upload: rows committed, then the job queued."""
    finished = service.do_finish_upload(current_user, upload)
    if finished:
        jobs.enqueue_transcode(finished[1].id)
    return finished


@bp.route("/uploads", methods=["OPTIONS"], provide_automatic_options=False)
@api_doc(summary=_l("tus: what this server supports (Tus-Version, Tus-Extension, Tus-Max-Size)"),
         responses={204: None}, is_public=True)
def tus_options():
    response = make_response("", 204)
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    limit = int(current_app.config.get("MAX_UPLOAD_BYTES") or 0)
    if limit:
        response.headers["Tus-Max-Size"] = str(limit)
    return _tus(response)


@bp.post("/uploads")
@api_doc(summary=_l("tus: start a resumable upload (Location names it)"), headers=TusCreateHeaders,
         responses={201: None}, errors=(400, 403, 404, 412, 413))
@api_login_required
def tus_create():
    """Create a resumable upload: Upload-Length and Upload-Metadata (filename, course_id, lesson_id)."""
    tus.check_version()
    meta = tus.read_metadata()
    size = tus.read_length()
    course_id = _int_field(meta.get("course_id"), "course_id", True)
    lesson_id = _int_field(meta.get("lesson_id"), "lesson_id", False)
    course, lesson = service.check_can_upload(current_user, course_id, lesson_id)
    filename = service.check_filename(meta.get("filename") or meta.get("name"))
    service.check_upload_size(size)
    with write_transaction():
        upload = service.do_start_upload(current_user, course, lesson, filename, size)
        upload_id = upload.id
    upload = service.get_upload(current_user, upload_id)
    response = make_response("", 201)
    response.headers["Location"] = url_for("media_api.tus_upload", upload_id=upload_id, _external=True)
    response.headers["Upload-Offset"] = "0"
    return _tus(response, upload)


@bp.route("/uploads/<upload_id>", methods=["GET", "HEAD"])
@api_doc(summary=_l("An upload's offset and the media it became"), path=UploadPath, responses={200: UploadOut},
         errors=(404, 410))
@api_doc(method="HEAD", summary=_l("tus: where an upload stands (Upload-Offset)"), path=UploadPath,
         responses={200: None}, errors=(404, 410))
@api_login_required
def tus_upload(upload_id: str):
    """HEAD: where the upload stands (tus). GET: the same as JSON, with the media it became."""
    upload = service.get_upload(current_user, upload_id)
    offset = service.upload_offset(upload)
    finished = None
    if offset == upload.size_bytes and not upload.is_complete:
        finished = _finish(upload)  # the bytes all arrived but the last PATCH did not get to finish
        upload = service.get_upload(current_user, upload_id)
    if request.method == "HEAD":
        response = make_response("", 200)
        response.headers["Upload-Offset"] = str(offset)
        response.headers["Upload-Length"] = str(upload.size_bytes)
        _finish_headers(response, finished)
        return _tus(response, upload)
    asset = service.get_asset(upload.media_asset_id) if upload.media_asset_id else None
    job = asset.latest_job if asset else None
    response = jsonify({"id": upload.id, "offset": offset, "size_bytes": upload.size_bytes,
                        "is_complete": upload.is_complete, "filename": upload.filename,
                        "media_id": asset.id if asset else None, "job_id": job.id if job else None,
                        "expires_at": upload.expires_at.isoformat()})
    return _tus(response, upload)


@bp.patch("/uploads/<upload_id>")
@api_doc(summary=_l("tus: append bytes at Upload-Offset"), path=UploadPath, headers=TusPatchHeaders,
         body=UploadBytes, media_type="application/offset+octet-stream", responses={204: None},
         errors=(400, 404, 409, 410, 412, 413, 415))
@api_login_required
@body_limit("MAX_UPLOAD_BYTES")  # tus-js-client sends CHUNK_BYTES; other clients may send it all at once
def tus_patch(upload_id: str):
    """Append the body at Upload-Offset; 409 when the offset is not where the upload stands."""
    offset = tus.read_patch_offset()
    upload = service.get_upload(current_user, upload_id)
    offset = service.do_append_upload(upload, offset, request.stream, request.content_length)
    upload = service.get_upload(current_user, upload_id)
    finished = _finish(upload) if offset == upload.size_bytes else None
    response = make_response("", 204)
    response.headers["Upload-Offset"] = str(offset)
    _finish_headers(response, finished)
    return _tus(response, service.get_upload(current_user, upload_id))


@bp.delete("/uploads/<upload_id>")
@api_doc(summary=_l("tus: abandon an unfinished upload"), path=UploadPath, headers=TusHeaders, responses={204: None},
         errors=(404, 409, 410, 412))
@api_login_required
def tus_delete(upload_id: str):
    """Abandon an unfinished upload (tus termination)."""
    tus.check_version()
    upload = service.get_upload(current_user, upload_id)
    if upload.is_complete:
        raise api_error(409, "offset", _("This upload is complete; it cannot be abandoned."))
    service.do_delete_upload(upload)
    return _tus(make_response("", 204))
