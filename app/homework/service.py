"""Homework use cases: assignments, saving and submitting versions, grading, excellent work, the class ZIP."""
from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Iterable, Iterator

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from app.accounts.models import RoleAssignment, User
from app.classrooms.models import Class_
from app.common import clock, tus
from app.common.db import write_transaction
from app.common.exceptions import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound
from app.common.permissions import class_ids_with_role
from app.courses.models import Project
from app.extensions import db
from app.homework import files as filetypes, permissions as perms, rules
from app.homework.models import Assignment, HomeworkUpload, Submission, SubmissionEvent, SubmissionFile
from app.media.storage import HOMEWORK_UPLOADS_DIR, get_storage, new_uid
from app.notifications.service import notify

MAX_TEXT_CHARS = 50_000
MAX_COMMENT_CHARS = 5_000
NAME_MAX = 200


class FileRefused(DomainError):
    """A file whose content is not an allowed type (415)."""

    status = 415
    code = "files"


class FileTooLarge(DomainError):
    """A file over the size limit, or too many files (413)."""

    status = 413
    code = "files"


def kind_labels() -> dict[str, str]:
    return {"documents": _("Documents (PDF, Word, Excel, PowerPoint, WPS)"), "images": _("Images (JPG, PNG, GIF, WebP)"),
            "audio": _("Audio (MP3, M4A, WAV, OGG)"), "video": _("Video (MP4, MOV, WebM)"),
            "archives": _("ZIP archives")}


def state_labels() -> dict[str, str]:
    return {"not_started": _("Not started"), "draft": _("Draft"), "submitted": _("Submitted"),
            "graded": _("Graded"), "returned": _("Returned for revision")}


def action_labels() -> dict[str, str]:
    return {"saved": _("Draft saved"), "submitted": _("Submitted"), "graded": _("Graded"),
            "returned": _("Returned for revision"), "recommended": _("Recommended as excellent work"),
            "withdrawn": _("Recommendation withdrawn")}


def refusal_message(name: str, refusal: filetypes.Refusal) -> str:
    reason, detail = refusal.reason, refusal.detail
    messages = {
        "empty": _("“%(name)s” is empty.", name=name),
        "executable": _("“%(name)s” is a program, not a document: programs are not accepted.", name=name),
        "markup": _("“%(name)s” is a web page or SVG drawing, which could run scripts: save it as PDF or an image.",
                    name=name),
        "unknown": _("“%(name)s” is not a file type this assignment accepts (its content matches none).", name=name),
        "name_mismatch": _("“%(name)s” does not hold what its name says (its content is %(type)s): rename it or save it "
                           "in the right format.", name=name, type=detail.upper()),
        "broken_zip": _("“%(name)s” is a damaged archive or Office file.", name=name),
        "zip_traversal": _("“%(name)s” holds an entry with a path outside the archive (%(entry)s).", name=name,
                           entry=detail[:80]),
        "zip_symlink": _("“%(name)s” holds a link (%(entry)s), which is not accepted.", name=name, entry=detail[:80]),
        "zip_encrypted": _("“%(name)s” is protected by a password: hand it in without one.", name=name),
        "zip_entries": _("“%(name)s” holds too many entries.", name=name),
        "zip_bomb": _("“%(name)s” unpacks to far more than its size: it is not accepted.", name=name),
    }
    return messages.get(reason, messages["unknown"])


# ---------------------------------------------------------------- classes of a person in a project
def get_learner_class(user, project_id: int) -> Class_ | None:
    """The user's class in the project (a learner is in at most one class of a project)."""
    ids = class_ids_with_role(user, "learner")
    if not ids:
        return None
    return db.session.execute(select(Class_).where(Class_.id.in_(ids), Class_.project_id == project_id)
                              .order_by(Class_.id)).scalars().first()


def get_staff_classes(user, project_id: int | None = None) -> list[Class_]:
    ids = class_ids_with_role(user, "tutor", "class_manager")
    if not ids:
        return []
    stmt = select(Class_).where(Class_.id.in_(ids))
    if project_id is not None:
        stmt = stmt.where(Class_.project_id == project_id)
    return list(db.session.execute(stmt.order_by(Class_.name, Class_.id)).scalars())


def get_tutor_classes(user) -> list[Class_]:
    ids = class_ids_with_role(user, "tutor")
    return list(db.session.execute(select(Class_).where(Class_.id.in_(ids)).order_by(Class_.name)).scalars()) if ids else []


def get_project_classes(project_id: int) -> list[Class_]:
    return list(db.session.execute(select(Class_).where(Class_.project_id == project_id)
                                   .order_by(Class_.name, Class_.id)).scalars())


def get_project(project_id: int) -> Project | None:
    return db.session.get(Project, project_id)


def get_class(class_id: int) -> Class_ | None:
    return db.session.get(Class_, class_id)


# ---------------------------------------------------------------- assignments
def get_assignment(assignment_id: int) -> Assignment | None:
    return db.session.get(Assignment, assignment_id)


def get_project_assignments(project: Project, include_deleted: bool = False) -> list[Assignment]:
    stmt = select(Assignment).where(Assignment.project_id == project.id)
    if not include_deleted:
        stmt = stmt.where(Assignment.is_deleted.is_(False))
    return list(db.session.execute(stmt.order_by(Assignment.due_at, Assignment.id)).scalars())


def get_assignments_for_class(project: Project, class_id: int) -> list[Assignment]:
    return [a for a in get_project_assignments(project) if a.class_id in (None, class_id)]


def window_of(assignment: Assignment) -> rules.Window:
    return rules.Window(assignment.due_at, assignment.late_until)


def _clean_fields(fields: dict) -> dict:
    title = (fields.get("title") or "").strip()
    if not title:
        raise Invalid(_("Give the assignment a title."), code="title")
    kinds = [k for k in fields.get("kinds") or () if k in filetypes.KINDS]
    accepts_files = bool(fields.get("accepts_files"))
    accepts_text = bool(fields.get("accepts_text"))
    if not (accepts_files or accepts_text):
        raise Invalid(_("Accept a text answer, files or both."), code="accepts_text")
    if accepts_files and not kinds:
        raise Invalid(_("Choose at least one kind of file."), code="kinds")
    due_at, late_until = fields["due_at"], fields.get("late_until")
    if late_until is not None and late_until < due_at:
        raise Invalid(_("The late window must end after the due date."), code="late_until")
    max_mb = int(fields.get("max_mb") or 20)
    max_files = int(fields.get("max_files") or 5)
    return {"title": title[:120], "instructions": (fields.get("instructions") or "")[:MAX_TEXT_CHARS],
            "due_at": due_at, "late_until": late_until, "is_required": bool(fields.get("is_required")),
            "allowed_kinds": ",".join(k for k in filetypes.KINDS if k in kinds) or "documents",
            "max_bytes": max_mb * 1024 * 1024, "max_files": max_files, "accepts_text": accepts_text,
            "accepts_files": accepts_files, "is_returnable": bool(fields.get("is_returnable"))}


def do_create_assignment(project: Project, actor: User, *, course_id: int | None, class_id: int | None,
                         **fields) -> Assignment:
    assignment = Assignment(project_id=project.id, course_id=course_id, class_id=class_id, created_by_id=actor.id,
                            **_clean_fields(fields))
    db.session.add(assignment)
    db.session.flush()
    return assignment


def do_update_assignment(assignment: Assignment, **fields) -> Assignment:
    for key, value in _clean_fields(fields).items():
        setattr(assignment, key, value)
    assignment.is_deleted = bool(fields.get("is_deleted"))
    return assignment


# ---------------------------------------------------------------- a learner's versions
def get_versions(assignment: Assignment, user_id: int) -> list[Submission]:
    """Every version of the learner, newest first."""
    return list(db.session.execute(
        select(Submission).where(Submission.assignment_id == assignment.id, Submission.user_id == user_id)
        .options(selectinload(Submission.files)).order_by(Submission.version.desc())
    ).scalars())


def get_latest(assignment: Assignment, user_id: int) -> Submission | None:
    return db.session.execute(
        select(Submission).where(Submission.assignment_id == assignment.id, Submission.user_id == user_id)
        .order_by(Submission.version.desc()).limit(1)
    ).scalar_one_or_none()


def get_my_states(assignments: list[Assignment], user_id: int) -> dict[int, Submission]:
    """The latest version of each assignment of the learner."""
    if not assignments:
        return {}
    latest = (select(Submission.assignment_id, func.max(Submission.version).label("v"))
              .where(Submission.user_id == user_id, Submission.assignment_id.in_([a.id for a in assignments]))
              .group_by(Submission.assignment_id).subquery())
    rows = db.session.execute(
        select(Submission).join(latest, and_(Submission.assignment_id == latest.c.assignment_id,
                                             Submission.version == latest.c.v))
        .where(Submission.user_id == user_id)
    ).scalars()
    return {s.assignment_id: s for s in rows}


@dataclass
class Upload:
    """A file as it came in: the name the learner gave it and a seekable stream."""

    name: str
    stream: BinaryIO


def clean_name(raw: str | None, file_type: str | None = None) -> str:
    """The learner's file name without folders, control characters or odd width; never empty."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else name[:NAME_MAX]
    return name or ("file." + (file_type or "bin"))


def _stream_size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def check_files(assignment: Assignment, uploads: list[Upload], kept: int) -> list[tuple[Upload, str, filetypes.FileType]]:
    """Check every upload by its content against the assignment's kinds and limits, before anything is stored."""
    if uploads and not assignment.accepts_files:
        raise FileRefused(_("This assignment takes a text answer only."))
    if kept + len(uploads) > assignment.max_files:
        raise FileTooLarge(_("At most %(n)d files per submission.", n=assignment.max_files))
    allowed = filetypes.allowed_types(assignment.kinds)
    checked = []
    for upload in uploads:
        name = clean_name(upload.name)
        size = _stream_size(upload.stream)
        if size > assignment.max_bytes:
            raise FileTooLarge(_("“%(name)s” is %(size).1f MB; this assignment accepts files up to %(max).1f MB.",
                                 name=name, size=size / 1048576, max=assignment.max_bytes / 1048576))
        try:
            found = filetypes.identify(upload.stream, name)
        except filetypes.Refusal as refusal:
            raise FileRefused(refusal_message(name, refusal))
        if found.type not in allowed:
            labels = kind_labels()
            raise FileRefused(_("“%(name)s” is a %(type)s file; this assignment accepts: %(kinds)s.", name=name,
                                type=found.type.upper(), kinds="; ".join(labels[k] for k in assignment.kinds)))
        checked.append((upload, name, found))
    return checked


def _store(checked) -> list[dict]:
    """Store the checked files under generated keys; return the rows' fields."""
    storage = get_storage()
    stored = []
    try:
        for upload, name, found in checked:
            uid = new_uid()
            key = f"homework/{uid[:2]}/{uid}/file.{found.type}"
            upload.stream.seek(0)
            result = storage.write_stream(upload.stream, key)
            stored.append({"name": name, "storage_key": key, "size_bytes": result.size_bytes,
                           "file_type": found.type, "mime_type": found.mime, "sha256": result.checksum})
    except BaseException:
        for row in stored:
            storage.delete(row["storage_key"])
        raise
    return stored


def _event(submission: Submission, actor: User, action: str, from_state: str | None, note: str | None = None) -> None:
    db.session.add(SubmissionEvent(submission_id=submission.id, actor_id=actor.id, action=action, from_state=from_state,
                                   to_state=submission.state, score=submission.score, note=note, at=clock.now()))


def _removals(learner: User, assignment: Assignment, latest: Submission | None, file_ids: Iterable[int]) -> set[int]:
    """The files of the latest version to remove: the ids asked for, and the latest version's copies of files of an
    earlier version of the learner (a resumable upload may have started a new version since the page was shown)."""
    remove = set(file_ids)
    if not remove or latest is None:
        return remove
    stray = remove - {f.id for f in latest.files}
    if stray:
        keys = set(db.session.execute(
            select(SubmissionFile.storage_key).join(Submission, Submission.id == SubmissionFile.submission_id)
            .where(SubmissionFile.id.in_(stray), Submission.user_id == learner.id,
                   Submission.assignment_id == assignment.id)).scalars())
        remove |= {f.id for f in latest.files if f.storage_key in keys}
    return remove


def _check_editable(assignment: Assignment, latest: Submission | None, now: datetime) -> None:
    refusal = rules.can_edit(rules.Latest(latest.state if latest else None), window_of(assignment), now)
    if refusal == "graded":
        raise Conflict(_("This homework has been graded; it cannot be changed."), code="state")
    if refusal == "closed":
        raise Conflict(_("The deadline of this assignment has passed."), code="due_at")


def check_save(learner: User, assignment: Assignment, learner_class: Class_, *, text: str | None,
               uploads: list[Upload], remove_file_ids: Iterable[int] = (), submit: bool) -> Submission:
    """Save the learner's answer as a draft, or submit it; a new version when the latest is no longer a draft.

    Files are checked (content, kinds, limits) before anything changes; on a refusal nothing is stored.
    """
    now = clock.now()
    # PostgreSQL: the learner's row is the lock that makes two saves at once take turns (SQLite: BEGIN IMMEDIATE)
    db.session.execute(select(User.id).where(User.id == learner.id).with_for_update())
    latest = get_latest(assignment, learner.id)
    _check_editable(assignment, latest, now)
    text = (text or "") if assignment.accepts_text else ""
    if len(text) > MAX_TEXT_CHARS:
        raise Invalid(_("The answer is longer than %(n)d characters.", n=MAX_TEXT_CHARS), code="text")
    remove = _removals(learner, assignment, latest, remove_file_ids)
    if (submit and latest is not None and latest.state == "submitted" and not uploads and not remove
            and text == latest.text):
        return latest  # the same answer again (a double click, a retried request): no new version
    previous_files = [f for f in (latest.files if latest else []) if f.id not in remove]
    checked = check_files(assignment, uploads, len(previous_files))
    if submit and not text.strip() and not previous_files and not checked:
        raise Invalid(_("Write an answer or add a file before submitting."), code="text")
    stored = _store(checked)
    try:
        from_state = latest.state if latest else None
        if latest is None or rules.needs_new_version(rules.Latest(latest.state)):
            submission = Submission(assignment_id=assignment.id, user_id=learner.id, class_id=learner_class.id,
                                    version=(latest.version + 1) if latest else 1, state="draft", created_at=now)
            db.session.add(submission)
            db.session.flush()
            for f in previous_files:  # a new version starts from the files kept of the last one
                submission.files.append(SubmissionFile(name=f.name, storage_key=f.storage_key, size_bytes=f.size_bytes,
                                                       file_type=f.file_type, mime_type=f.mime_type, sha256=f.sha256))
            from_state = None
        else:
            submission = latest
            for f in list(submission.files):
                if f.id in remove:
                    submission.files.remove(f)
        submission.text = text
        submission.class_id = learner_class.id
        submission.updated_at = now
        for row in stored:
            submission.files.append(SubmissionFile(**row))
        if submit:
            submission.state = "submitted"
            submission.submitted_at = now
            submission.is_late = window_of(assignment).is_late(now)
        db.session.flush()
        _event(submission, learner, "submitted" if submit else "saved", from_state)
        db.session.flush()
    except BaseException:
        for row in stored:
            get_storage().delete(row["storage_key"])
        raise
    return submission


# ---------------------------------------------------------------- resumable (tus) uploads of a learner's files
#: how long an unfinished upload waits for its next bytes (HOMEWORK_UPLOAD_TTL_S)
UPLOAD_TTL_S = 24 * 3600


def _upload_ttl() -> timedelta:
    from flask import current_app

    return timedelta(seconds=int(current_app.config.get("HOMEWORK_UPLOAD_TTL_S") or UPLOAD_TTL_S))


def upload_path(upload_id: str):
    """The partial file of a homework upload (scratch space of the storage, never served)."""
    return get_storage().upload_path(upload_id, HOMEWORK_UPLOADS_DIR)


def _drop_upload(upload_id: str) -> None:
    """Forget an upload and its bytes (own transaction)."""
    tus.remove_file(upload_path(upload_id))
    with write_transaction():
        row = db.session.get(HomeworkUpload, upload_id)
        if row is not None and not row.is_complete:
            db.session.delete(row)


def do_sweep_uploads(user_id: int | None = None, now: datetime | None = None) -> int:
    """Remove unfinished uploads whose time ran out (of one learner, or everyone's); return how many (own transaction)."""
    now = now or clock.now()
    with write_transaction():
        stmt = select(HomeworkUpload).where(HomeworkUpload.completed_at.is_(None), HomeworkUpload.expires_at <= now)
        if user_id is not None:
            stmt = stmt.where(HomeworkUpload.user_id == user_id)
        expired = db.session.execute(stmt).scalars().all()
        for upload in expired:
            tus.remove_file(upload_path(upload.id))
            db.session.delete(upload)
    return len(expired)


def check_start_upload(learner: User, assignment: Assignment, learner_class: Class_, filename: str | None,
                       size_bytes: int | None) -> HomeworkUpload:
    """Open a resumable upload of one file for the learner's answer (inside the caller's transaction).

    What can be known before the bytes arrive is checked now, as the direct upload would: the assignment takes
    files, the size is within its limit, the name is of a type it accepts, one more file fits, the answer may
    still be changed. The content is checked when the last byte has arrived (do_finish_upload).
    """
    if not assignment.accepts_files:
        raise FileRefused(_("This assignment takes a text answer only."))
    if size_bytes is None:
        raise Invalid(_("Say how large the file is (Upload-Length)."), code="size")
    name = clean_name(filename)
    if size_bytes == 0:
        raise FileRefused(refusal_message(name, filetypes.Refusal("empty")))
    if size_bytes > assignment.max_bytes:
        raise FileTooLarge(_("“%(name)s” is %(size).1f MB; this assignment accepts files up to %(max).1f MB.",
                             name=name, size=size_bytes / 1048576, max=assignment.max_bytes / 1048576))
    endings = {e for t in filetypes.allowed_types(assignment.kinds) for e in filetypes.NAME_ENDINGS.get(t, (t,))}
    if filetypes.name_ending(name) not in endings:
        labels = kind_labels()
        raise FileRefused(_("“%(name)s” is not a file type this assignment accepts: %(kinds)s.", name=name,
                            kinds="; ".join(labels[k] for k in assignment.kinds)))
    now = clock.now()
    latest = get_latest(assignment, learner.id)
    _check_editable(assignment, latest, now)
    if len(latest.files if latest else []) + 1 > assignment.max_files:
        raise FileTooLarge(_("At most %(n)d files per submission.", n=assignment.max_files))
    upload = HomeworkUpload(id=new_uid(), user_id=learner.id, assignment_id=assignment.id, filename=name,
                            size_bytes=size_bytes, offset_bytes=0, created_at=now, updated_at=now,
                            expires_at=now + _upload_ttl())
    tus.start_file(upload_path(upload.id))
    db.session.add(upload)
    db.session.flush()
    return upload


def get_upload(upload_id: str) -> HomeworkUpload | None:
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
        return None
    return db.session.get(HomeworkUpload, upload_id)


def check_upload_alive(upload: HomeworkUpload) -> HomeworkUpload:
    """Gone (410) once an unfinished upload's time ran out or its bytes were swept."""
    if not upload.is_complete and (upload.expires_at <= clock.now() or not upload_path(upload.id).exists()):
        raise Gone(_("This upload expired; start it again."))
    return upload


def upload_offset(upload: HomeworkUpload) -> int:
    """The bytes received, as the partial file on disk says (the truth after a crash)."""
    return upload.size_bytes if upload.is_complete else tus.offset_of(upload_path(upload.id))


def do_append_upload(upload: HomeworkUpload, offset: int, stream: BinaryIO, length: int | None) -> int:
    """Append a PATCH body at offset; return the new offset (Conflict at any other offset, TooLarge past the end)."""
    if upload.is_complete:
        raise Conflict(_("This upload is already complete."), code="offset")
    new_offset = tus.append(upload_path(upload.id), offset, upload.size_bytes, stream, length, label=upload.id)
    now = clock.now()
    with write_transaction():
        row = db.session.get(HomeworkUpload, upload.id)
        if row is not None:
            row.offset_bytes = new_offset
            row.updated_at = now
            row.expires_at = now + _upload_ttl()
    return new_offset


def do_finish_upload(learner: User, upload: HomeworkUpload) -> SubmissionFile | None:
    """Turn a complete upload into a file of the learner's draft; None while bytes are missing or already done.

    The content is checked exactly as a file sent with the form (check_save): a refused file (disguised, a hostile
    archive, over the limits, the answer no longer editable) drops the upload and raises the refusal; nothing of
    the answer changes then. Safe to call twice or concurrently (the partial file is locked meanwhile).
    """
    path = upload_path(upload.id)
    if upload.is_complete or not path.exists():
        return None
    with tus.claim_complete(path, upload.size_bytes) as handle:
        if handle is None:
            return None
        try:
            with write_transaction():
                row = db.session.get(HomeworkUpload, upload.id)
                if row is None or row.is_complete:
                    return None
                assignment = get_assignment(row.assignment_id)
                learner_class = get_learner_class(learner, assignment.project_id) if assignment else None
                if assignment is None or not perms.can_submit(learner, assignment, learner_class):
                    raise Forbidden(_("Only the learners this assignment is for hand it in."))
                latest = get_latest(assignment, learner.id)
                submission = check_save(learner, assignment, learner_class, text=latest.text if latest else "",
                                        uploads=[Upload(row.filename, handle)], submit=False)
                added = submission.files[-1]
                row.completed_at = clock.now()
                row.offset_bytes = row.size_bytes
                row.submission_id = submission.id
                row.submission_file_id = added.id
        except DomainError:
            _drop_upload(upload.id)
            raise
    tus.remove_file(path)
    return db.session.get(SubmissionFile, added.id)


def do_delete_upload(upload: HomeworkUpload) -> None:
    """Abandon an unfinished upload (tus termination)."""
    if upload.is_complete:
        raise Conflict(_("This upload is complete; it cannot be abandoned."), code="offset")
    _drop_upload(upload.id)


# ---------------------------------------------------------------- grading
def get_submission(submission_id: int) -> Submission | None:
    return db.session.get(Submission, submission_id)


def check_grade(tutor: User, submission: Submission, score: int, comment: str | None) -> Submission:
    if not rules.can_grade(submission.state):
        raise Conflict(_("Only a submitted version can be graded."), code="state")
    value = rules.check_score(score)
    if value is None:
        raise Invalid(_("The score is a whole number from 0 to 100."), code="score")
    from_state = submission.state
    submission.state = "graded"
    submission.score = value
    submission.comment = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    submission.graded_by_id = tutor.id
    submission.graded_at = clock.now()
    submission.updated_at = submission.graded_at
    _event(submission, tutor, "graded", from_state, submission.comment)
    _notify([submission.user_id], "homework_graded",
            _("Your homework “%(title)s” was graded: %(score)d.", title=submission.assignment.title, score=value),
            submission)
    return submission


def check_return(tutor: User, submission: Submission, reason: str) -> Submission:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say what should be revised."), code="reason")
    if not rules.can_return(submission.state, submission.assignment.is_returnable):
        if not submission.assignment.is_returnable:
            raise Conflict(_("This assignment cannot be returned for revision."), code="state")
        raise Conflict(_("Only a submitted or graded version can be returned."), code="state")
    from_state = submission.state
    submission.state = "returned"
    submission.return_reason = reason[:MAX_COMMENT_CHARS]
    submission.score = None
    submission.is_excellent = False
    submission.graded_by_id = tutor.id
    submission.graded_at = clock.now()
    submission.updated_at = submission.graded_at
    _event(submission, tutor, "returned", from_state, submission.return_reason)
    _notify([submission.user_id], "homework_returned",
            _("Your homework “%(title)s” was returned for revision.", title=submission.assignment.title), submission)
    return submission


def check_recommend(tutor: User, submission: Submission, value: bool) -> Submission:
    if value and not rules.can_recommend(submission.state):
        raise Conflict(_("Only graded homework can be recommended."), code="state")
    if submission.is_excellent == value:
        return submission
    submission.is_excellent = value
    _event(submission, tutor, "recommended" if value else "withdrawn", submission.state)
    if value:
        _notify([submission.user_id], "homework_recommended",
                _("Your homework “%(title)s” was recommended as excellent work.", title=submission.assignment.title),
                submission)
    return submission


def _notify(user_ids: list[int], kind: str, text: str, submission: Submission) -> None:
    """Tell the learner, in the app (and by e-mail where set up); the rows join the caller's transaction."""
    from flask import url_for

    try:
        url = url_for("homework.assignment", assignment_id=submission.assignment_id)
    except RuntimeError:  # outside a request (flask demo): the same path
        url = f"/homework/{submission.assignment_id}"
    notify(user_ids, kind, text[:500], url)


def get_events(submission_ids: list[int]) -> list[SubmissionEvent]:
    if not submission_ids:
        return []
    return list(db.session.execute(
        select(SubmissionEvent).where(SubmissionEvent.submission_id.in_(submission_ids))
        .options(selectinload(SubmissionEvent.actor)).order_by(SubmissionEvent.at, SubmissionEvent.id)
    ).scalars())


# ---------------------------------------------------------------- lists for staff
def _latest_handed_in_stmt(class_ids: list[int], assignment_id: int | None = None):
    """The latest version that is not a draft, per learner and assignment, of these classes."""
    conditions = [Submission.class_id.in_(class_ids), Submission.state != "draft"]
    if assignment_id is not None:
        conditions.append(Submission.assignment_id == assignment_id)
    latest = (select(Submission.assignment_id, Submission.user_id, func.max(Submission.version).label("v"))
              .where(*conditions).group_by(Submission.assignment_id, Submission.user_id).subquery())
    return (select(Submission).join(latest, and_(Submission.assignment_id == latest.c.assignment_id,
                                                 Submission.user_id == latest.c.user_id,
                                                 Submission.version == latest.c.v))
            .join(Assignment, Assignment.id == Submission.assignment_id).where(Assignment.is_deleted.is_(False)))


def get_class_latest(assignment: Assignment, class_id: int) -> list[Submission]:
    return list(db.session.execute(
        _latest_handed_in_stmt([class_id], assignment.id).options(selectinload(Submission.user),
                                                                   selectinload(Submission.files))
        .order_by(Submission.submitted_at, Submission.id)
    ).scalars())


def get_queue(class_ids: list[int], state: str | None) -> list[Submission]:
    """The versions to grade, oldest first: the latest handed-in one of each learner (filtered by state)."""
    if not class_ids:
        return []
    stmt = _latest_handed_in_stmt(class_ids)
    if state:
        stmt = stmt.where(Submission.state == state)
    return list(db.session.execute(
        stmt.options(selectinload(Submission.user), selectinload(Submission.assignment), selectinload(Submission.class_))
        .order_by(Submission.submitted_at, Submission.id).limit(500)
    ).scalars())


def count_to_grade(class_id: int) -> int:
    """How many handed-in versions of the class wait for grading (the grading queue's default list)."""
    waiting = _latest_handed_in_stmt([class_id]).where(Submission.state == "submitted").subquery()
    return db.session.execute(select(func.count()).select_from(waiting)).scalar_one()


def get_excellent(assignment: Assignment, class_id: int) -> list[Submission]:
    return list(db.session.execute(
        select(Submission).where(Submission.assignment_id == assignment.id, Submission.class_id == class_id,
                                 Submission.is_excellent.is_(True))
        .options(selectinload(Submission.user), selectinload(Submission.files)).order_by(Submission.graded_at)
    ).scalars())


def get_file(file_id: int) -> SubmissionFile | None:
    return db.session.get(SubmissionFile, file_id)


def class_learner_count(class_id: int) -> int:
    return db.session.execute(select(func.count(RoleAssignment.id)).where(
        RoleAssignment.class_id == class_id, RoleAssignment.role == "learner")).scalar_one()


# ---------------------------------------------------------------- the class ZIP
def _safe_part(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "")
    text = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", "_", text).strip(" .")
    return text[:80] or "_"


def zip_entries(submissions: list[Submission]) -> list[tuple[str, str | None, bytes | None]]:
    """(path in the ZIP, storage key or None, bytes or None) for each learner's latest version."""
    entries = []
    used: set[str] = set()
    for sub in submissions:
        user = sub.user
        folder = _safe_part(f"{user.real_name or user.username}_{user.teacher_no or user.username}")
        base, n = folder, 2
        while folder in used:
            folder, n = f"{base}_{n}", n + 1
        used.add(folder)
        if sub.text:
            entries.append((f"{folder}/{_('answer')}_v{sub.version}.txt", None, sub.text.encode("utf-8")))
        names: set[str] = set()
        for f in sub.files:
            name = _safe_part(f.name)
            stem, dot, ext = name.rpartition(".")
            candidate, n = name, 2
            while candidate in names:
                candidate = f"{stem}({n}){dot}{ext}" if dot else f"{name}({n})"
                n += 1
            names.add(candidate)
            entries.append((f"{folder}/{candidate}", f.storage_key, None))
    return entries


class _Sink:
    """A write-only file for ZipFile that hands the written bytes to a generator (never the whole ZIP)."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def stream_zip(entries: list[tuple[str, str | None, bytes | None]], storage=None) -> Iterator[bytes]:
    """Yield a ZIP of the entries chunk by chunk, reading each stored file in 1 MiB pieces."""
    storage = storage or get_storage()
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as archive:
        for path, key, data in entries:
            info = zipfile.ZipInfo(path, date_time=clock.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.flag_bits |= 0x800  # the names are UTF-8
            with archive.open(info, "w", force_zip64=True) as out:
                if data is not None:
                    out.write(data)
                else:
                    try:
                        handle = storage.open(key)
                    except (OSError, ValueError):
                        continue
                    with handle:
                        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                            out.write(chunk)
                            chunk_out = sink.drain()
                            if chunk_out:
                                yield chunk_out
            chunk_out = sink.drain()
            if chunk_out:
                yield chunk_out
    rest = sink.drain()
    if rest:
        yield rest


# ---------------------------------------------------------------- for the class roster
def homework_by_learner(project_id: int, user_ids) -> dict[int, dict]:
    """{user_id: {"submitted": n, "graded": n}}: assignments of the project each learner handed in / got graded."""
    ids = [int(u) for u in user_ids]
    result = {u: {"submitted": 0, "graded": 0} for u in ids}
    if not ids:
        return result
    latest = (select(Submission.assignment_id, Submission.user_id, func.max(Submission.version).label("v"))
              .join(Assignment, Assignment.id == Submission.assignment_id)
              .where(Assignment.project_id == project_id, Assignment.is_deleted.is_(False),
                     Submission.user_id.in_(ids), Submission.state != "draft")
              .group_by(Submission.assignment_id, Submission.user_id).subquery())
    rows = db.session.execute(
        select(Submission.user_id, Submission.state).join(
            latest, and_(Submission.assignment_id == latest.c.assignment_id, Submission.user_id == latest.c.user_id,
                         Submission.version == latest.c.v))
    ).all()
    for user_id, state in rows:
        result[user_id]["submitted"] += 1
        if state == "graded":
            result[user_id]["graded"] += 1
    return result


def content_disposition(name: str) -> str:
    """An RFC 6266 attachment header: an ASCII fallback name and filename* for the real (Chinese) one."""
    from urllib.parse import quote

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'[^A-Za-z0-9._-]+', "_", ascii_name).strip("_") or "download"
    if "." in name and "." not in ascii_name:
        ascii_name += "." + name.rsplit(".", 1)[1].encode("ascii", "ignore").decode("ascii")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def fmt_size(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(1, round(size / 1024))} KB"


def learner_of(assignment: Assignment, user_id: int) -> User | None:
    return db.session.get(User, user_id)


def now() -> datetime:
    return clock.now()
