"""Forum pages: a project's boards, a board's topics, a topic with its replies, editing, moderation, Q&A queue."""
from flask import Blueprint, abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.common import clock
from app.common.db import write_transaction
from app.common.exceptions import DomainError, NotFound
from app.common.forms import form_status
from app.common.numbers import parse_int, query_int
from app.courses.models import Project
from app.extensions import db
from app.common.bodies import body_limit
from app.forums import images, markup, permissions as perms, service
from app.forums.forms import EditForm, FlagForm, ImageForm, ModerateForm, ReplyForm, ReportForm, TopicForm

bp = Blueprint("forums", __name__)


def _me():
    return current_user._get_current_object()


def _or_404(getter, *args):
    try:
        return getter(_me(), *args)
    except NotFound:
        abort(404)


def _render_post(post) -> str:
    quote = getattr(post, "quote", None)
    return markup.render_post(post.body_md, quote.author.display_name if quote and quote.author else None,
                              quote.body_md if quote and not quote.is_deleted else None)


def _when(moment, tz: str | None = None) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz or "Asia/Shanghai")).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.context_processor
def _helpers():
    return {"render_post": _render_post, "board_title": service.board_title, "when": _when}


@bp.get("/forums")
@login_required
def index():
    with write_transaction():
        projects = service.get_forum_projects(_me())
    return render_template("forums/index.html", projects=projects)


@bp.get("/projects/<int:project_id>/forums")
@login_required
def project_boards(project_id: int):
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    with write_transaction():
        boards = service.get_readable_boards(_me(), project)
    if not boards:
        abort(404)
    q = service.clean_query(request.args.get("q"))
    topics, next_page, counts = [], None, {}
    if q:
        topics, next_page = service.list_topics(boards, q, query_int("page", 1))
        counts = service.reply_counts(topics)
    entries = service.get_point_entries(project, _me().id)
    return render_template("forums/boards.html", project=project, boards=boards, q=q, topics=topics,
                           next_page=next_page, counts=counts, page=query_int("page", 1), entries=entries,
                           rules=service.get_point_rules(project), points=sum(e.points for e in entries))


@bp.route("/boards/<int:board_id>", methods=["GET", "POST"])
@login_required
def board(board_id: int):
    board_ = _or_404(service.get_board, board_id)
    form = TopicForm()
    can_post = perms.can_create_topic(_me(), board_)
    if request.method == "POST":
        if not can_post:
            abort(403)
        if form.validate_on_submit():
            try:
                with write_transaction():
                    topic, _post = service.do_create_topic(_me(), board_, form.title.data, form.body.data)
                    topic_id = topic.id
            except DomainError as exc:
                flash(exc.message, "danger")
            else:
                return redirect(url_for("forums.topic", topic_id=topic_id))
    q = service.clean_query(request.args.get("q"))
    page = query_int("page", 1)
    topics, next_page = service.list_topics([board_], q, page)
    return render_template("forums/board.html", board=board_, topics=topics, next_page=next_page, page=page, q=q,
                           counts=service.reply_counts(topics), form=form, can_post=can_post,
                           reports=service.get_open_reports(_me(), board_)), form_status()


@bp.get("/topics/<int:topic_id>")
@login_required
def topic(topic_id: int):
    topic_ = _or_404(service.get_topic, topic_id)
    form = ReplyForm()
    quote = parse_int(request.args.get("quote") or "")
    quoted = None
    if quote:
        quoted = next((p for p in service.get_posts(topic_) if p.id == quote and not p.is_deleted), None)
        if quoted is not None:
            form.quote_post_id.data = str(quoted.id)
    return _topic_page(topic_, form, quoted)


def _topic_page(topic_, form, quoted=None, status=200):
    me = _me()
    moderator = perms.can_moderate_topic(me, topic_)
    boards = [b for b in service.get_readable_boards(me, topic_.board.project) if perms.is_moderator(me, b)] \
        if moderator else []
    moderate = ModerateForm()
    move_to = [(b.id, service.board_title(b)) for b in boards if b.id != topic_.board_id]
    return render_template("forums/topic.html", topic=topic_, posts=service.get_posts(topic_), form=form,
                           quoted=quoted, can_reply=perms.can_reply(me, topic_) and not topic_.is_locked,
                           moderator=moderator, moderate=moderate, move_to=move_to, action=FlagForm(), now=clock.now(),
                           window_s=service.edit_window_s()), status


@bp.post("/topics/<int:topic_id>/reply")
@login_required
def reply(topic_id: int):
    topic_ = _or_404(service.get_topic, topic_id)
    if not perms.can_reply(_me(), topic_):
        abort(403)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _topic_page(topic_, form, status=400)
    quote_id = parse_int(form.quote_post_id.data or "") if form.quote_post_id.data else None
    try:
        with write_transaction():
            post = service.do_reply(_me(), topic_, form.body.data, quote_id)
            post_id = post.id
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("forums.topic", topic_id=topic_id))
    return redirect(url_for("forums.topic", topic_id=topic_id, _anchor=f"post-{post_id}"))


@bp.post("/topics/<int:topic_id>/moderate")
@login_required
def moderate(topic_id: int):
    topic_ = _or_404(service.get_topic, topic_id)
    if not perms.can_moderate_topic(_me(), topic_):
        abort(403)
    form = ModerateForm()
    if not form.validate_on_submit():
        flash(_("Choose what to do."), "danger")
        return redirect(url_for("forums.topic", topic_id=topic_id))
    action = form.action.data
    changes = {"pin": {"is_pinned": True}, "unpin": {"is_pinned": False}, "lock": {"is_locked": True},
               "unlock": {"is_locked": False}, "excellent": {"is_excellent": True},
               "unexcellent": {"is_excellent": False}}.get(action)
    if changes is None and action != "move":
        flash(_("Choose what to do."), "danger")
        return redirect(url_for("forums.topic", topic_id=topic_id))
    if action == "move":
        target = parse_int(str(request.form.get("board_id") or ""))
        if not target:
            flash(_("Choose the board to move the topic to."), "danger")
            return redirect(url_for("forums.topic", topic_id=topic_id))
        changes = {"board_id": target}
    try:
        with write_transaction():
            service.do_moderate_topic(_me(), topic_, **changes)
    except DomainError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("forums.topic", topic_id=topic_id))


def _post_action(post_id: int, act):
    post = _or_404(service.get_post, post_id)
    topic_id = post.topic_id
    if not FlagForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction():
            act(post)
    except DomainError as exc:
        if exc.status == 403:
            abort(403)
        flash(exc.message, "danger")
    return redirect(url_for("forums.topic", topic_id=topic_id, _anchor=f"post-{post_id}"))


@bp.post("/posts/<int:post_id>/delete")
@login_required
def delete_post(post_id: int):
    post = _or_404(service.get_post, post_id)
    if not perms.can_delete_post(_me(), post):
        abort(403)
    first, board_id = post.is_first, post.topic.board_id
    response = _post_action(post_id, lambda p: service.do_delete_post(_me(), p))
    return redirect(url_for("forums.board", board_id=board_id)) if first else response


@bp.post("/posts/<int:post_id>/excellent")
@login_required
def excellent(post_id: int):
    value = request.form.get("value") == "1"
    return _post_action(post_id, lambda p: service.do_mark_excellent(_me(), p, value))


@bp.post("/posts/<int:post_id>/accept")
@login_required
def accept(post_id: int):
    return _post_action(post_id, lambda p: service.do_accept_answer(_me(), p))


@bp.route("/posts/<int:post_id>/report", methods=["GET", "POST"])
@login_required
def report(post_id: int):
    post = _or_404(service.get_post, post_id)
    form = ReportForm()
    if form.validate_on_submit():
        with write_transaction():
            service.do_report_post(_me(), post, form.reason.data or "")
        flash(_("Thank you: the moderators will look at this post."), "success")
        return redirect(url_for("forums.topic", topic_id=post.topic_id))
    return render_template("forums/report.html", post=post, form=form), form_status()


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(post_id: int):
    post = _or_404(service.get_post, post_id)
    if post.is_deleted:
        abort(404)
    if not perms.can_edit_post(_me(), post, clock.now(), service.edit_window_s()):
        abort(403)
    form = EditForm()
    if request.method == "GET":
        form.body.data = post.body_md
    elif form.validate_on_submit():
        try:
            with write_transaction():
                service.do_edit_post(_me(), post, form.body.data)
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("forums.topic", topic_id=post.topic_id, _anchor=f"post-{post_id}"))
    return render_template("forums/edit.html", post=post, form=form, revisions=service.get_revisions(post)), form_status()


@bp.get("/expert/questions")
@login_required
def questions():
    if not perms.can_view_question_queue(_me()):
        abort(403)
    page = query_int("page", 1)
    with write_transaction():
        topics, next_page = service.get_question_queue(_me(), page)
    return render_template("forums/questions.html", topics=topics, next_page=next_page, page=page,
                           counts=service.reply_counts(topics))


@bp.post("/forums/images")
@login_required
@body_limit("FORUM_IMAGE_MAX_BYTES", extra_bytes=64 * 1024)
def upload_image():
    """Store an image and go back to the page, showing the Markdown that shows it."""
    if not perms.can_upload_image(_me()):
        abort(403)
    form = ImageForm()
    back = request.form.get("next") or ""
    if not (back.startswith("/") and not back.startswith("//") and "\\" not in back):
        back = url_for("forums.index")
    if not form.validate_on_submit():
        flash(_("Choose a PNG, JPEG, GIF or WebP image."), "danger")
        return redirect(back)
    try:
        url = images.check_store_image(form.file.data.stream)
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(back)
    flash(_("Image uploaded. Copy this into your text: %(markdown)s", markdown=f"![]({url})"), "success")
    return redirect(back)


@bp.get("/forums/images/<name>")
@login_required
def image(name: str):
    if not images.NAME.match(name):
        abort(404)
    response = send_from_directory(images.image_dir(), name, mimetype="image/png" if name.endswith(".png")
                                   else "image/jpeg", max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
