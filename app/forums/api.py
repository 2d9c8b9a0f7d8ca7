"""JSON API of the forums (API.md "Forums (研讨) and Q&A (答疑)")."""
from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.common.api import api_login_required, parse_json
from app.common.db import write_transaction
from app.common.exceptions import NotFound
from app.common.numbers import query_int
from app.common.openapi import api_doc
from app.courses.models import Project
from app.courses.permissions import can_view_project
from app.extensions import db
from app.common.bodies import body_limit
from app.forums import images, markup, permissions as perms, service
from app.forums.models import BODY_MAX, REASON_MAX, TITLE_MAX

bp = Blueprint("forums_api", __name__, url_prefix="/api/v1")

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _me():
    return current_user._get_current_object()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- models
class BoardOut(BaseModel):
    id: int
    kind: Literal["class", "course", "qa"]
    title: str
    class_id: int | None
    course_id: int | None


class BoardList(RootModel[list[BoardOut]]):
    pass


class AuthorOut(BaseModel):
    id: int | None
    display_name: str


class TopicItem(BaseModel):
    id: int
    board_id: int
    title: str
    author: AuthorOut
    reply_count: int
    is_pinned: bool
    is_locked: bool
    is_excellent: bool
    is_answered: bool
    last_post_at: datetime


class TopicPage(BaseModel):
    items: list[TopicItem]
    next: int | None = Field(description="the next page's cursor, null on the last page")


class TopicQuery(BaseModel):
    q: str | None = Field(None, description="words to find in titles and texts (Chinese included)")
    cursor: Id | None = None


class QueueQuery(BaseModel):
    cursor: Id | None = None


class NewTopic(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX * 4)]
    body: Annotated[str, Field(min_length=1, max_length=BODY_MAX * 2)]


class Created(BaseModel):
    id: int


class TopicCreated(Created):
    post_id: int


class PostOut(BaseModel):
    id: int
    author: AuthorOut
    body_html: str = Field(description="the Markdown rendered with raw HTML off and cleaned")
    created_at: datetime
    edited_at: datetime | None
    is_excellent: bool
    is_answer: bool
    is_expert_answer: bool
    is_deleted: bool
    quote_post_id: int | None


class TopicOut(BaseModel):
    id: int
    board_id: int
    title: str
    is_pinned: bool
    is_locked: bool
    is_excellent: bool
    is_answered: bool
    posts: list[PostOut]


class NewPost(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    body: Annotated[str, Field(min_length=1, max_length=BODY_MAX * 2)]
    quote_post_id: Id | None = None


class EditPost(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    body: Annotated[str, Field(min_length=1, max_length=BODY_MAX * 2)]


class Edited(BaseModel):
    id: int
    edited_at: datetime | None


class Deleted(BaseModel):
    is_deleted: bool


class Moderation(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    is_pinned: bool | None = None
    is_locked: bool | None = None
    is_excellent: bool | None = None
    board_id: Id | None = None


class Flag(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    value: bool


class Excellent(BaseModel):
    is_excellent: bool


class Accepted(BaseModel):
    is_answer: bool


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: Annotated[str, Field(max_length=REASON_MAX)] = ""


class ImageForm(BaseModel):
    """multipart/form-data: the image (PNG, JPEG, GIF or WebP)."""

    file: bytes


class ImageOut(BaseModel):
    url: str = Field(description="the image's address in the app, for Markdown: ![](url)")
    markdown: str


class PointEntryOut(BaseModel):
    post_id: int
    rule: Literal["topic", "reply", "excellent"]
    points: int
    created_at: datetime


class PointsOut(BaseModel):
    project_id: int
    points: int
    entries: list[PointEntryOut]


class PointsQuery(BaseModel):
    project_id: Id


# ---------------------------------------------------------------- shaping
def _author(user) -> dict:
    return {"id": user.id if user else None, "display_name": user.display_name if user else _("(deleted user)")}


def _topic_item(topic, counts) -> dict:
    return {"id": topic.id, "board_id": topic.board_id, "title": topic.title, "author": _author(topic.author),
            "reply_count": counts.get(topic.id, 0), "is_pinned": topic.is_pinned, "is_locked": topic.is_locked,
            "is_excellent": topic.is_excellent, "is_answered": topic.is_answered,
            "last_post_at": _iso(topic.last_post_at)}


def _post_out(post) -> dict:
    body = "" if post.is_deleted else str(markup.render_post(
        post.body_md, post.quote.author.display_name if post.quote and post.quote.author else None,
        post.quote.body_md if post.quote and not post.quote.is_deleted else None))
    return {"id": post.id, "author": _author(post.author), "body_html": body, "created_at": _iso(post.created_at),
            "edited_at": _iso(post.edited_at), "is_excellent": post.is_excellent, "is_answer": post.is_answer,
            "is_expert_answer": post.is_expert_answer, "is_deleted": post.is_deleted,
            "quote_post_id": post.quote_post_id}


def topic_out(topic) -> dict:
    return {"id": topic.id, "board_id": topic.board_id, "title": topic.title, "is_pinned": topic.is_pinned,
            "is_locked": topic.is_locked, "is_excellent": topic.is_excellent, "is_answered": topic.is_answered,
            "posts": [_post_out(p) for p in service.get_posts(topic)]}


def _query_text() -> str:
    return service.clean_query(request.args.get("q", ""))


# ---------------------------------------------------------------- routes
@bp.get("/projects/<int:project_id>/boards")
@api_doc(summary=_l("The forum boards of a project I may read"), responses={200: BoardList}, errors=(404,))
@api_login_required
def project_boards(project_id: int):
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_("No such training project."))
    with write_transaction():  # boards are made on first use
        boards = service.get_readable_boards(_me(), project)
        answer = [{"id": b.id, "kind": b.kind, "title": service.board_title(b), "class_id": b.class_id,
                   "course_id": b.course_id} for b in boards]
    if not answer and not can_view_project(_me(), project):
        raise NotFound(_("No such training project."))
    return jsonify(answer)


@bp.route("/boards/<int:board_id>/topics", methods=["GET", "POST"])
@api_doc(method="GET", summary=_l("The topics of a board, pinned first; q searches titles and texts"),
         query=TopicQuery, responses={200: TopicPage}, errors=(400, 404))
@api_doc(method="POST", summary=_l("Open a topic (Markdown)"), body=NewTopic, responses={201: TopicCreated},
         errors=(400, 403, 404, 413, 415))
@api_login_required
def board_topics(board_id: int):
    """GET: a page of the board's topics. POST: open a topic (one view: an id out of range is 404 for both)."""
    if request.method == "POST":
        return _create_topic(board_id)
    board = service.get_board(_me(), board_id)
    topics, next_page = service.list_topics([board], _query_text(), query_int("cursor", 1))
    counts = service.reply_counts(topics)
    return jsonify({"items": [_topic_item(t, counts) for t in topics], "next": next_page})


def _create_topic(board_id: int):
    body = parse_json(NewTopic)
    board = service.get_board(_me(), board_id)
    with write_transaction():
        topic, post = service.do_create_topic(_me(), board, body.title, body.body)
        answer = {"id": topic.id, "post_id": post.id}
    return jsonify(answer), 201


@bp.get("/topics/<int:topic_id>")
@api_doc(summary=_l("A topic and its posts (accepted answer first after the question)"), responses={200: TopicOut},
         errors=(404,))
@api_login_required
def topic(topic_id: int):
    return jsonify(topic_out(service.get_topic(_me(), topic_id)))


@bp.post("/topics/<int:topic_id>/posts")
@api_doc(summary=_l("Reply to a topic, optionally quoting one of its posts"), body=NewPost, responses={201: Created},
         errors=(400, 403, 404, 409, 413, 415))
@api_login_required
def reply(topic_id: int):
    body = parse_json(NewPost)
    topic_ = service.get_topic(_me(), topic_id)
    with write_transaction():
        post = service.do_reply(_me(), topic_, body.body, body.quote_post_id)
        answer = {"id": post.id}
    return jsonify(answer), 201


@bp.route("/posts/<int:post_id>", methods=["PATCH", "DELETE"])
@api_doc(method="PATCH", summary=_l("Edit a post (its author within the edit window, moderators)"), body=EditPost,
         responses={200: Edited}, errors=(400, 403, 404, 413, 415))
@api_doc(method="DELETE", summary=_l("Delete a post (kept for the audit)"), responses={200: Deleted}, errors=(403, 404))
@api_login_required
def post(post_id: int):
    """PATCH: edit the post. DELETE: soft-delete it (one view: an id out of range is 404 for both)."""
    if request.method == "DELETE":
        post_ = service.get_post(_me(), post_id)
        with write_transaction():
            service.do_delete_post(_me(), post_)
        return jsonify({"is_deleted": True})
    body = parse_json(EditPost)
    post_ = service.get_post(_me(), post_id)
    with write_transaction():
        post_ = service.do_edit_post(_me(), post_, body.body)
        answer = {"id": post_.id, "edited_at": _iso(post_.edited_at)}
    return jsonify(answer)


@bp.post("/topics/<int:topic_id>/moderation")
@api_doc(summary=_l("Pin, lock, move or mark a topic excellent (the board's moderators)"), body=Moderation,
         responses={200: TopicOut}, errors=(400, 403, 404, 413, 415))
@api_login_required
def moderate(topic_id: int):
    body = parse_json(Moderation)
    topic_ = service.get_topic(_me(), topic_id)
    with write_transaction():
        service.do_moderate_topic(_me(), topic_, is_pinned=body.is_pinned, is_locked=body.is_locked,
                                  is_excellent=body.is_excellent, board_id=body.board_id)
    return jsonify(topic_out(service.get_topic(_me(), topic_id)))


@bp.post("/posts/<int:post_id>/excellent")
@api_doc(summary=_l("Mark a post excellent or not (moderators)"), body=Flag, responses={200: Excellent},
         errors=(400, 403, 404, 409, 413, 415))
@api_login_required
def excellent(post_id: int):
    body = parse_json(Flag)
    post = service.get_post(_me(), post_id)
    with write_transaction():
        post = service.do_mark_excellent(_me(), post, body.value)
        answer = {"is_excellent": post.is_excellent}
    return jsonify(answer)


@bp.post("/posts/<int:post_id>/accept")
@api_doc(summary=_l("Accept an answer to my question"), responses={200: Accepted}, errors=(403, 404))
@api_login_required
def accept(post_id: int):
    post = service.get_post(_me(), post_id)
    with write_transaction():
        service.do_accept_answer(_me(), post)
    return jsonify({"is_answer": True})


@bp.post("/posts/<int:post_id>/report")
@api_doc(summary=_l("Report a post to the board's moderators"), body=ReportBody, responses={201: Created},
         errors=(400, 404, 413, 415))
@api_login_required
def report(post_id: int):
    body = parse_json(ReportBody)
    post = service.get_post(_me(), post_id)
    with write_transaction():
        row = service.do_report_post(_me(), post, body.reason)
        answer = {"id": row.id}
    return jsonify(answer), 201


@bp.get("/me/questions")
@api_doc(summary=_l("Unanswered questions of my courses, oldest first (experts)"), query=QueueQuery,
         responses={200: TopicPage}, errors=(400, 403))
@api_login_required
def question_queue():
    from app.common.exceptions import Forbidden

    if not perms.can_view_question_queue(_me()):
        raise Forbidden(_("The question queue is for experts."))
    cursor = query_int("cursor", 1)
    with write_transaction():
        topics, next_page = service.get_question_queue(_me(), cursor)
        counts = service.reply_counts(topics)
        answer = {"items": [_topic_item(t, counts) for t in topics], "next": next_page}
    return jsonify(answer)


@bp.get("/me/points")
@api_doc(summary=_l("My participation points (研讨积分) in a project, entry by entry"), query=PointsQuery,
         responses={200: PointsOut}, errors=(400, 404))
@api_login_required
def my_points():
    project_id = query_int("project_id", required=True, message=_("Add ?project_id=<id> of a training project."))
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_("No such training project."))
    entries = service.get_point_entries(project, _me().id)
    return jsonify({"project_id": project.id, "points": sum(e.points for e in entries),
                    "entries": [{"post_id": e.post_id, "rule": e.rule, "points": e.points,
                                 "created_at": _iso(e.created_at)} for e in entries]})


@bp.post("/forum-images")
@api_doc(summary=_l("Upload an image for a post (re-encoded, metadata removed); answers its Markdown"),
         body=ImageForm, media_type="multipart/form-data", responses={201: ImageOut},
         errors=(400, 403, 413, 415))
@api_login_required
@body_limit("FORUM_IMAGE_MAX_BYTES", extra_bytes=64 * 1024)
def upload_image():
    from app.common.exceptions import Forbidden
    from app.common.api import api_error

    if not perms.can_upload_image(_me()):
        raise Forbidden(_("Only the forums' members attach images."))
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise api_error(415, "file", _("Send the image as multipart/form-data in a field named 'file'."))
    upload = request.files.get("file")
    if upload is None:
        raise api_error(400, "file", _("Send the image in a field named 'file'."))
    url = images.check_store_image(upload.stream)
    return jsonify({"url": url, "markdown": f"![]({url})"}), 201
