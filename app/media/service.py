"""Media use cases: store uploads, run transcode jobs, retry them, sweep what was left behind.

The job's state lives in the app's database (TranscodeJob, mirrored on
MediaAsset); the queue (Huey) only carries job ids. A job writes into its own
scratch folder, moves each output into storage once it is whole and only then
records it, so a killed job leaves no half-made file behind a row. A running
job whose heartbeat stopped was killed: the sweeper marks it failed, removes
what it published, and it can be retried.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from app.common import clock, tus
from app.common.db import write_transaction
from app.common.exceptions import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound
from app.common.numbers import human_bytes
from app.courses.models import Course, Lesson
from app.extensions import db
from app.media import permissions
from app.media.models import MediaAsset, MediaRendition, TranscodeJob, UploadSession
from app.media.probe import ProbeError, Tools, probe_file, reason_message
from app.media.storage import LocalStorage, asset_key, get_storage, new_uid, sha256_file
from app.media.transcode import Cancelled, Output, Settings, convert_to_pdf, transcode, which_soffice

log = logging.getLogger(__name__)

#: names an upload may have; the content decides in the end, this only stops obvious mistakes early
ALLOWED_EXTENSIONS = frozenset((
    "mp4 m4v mov mkv webm avi wmv asf mpg mpeg vob ts mts m2ts flv f4v rm rmvb 3gp 3g2 ogv "
    "mp3 m4a aac wav flac wma amr ogg oga opus "
    "pdf doc docx ppt pptx odt odp"
).split())

DEFAULTS = {
    "MEDIA_UPLOAD_TTL_S": 24 * 3600,
    "MEDIA_JOB_STALE_S": 180,
    "MEDIA_SCRATCH_TTL_S": 24 * 3600,
    "MEDIA_PROGRESS_INTERVAL_S": 1.0,
}


TooLarge = tus.TooLarge


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_type"


class InsufficientStorage(DomainError):
    status = 507
    code = "insufficient_storage"


def _config(name: str):
    value = current_app.config.get(name)
    return DEFAULTS.get(name) if value in (None, "") else value


# --------------------------------------------------------------------------------------------- reads

def get_asset(media_id: int) -> MediaAsset | None:
    return db.session.get(MediaAsset, media_id)


def get_lesson_asset(lesson: Lesson) -> MediaAsset | None:
    """Return the lesson's current asset: the newest playable one (None if none is)."""
    assets = db.session.execute(
        select(MediaAsset).where(MediaAsset.lesson_id == lesson.id, MediaAsset.state.in_(("done", "running")))
        .order_by(MediaAsset.id.desc())
    ).scalars()
    return next((asset for asset in assets if asset.is_playable), None)


def get_course_assets(course: Course) -> list[MediaAsset]:
    return list(db.session.execute(
        select(MediaAsset).where(MediaAsset.course_id == course.id).order_by(MediaAsset.id.desc())
    ).scalars())


def get_course(course_id: int | None) -> Course | None:
    return db.session.get(Course, course_id) if course_id else None


def get_lesson(lesson_id: int | None) -> Lesson | None:
    return db.session.get(Lesson, lesson_id) if lesson_id else None


def asset_status(asset: MediaAsset) -> dict:
    """Return what staff see of an asset: its job's state and what it produced so far."""
    job = asset.latest_job
    return {
        "media_id": asset.id,
        "job_id": job.id if job else None,
        "course_id": asset.course_id,
        "lesson_id": asset.lesson_id,
        "filename": asset.source_filename,
        "kind": asset.kind,
        "state": asset.state,
        "progress": round(asset.progress or 0.0, 3),
        "error": reason_message(asset.error_code) or None,
        "error_code": asset.error_code,
        "error_detail": asset.error_detail,
        "attempt": job.attempt if job else 0,
        "duration_s": asset.duration_s,
        "width": asset.width,
        "height": asset.height,
        "content_type": asset.content_type,
        "size_bytes": asset.source_size_bytes,
        "checksum": asset.source_checksum,
        "is_playable": asset.is_playable,
        "renditions": [
            {"label": r.label, "width": r.width, "height": r.height, "bitrate": r.bitrate,
             "size_bytes": r.size_bytes, "checksum": r.checksum, "content_type": r.content_type,
             "duration_s": r.duration_s}
            for r in sorted(asset.renditions, key=lambda r: (r.height, r.bitrate))
        ],
        "has_poster": asset.poster_key is not None,
        "created_at": asset.created_at.isoformat() if asset.created_at else None,
    }


# ------------------------------------------------------------------------------------------- checks

def check_can_upload(user, course_id: int | None, lesson_id: int | None) -> tuple[Course, Lesson | None]:
    """Return the course (and lesson) an upload goes to, if the user is its staff."""
    course = get_course(course_id)
    if course is None:
        raise NotFound(_("No such course."), code="course_id")
    if not permissions.can_manage_media(user, course):
        raise Forbidden(_("Only the course's staff may upload its media."))
    lesson = None
    if lesson_id:
        lesson = get_lesson(lesson_id)
        if lesson is None or not permissions.can_attach_media(user, lesson, course):
            raise Invalid(_("The lesson does not belong to this course."), code="lesson_id")
    return course, lesson


def check_upload_size(size_bytes: int | None) -> int:
    """Refuse a declared size that is missing, empty, over MAX_UPLOAD_BYTES or beyond the free disk."""
    if size_bytes is None or size_bytes < 0:
        raise Invalid(_("Say how large the file is (Upload-Length)."), code="size")
    if size_bytes == 0:
        raise Invalid(reason_message("empty"), code="empty")
    limit = int(current_app.config.get("MAX_UPLOAD_BYTES") or 0)
    if limit and size_bytes > limit:
        raise TooLarge(_("The file is %(size)s; the largest upload allowed is %(limit)s.",
                         size=human_bytes(size_bytes), limit=human_bytes(limit)))
    root = Path(current_app.config["MEDIA_ROOT"])
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if size_bytes * 2 + 256 * 1024 * 1024 > free:  # the source, its renditions, and a margin
        raise InsufficientStorage(_("The server does not have enough free disk space for this file. "
                                    "Tell the site administrator."))
    return size_bytes


def check_filename(filename: str | None) -> str:
    """Refuse names whose extension says the file is certainly not media (the content decides the rest)."""
    name = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:255]
    if "." in name:
        extension = name.rsplit(".", 1)[-1].lower()
        if extension and extension not in ALLOWED_EXTENSIONS:
            if extension in ("m3u8", "m3u"):
                raise UnsupportedType(reason_message("playlist"))
            raise UnsupportedType(reason_message("unknown_type"))
    return name


# --------------------------------------------------------------------------------- creating assets

def do_store_source(stream: BinaryIO) -> tuple[str, str, int, str]:
    """Copy an uploaded stream into storage as a new asset's source; return (uid, key, size, sha256)."""
    uid = new_uid()
    key = asset_key(uid, "source")
    stored = get_storage().write_stream(stream, key)
    return uid, key, stored.size_bytes, stored.checksum


def do_create_asset(user, course: Course, lesson: Lesson | None, *, uid: str, source_key: str, filename: str,
                    size_bytes: int, checksum: str | None) -> tuple[MediaAsset, TranscodeJob]:
    """Record a stored source and queue its first job (inside the caller's transaction)."""
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id if lesson else None,
                       created_by_id=user.id if user else None, source_key=source_key, source_filename=filename,
                       source_size_bytes=size_bytes, source_checksum=checksum, state="queued")
    job = TranscodeJob(asset=asset, state="queued", attempt=1)
    db.session.add_all([asset, job])
    db.session.flush()
    return asset, job


def check_retry(user, asset: MediaAsset) -> None:
    """Allow a retry of a failed job, or of one whose worker went silent (killed)."""
    if not permissions.can_retry_media(user, asset):
        raise Forbidden(_("Only the course's staff may retry its media."))
    job = asset.latest_job
    if job is None or job.state == "failed":
        return
    if job.state == "done":
        raise Conflict(_("This media is ready; there is nothing to retry."), code="state")
    if not _is_stale(job, clock.now()):
        raise Conflict(_("This media is still being processed."), code="state")


def do_retry(asset: MediaAsset) -> TranscodeJob:
    """Queue a new attempt for the asset (inside the caller's transaction)."""
    previous = asset.latest_job
    if previous is not None and previous.state in ("queued", "running"):
        _mark_failed(previous, "worker_lost", "the worker stopped answering")
    _drop_outputs(asset)
    job = TranscodeJob(asset=asset, state="queued", attempt=(previous.attempt + 1) if previous else 1)
    db.session.add(job)
    asset.state, asset.progress, asset.error_code, asset.error_detail = "queued", 0.0, None, None
    db.session.flush()
    return job


# ------------------------------------------------------------------------------------- resumable uploads

def do_start_upload(user, course: Course, lesson: Lesson | None, filename: str, size_bytes: int) -> UploadSession:
    """Open a resumable upload (inside the caller's transaction) with an empty partial file."""
    now = clock.now()
    upload = UploadSession(id=new_uid(), user_id=user.id, course_id=course.id,
                           lesson_id=lesson.id if lesson else None, filename=filename, size_bytes=size_bytes,
                           offset_bytes=0, created_at=now, updated_at=now,
                           expires_at=now + timedelta(seconds=int(_config("MEDIA_UPLOAD_TTL_S"))))
    tus.start_file(get_storage().upload_path(upload.id))
    db.session.add(upload)
    db.session.flush()
    return upload


def get_upload(user, upload_id: str) -> UploadSession:
    """Return the user's own upload; NotFound for anyone else's, Gone once it expired or was swept."""
    upload = db.session.get(UploadSession, upload_id) if len(upload_id) == 32 else None
    if upload is None or upload.user_id != user.id:
        raise NotFound(_("No such upload."))
    if not upload.is_complete and upload.expires_at <= clock.now():
        raise Gone(_("This upload expired; start it again."))
    return upload


def upload_offset(upload: UploadSession) -> int:
    """Return the bytes received, as the partial file on disk says (the truth after a crash)."""
    if upload.is_complete:
        return upload.size_bytes
    return tus.offset_of(get_storage().upload_path(upload.id))


def do_append_upload(upload: UploadSession, offset: int, stream: BinaryIO, length: int | None) -> int:
    """Append the request body at offset; return the new offset. Bytes read before a drop are kept.

    Conflict (409) when offset is not where the upload stands or another request is writing it.
    """
    if upload.is_complete:
        raise Conflict(_("This upload is already complete."), code="offset")
    new_offset = tus.append(get_storage().upload_path(upload.id), offset, upload.size_bytes, stream, length,
                            label=upload.id)
    now = clock.now()
    with write_transaction():
        row = db.session.get(UploadSession, upload.id)
        row.offset_bytes = new_offset
        row.updated_at = now
        row.expires_at = now + timedelta(seconds=int(_config("MEDIA_UPLOAD_TTL_S")))
    return new_offset


def do_finish_upload(user, upload: UploadSession) -> tuple[MediaAsset, TranscodeJob] | None:
    """Turn a complete upload into an asset and a queued job; None while bytes are missing.

    Safe to call twice or concurrently (the partial file is locked while it moves).
    The caller enqueues the job after this returns (the rows are committed here).
    """
    storage = get_storage()
    path = storage.upload_path(upload.id)
    if upload.is_complete or not path.exists():
        return None
    with tus.claim_complete(path, upload.size_bytes) as handle:
        if handle is None:
            return None  # bytes missing, or another request is finishing or writing it
        course, lesson = check_can_upload(user, upload.course_id, upload.lesson_id)
        uid = new_uid()
        key = asset_key(uid, "source")
        stored = storage.put_file(path, key, move=True, with_checksum=False)  # the job hashes it
        try:
            with write_transaction():
                row = db.session.get(UploadSession, upload.id)
                if row.is_complete:
                    raise Conflict(_("This upload is already complete."), code="offset")
                asset, job = do_create_asset(user, course, lesson, uid=uid, source_key=key, filename=row.filename,
                                             size_bytes=stored.size_bytes, checksum=None)
                row.completed_at = clock.now()
                row.offset_bytes = row.size_bytes
                row.media_asset_id = asset.id
        except BaseException:
            os.replace(storage.path(key), path)  # put the bytes back: the upload can finish again
            raise
    return asset, job


def do_delete_upload(upload: UploadSession) -> None:
    """Abandon an unfinished upload (tus termination)."""
    get_storage().upload_path(upload.id).unlink(missing_ok=True)
    with write_transaction():
        row = db.session.get(UploadSession, upload.id)
        if row is not None and not row.is_complete:
            db.session.delete(row)


# ------------------------------------------------------------------------------------------ the job

def _is_stale(job: TranscodeJob, now: datetime) -> bool:
    seen = job.heartbeat_at or job.started_at or job.created_at
    return seen is None or (now - seen).total_seconds() > int(_config("MEDIA_JOB_STALE_S"))


def _mark_failed(job: TranscodeJob, code: str, detail: str) -> None:
    now = clock.now()
    job.state, job.error_code, job.error_detail, job.finished_at = "failed", code, (detail or "")[:4000], now
    asset = job.asset
    if asset.latest_job is job:
        asset.state, asset.error_code, asset.error_detail = "failed", code, job.error_detail


def _drop_outputs(asset: MediaAsset) -> None:
    """Remove the renditions and pictures an attempt published (rows first, then files)."""
    keys = [r.storage_key for r in asset.renditions] + [k for k in (asset.poster_key, asset.thumbnail_key) if k]
    if asset.pdf_key and asset.pdf_key != asset.source_key:  # a conversion, not the source itself
        keys.append(asset.pdf_key)
    db.session.execute(delete(MediaRendition).where(MediaRendition.asset_id == asset.id))
    db.session.expire(asset, ["renditions"])
    asset.poster_key = asset.thumbnail_key = asset.pdf_key = None
    asset.page_count = None
    storage = get_storage()
    for key in keys:
        storage.delete(key)


@dataclass
class _JobContext:
    job_id: int
    asset_id: int
    storage: LocalStorage
    interval_s: float = 1.0
    last_beat: float = -1e9
    published: list[str] = field(default_factory=list)


def _beat(ctx: _JobContext, progress: float | None = None, force: bool = False) -> None:
    """Record progress and a sign of life, at most once an interval; stop if the job was taken from us."""
    now_mono = time.monotonic()
    if not force and now_mono - ctx.last_beat < ctx.interval_s:
        return
    ctx.last_beat = now_mono
    with write_transaction():
        job = db.session.get(TranscodeJob, ctx.job_id)
        if job is None or job.state != "running":
            raise Cancelled()
        job.heartbeat_at = clock.now()
        if progress is not None:
            job.progress = round(min(max(progress, 0.0), 1.0), 4)
            job.asset.progress = job.progress


def _publish(ctx: _JobContext, output: Output) -> Path:
    """Move a whole rendition into storage, then record it: the row never points at a partial file."""
    asset = db.session.get(MediaAsset, ctx.asset_id)
    extension = "m4a" if output.content_type == "audio/mp4" else "mp4"
    key = asset_key(asset.uid, f"{output.label}.{extension}")
    stored = ctx.storage.put_file(output.path, key)
    with write_transaction():
        job = db.session.get(TranscodeJob, ctx.job_id)
        if job is None or job.state != "running":
            raise Cancelled()
        db.session.execute(delete(MediaRendition).where(MediaRendition.asset_id == ctx.asset_id,
                                                        MediaRendition.label == output.label))
        db.session.add(MediaRendition(
            asset_id=ctx.asset_id, label=output.label, width=output.width, height=output.height,
            bitrate=output.bitrate, storage_key=key, size_bytes=stored.size_bytes, checksum=stored.checksum,
            content_type=output.content_type, duration_s=output.duration_s,
        ))
        job.heartbeat_at = clock.now()
    ctx.published.append(key)
    return ctx.storage.path(key)


def do_run_transcode_job(job_id: int) -> str:
    """Probe and transcode the job's asset; return the job's final state. Runs in the worker."""
    now = clock.now()
    with write_transaction():
        job = db.session.get(TranscodeJob, job_id)
        if job is None or job.state != "queued":
            return job.state if job else "missing"
        asset = job.asset
        if asset.latest_job is not job:
            job.state, job.error_code, job.finished_at = "failed", "superseded", now
            return job.state
        job.state, job.started_at, job.heartbeat_at, job.progress = "running", now, now, 0.0
        asset.state, asset.progress, asset.error_code, asset.error_detail = "running", 0.0, None, None
        asset_id, source_key, uid = asset.id, asset.source_key, asset.uid
    ctx = _JobContext(job_id=job_id, asset_id=asset_id, storage=get_storage(),
                      interval_s=float(_config("MEDIA_PROGRESS_INTERVAL_S")))
    work_name = f"job-{job_id}"
    try:
        tools = Tools.resolve()
        settings = Settings.from_config(current_app.config)
        source = ctx.storage.path(source_key)
        checksum = sha256_file(source)
        _beat(ctx, 0.0, force=True)
        probe = probe_file(source, tools, timeout_s=settings.probe_timeout_s)
        final_key = asset_key(uid, f"source.{probe.extension}")
        if final_key != source_key:
            os.replace(source, ctx.storage.path(final_key))
            source = ctx.storage.path(final_key)
        size = probe.display_size
        with write_transaction():
            asset = db.session.get(MediaAsset, asset_id)
            asset.source_key, asset.source_checksum = final_key, checksum
            asset.kind, asset.content_type, asset.format_name = probe.kind, probe.content_type, probe.format_name[:80]
            asset.duration_s = probe.duration_s
            asset.width, asset.height = (size if size else (None, None))
        if probe.kind != "document":
            work = ctx.storage.work_dir(work_name)
            result = transcode(source, probe, work, settings=settings, tools=tools,
                               on_progress=lambda fraction: _beat(ctx, fraction),
                               on_output=lambda output: _publish(ctx, output))
            poster = ctx.storage.put_file(result.poster.path, asset_key(uid, "poster.jpg"))
            thumb = ctx.storage.put_file(result.thumbnail.path, asset_key(uid, "thumb.jpg"))
            ctx.published += [poster.key, thumb.key]
        else:
            poster = thumb = None
            pdf_key, page_count = _document_pdf(ctx, uid, final_key, source, probe, work_name)
        with write_transaction():
            job = db.session.get(TranscodeJob, job_id)
            if job.state != "running":
                raise Cancelled()
            asset = job.asset
            if probe.kind == "document":
                asset.pdf_key, asset.page_count = pdf_key, page_count
            job.state, job.progress, job.finished_at, job.heartbeat_at = "done", 1.0, clock.now(), clock.now()
            asset.state, asset.progress = "done", 1.0
            if poster is not None:
                asset.poster_key, asset.thumbnail_key = poster.key, thumb.key
            if asset.lesson_id:
                _update_lesson(asset)
        return "done"
    except ProbeError as exc:
        _fail(ctx, exc.code, exc.detail)
        return "failed"
    except Cancelled:
        _fail(ctx, "worker_lost", "the job was stopped", only_if_running=True)
        return "failed"
    except Exception as exc:  # a bug or the disk: record it so staff see a failed job, not a stuck one
        log.exception("media job %s failed", job_id)
        _fail(ctx, "transcode_failed", f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        ctx.storage.remove_work_dir(work_name)


def _document_pdf(ctx: _JobContext, uid: str, source_key: str, source: Path, probe, work_name: str
                  ) -> tuple[str | None, int | None]:
    """Return (storage key, page count) of the PDF the reader shows: the source itself, or its conversion.

    Slides and Word documents are converted with LibreOffice headless when it is
    installed; otherwise (None, None): the lesson offers the original as a download.
    """
    if probe.page_count:
        return source_key, probe.page_count
    soffice = which_soffice(current_app.config.get("SOFFICE_BINARY"))
    if soffice is None:
        log.info("media job %s: LibreOffice is not installed; %s stays a download", ctx.job_id, probe.format_name)
        return None, None
    _beat(ctx, 0.1, force=True)
    made, pages = convert_to_pdf(source, ctx.storage.work_dir(work_name), soffice,
                                 float(current_app.config.get("MEDIA_CONVERT_TIMEOUT_S") or 300))
    stored = ctx.storage.put_file(made, asset_key(uid, "document.pdf"))
    ctx.published.append(stored.key)
    return stored.key, pages


def _fail(ctx: _JobContext, code: str, detail: str, only_if_running: bool = False) -> None:
    db.session.rollback()
    with write_transaction():
        job = db.session.get(TranscodeJob, ctx.job_id)
        if job is None or (only_if_running and job.state != "running"):
            return
        _mark_failed(job, code, detail)
        if job.asset.latest_job is job:
            _drop_outputs(job.asset)
    for key in ctx.published:
        ctx.storage.delete(key)


def _update_lesson(asset: MediaAsset) -> None:
    """Give the lesson its duration from the probe, its kind and its source key."""
    lesson = db.session.get(Lesson, asset.lesson_id)
    if lesson is None:
        return
    lesson.kind = asset.kind
    lesson.media_key = asset.source_key
    if asset.kind in ("video", "audio") and asset.duration_s:
        lesson.duration_s = int(round(asset.duration_s))
    lesson.page_count = asset.page_count if asset.kind == "document" else None


# -------------------------------------------------------------------------------------------- sweeping

@dataclass
class SweepReport:
    expired_uploads: int = 0
    stray_files: int = 0
    stale_jobs: int = 0

    def as_dict(self) -> dict:
        return {"expired_uploads": self.expired_uploads, "stray_files": self.stray_files,
                "stale_jobs": self.stale_jobs}


def do_sweep(now: datetime | None = None) -> SweepReport:
    """Remove expired uploads and stray scratch files; fail jobs whose worker died."""
    now = now or clock.now()
    report = SweepReport()
    storage = get_storage()
    with write_transaction():
        expired = db.session.execute(
            select(UploadSession).where(UploadSession.completed_at.is_(None), UploadSession.expires_at <= now)
        ).scalars().all()
        for upload in expired:
            storage.upload_path(upload.id).unlink(missing_ok=True)
            db.session.delete(upload)
        report.expired_uploads = len(expired)
    with write_transaction():
        running = db.session.execute(select(TranscodeJob).where(TranscodeJob.state == "running")).scalars().all()
        live_work = set()
        for job in running:
            if _is_stale(job, now):
                _mark_failed(job, "worker_lost", "the worker stopped while converting (killed or crashed)")
                if job.asset.latest_job is job:
                    _drop_outputs(job.asset)
                report.stale_jobs += 1
            else:
                live_work.add(f"job-{job.id}")
        open_uploads = {u for u in db.session.execute(
            select(UploadSession.id).where(UploadSession.completed_at.is_(None))).scalars()}
    ttl = int(_config("MEDIA_SCRATCH_TTL_S"))
    for path, mtime in storage.scratch_entries():
        name = path.name
        if path.parent.name == "uploads":
            if name.endswith(".part") and name[:-5] in open_uploads:
                continue
            if now.timestamp() - mtime < ttl and name.endswith(".part"):
                continue  # a row may be about to appear (upload being created)
        elif name in live_work:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        report.stray_files += 1
    return report
