"""Forums: boards, topics, posts, moderation, search, Q&A and participation points."""
import re
import unicodedata
from datetime import datetime
from typing import Iterable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.classrooms.models import Class_
from app.common import clock
from app.common.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.courses.models import Course, Project, ProjectCourse
from app.extensions import db
from app.forums import permissions as perms, rules
from app.forums.models import (
    BODY_MAX, REASON_MAX, TITLE_MAX, ForumBoard, ForumPointRule, ForumPost, ForumPostRevision, ForumReport, ForumTopic,
)

PAGE_SIZE = 20
#: queries shorter than this use LIKE; longer ones the trigram indexes
TRIGRAM_MIN = 3
QUERY_MAX = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


# ---------------------------------------------------------------- boards
def ensure_boards(project: Project) -> None:
    """Create the boards the project lacks: one per class, and a discussion and a Q&A board per course."""
    have = {(b.kind, b.class_id, b.course_id) for b in db.session.execute(
        select(ForumBoard).where(ForumBoard.project_id == project.id)).scalars()}
    wanted = [("class", c, None) for c in db.session.execute(
        select(Class_.id).where(Class_.project_id == project.id)).scalars()]
    for course_id in db.session.execute(
            select(ProjectCourse.course_id).where(ProjectCourse.project_id == project.id)).scalars():
        wanted += [("course", None, course_id), ("qa", None, course_id)]
    for kind, class_id, course_id in wanted:
        if (kind, class_id, course_id) in have:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(ForumBoard(project_id=project.id, kind=kind, class_id=class_id, course_id=course_id))
        except IntegrityError:
            pass  # made by a concurrent request


def board_title(board: ForumBoard) -> str:
    if board.kind == "class":
        return _("%(name)s class forum", name=board.class_.name)
    if board.kind == "qa":
        return _("%(title)s Q&A", title=board.course.title)
    return _("%(title)s discussion", title=board.course.title)


def get_readable_boards(user, project: Project) -> list[ForumBoard]:
    ensure_boards(project)
    boards = db.session.execute(
        select(ForumBoard).where(ForumBoard.project_id == project.id)
        .options(selectinload(ForumBoard.class_), selectinload(ForumBoard.course))
        .order_by(ForumBoard.kind, ForumBoard.id)
    ).scalars().all()
    order = {"class": 0, "course": 1, "qa": 2}
    return sorted((b for b in boards if perms.can_read_board(user, b)), key=lambda b: (order[b.kind], b.id))


def get_forum_projects(user) -> list[Project]:
    """The projects with a board the user may read: enrolled, staff of a class, expert or admin of the area.

    Creates the boards a listed project lacks (ensure_boards): call it in a write transaction.
    """
    from app.courses.models import Enrollment
    from app.courses.permissions import can_view_project, expert_paths

    ids = set(db.session.execute(select(Enrollment.project_id).where(Enrollment.user_id == user.id)).scalars())
    class_ids = [r.class_id for r in user.roles if r.class_id]
    if class_ids:
        ids |= set(db.session.execute(select(Class_.project_id).where(Class_.id.in_(class_ids))).scalars())
    projects = list(db.session.execute(select(Project).where(Project.is_archived.is_(False))
                                       .order_by(Project.starts_on.desc(), Project.id)).scalars())
    has_expert = bool(expert_paths(user))
    out = []
    for project in projects:
        if project.id in ids or can_view_project(user, project):
            out.append(project)
        elif has_expert and any(perms.is_course_expert(user, link.course) for link in project.course_links):
            out.append(project)
    # a project may be the user's to see but hold no board of theirs (no course yet; or an admin whose area
    # holds another unit's class only): listing it would lead to a page that answers 404
    return [project for project in out if get_readable_boards(user, project)]


def get_board(user, board_id: int) -> ForumBoard:
    board = db.session.get(ForumBoard, board_id)
    if board is None or not perms.can_read_board(user, board):
        raise NotFound(_("No such forum board."))
    return board


def get_topic(user, topic_id: int) -> ForumTopic:
    topic = db.session.get(ForumTopic, topic_id)
    if topic is None or topic.is_deleted or not perms.can_read_board(user, topic.board):
        raise NotFound(_("No such topic."))
    return topic


def get_post(user, post_id: int) -> ForumPost:
    post = db.session.get(ForumPost, post_id)
    if post is None or post.topic.is_deleted or not perms.can_read_board(user, post.topic.board):
        raise NotFound(_("No such post."))
    return post


# ---------------------------------------------------------------- input
def clean_line(value, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise Invalid(_("Write some text."), code=field)
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    value = re.sub(r"\s+", " ", value)
    if not value:
        raise Invalid(_("The title cannot be empty."), code=field)
    if len(value) > limit:
        raise Invalid(_("The title is longer than %(n)d characters.", n=limit), code=field)
    return value


def clean_body(value, field: str = "body") -> str:
    if not isinstance(value, str):
        raise Invalid(_("Write some text."), code=field)
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value).replace("\r\n", "\n")).strip()
    if not value:
        raise Invalid(_("Write some text."), code=field)
    if len(value) > BODY_MAX:
        raise Invalid(_("The text is longer than %(n)d characters.", n=BODY_MAX), code=field)
    return value


# ---------------------------------------------------------------- topics and posts
def _hide_deleted():
    return ForumTopic.is_deleted.is_(False)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _match(q: str):
    """A clause on ForumTopic: its title or one of its visible posts contains q (Chinese included)."""
    post_match = ForumPost.body_md.ilike(_like(q), escape="\\")
    if len(q) >= TRIGRAM_MIN and db.session.get_bind().dialect.name == "sqlite":
        phrase = '"' + q.replace('"', '""') + '"'
        post_match = ForumPost.id.in_(
            select(literal_column("rowid")).select_from(text("forum_search"))
            .where(text("forum_search MATCH :phrase").bindparams(phrase=phrase)))
    # PostgreSQL: ILIKE '%q%' runs on the pg_trgm GIN indexes
    return or_(ForumTopic.title.ilike(_like(q), escape="\\"),
               exists().where(ForumPost.topic_id == ForumTopic.id, ForumPost.is_deleted.is_(False), post_match))


def clean_query(q: str | None) -> str:
    q = re.sub(r"\s+", " ", _CONTROL.sub("", unicodedata.normalize("NFC", q or ""))).strip()
    return q[:QUERY_MAX]


def list_topics(boards: list[ForumBoard], q: str = "", page: int = 1, *, unanswered_only: bool = False,
                oldest_first: bool = False):
    """A page of the boards' topics (pinned first, newest activity first), matching q when given."""
    if not boards:
        return [], None
    stmt = select(ForumTopic).where(ForumTopic.board_id.in_([b.id for b in boards]), _hide_deleted())
    q = clean_query(q)
    if q:
        stmt = stmt.where(_match(q))
    if unanswered_only:
        stmt = stmt.where(ForumTopic.is_answered.is_(False))
    if oldest_first:
        stmt = stmt.order_by(ForumTopic.created_at, ForumTopic.id)
    else:
        stmt = stmt.order_by(ForumTopic.is_pinned.desc(), ForumTopic.last_post_at.desc(), ForumTopic.id.desc())
    page = max(1, min(int(page), 10**6))
    rows = db.session.execute(stmt.options(selectinload(ForumTopic.author), selectinload(ForumTopic.board))
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).scalars().all()
    return list(rows[:PAGE_SIZE]), (page + 1 if len(rows) > PAGE_SIZE else None)


def reply_counts(topics: list[ForumTopic]) -> dict[int, int]:
    if not topics:
        return {}
    return dict(db.session.execute(
        select(ForumPost.topic_id, func.count()).where(ForumPost.topic_id.in_([t.id for t in topics]),
                                                       ForumPost.is_first.is_(False), ForumPost.is_deleted.is_(False))
        .group_by(ForumPost.topic_id)).all())


def get_posts(topic: ForumTopic) -> list[ForumPost]:
    """The topic's posts: the opening post, then the accepted answer, then replies oldest first."""
    posts = db.session.execute(
        select(ForumPost).where(ForumPost.topic_id == topic.id).options(selectinload(ForumPost.author),
                                                                        selectinload(ForumPost.quote))
        .order_by(ForumPost.created_at, ForumPost.id)).scalars().all()
    return sorted(posts, key=lambda p: (not p.is_first, not p.is_answer))


def do_create_topic(user, board: ForumBoard, title, body) -> tuple[ForumTopic, ForumPost]:
    if not perms.can_create_topic(user, board):
        raise Forbidden(_("Only the board's members open topics."))
    title = clean_line(title, "title", TITLE_MAX)
    body = clean_body(body)
    now = clock.now()
    topic = ForumTopic(board_id=board.id, author_id=user.id, title=title, created_at=now, last_post_at=now)
    db.session.add(topic)
    db.session.flush()
    post = ForumPost(topic_id=topic.id, author_id=user.id, body_md=body, is_first=True, created_at=now)
    db.session.add(post)
    db.session.flush()
    return topic, post


def do_reply(user, topic: ForumTopic, body, quote_post_id: int | None = None) -> ForumPost:
    if not perms.can_reply(user, topic):
        raise Forbidden(_("Only the board's members reply."))
    if topic.is_locked:
        raise Conflict(_("This topic is locked: it takes no more replies."), code="locked")
    body = clean_body(body)
    quote = None
    if quote_post_id is not None:
        quote = db.session.get(ForumPost, quote_post_id)
        if quote is None or quote.topic_id != topic.id or quote.is_deleted:
            raise Invalid(_("The quoted post is not in this topic."), code="quote_post_id")
    now = clock.now()
    post = ForumPost(topic_id=topic.id, author_id=user.id, body_md=body, quote_post_id=quote.id if quote else None,
                     created_at=now)
    board = topic.board
    if board.kind == "qa" and perms.is_course_expert(user, board.course) and user.id != topic.author_id:
        post.is_expert_answer = True
        topic.is_answered = True
    db.session.add(post)
    topic.last_post_at = now
    db.session.flush()
    recipients = [topic.author_id] if topic.author_id and topic.author_id != user.id else []
    if recipients:
        kind, message = (("qa_answer", _("An expert answered your question “%(title)s”.", title=topic.title))
                         if post.is_expert_answer else
                         ("forum_reply", _("%(name)s replied to your topic “%(title)s”.", name=user.display_name,
                                           title=topic.title)))
        _notify(recipients, kind, message, f"/topics/{topic.id}#post-{post.id}")
    return post


def edit_window_s() -> int:
    return int(current_app.config.get("FORUM_EDIT_WINDOW_S", 1800))


def do_edit_post(user, post: ForumPost, body) -> ForumPost:
    if not perms.can_edit_post(user, post, clock.now(), edit_window_s()):
        raise Forbidden(_("You can edit your own post only within %(n)d minutes of writing it.",
                          n=edit_window_s() // 60))
    body = clean_body(body)
    if body == post.body_md:
        return post
    now = clock.now()
    db.session.add(ForumPostRevision(post_id=post.id, body_md=post.body_md, editor_id=user.id, edited_at=now))
    post.body_md = body
    post.edited_at = now
    db.session.flush()
    return post


def get_revisions(post: ForumPost) -> list[ForumPostRevision]:
    return list(db.session.execute(select(ForumPostRevision).where(ForumPostRevision.post_id == post.id)
                                   .order_by(ForumPostRevision.edited_at.desc(), ForumPostRevision.id.desc())).scalars())


def do_delete_post(user, post: ForumPost) -> ForumPost:
    """Soft-delete a post (an opening post takes its topic with it); the row stays for the audit."""
    if post.is_deleted:
        return post
    if not perms.can_delete_post(user, post):
        raise Forbidden(_("Only its author or a moderator deletes a post."))
    post.is_deleted = True
    post.deleted_at = clock.now()
    post.deleted_by_id = user.id
    topic = post.topic
    if post.is_first:
        topic.is_deleted = True
    if post.is_expert_answer:
        topic.is_answered = db.session.execute(select(ForumPost.id).where(
            ForumPost.topic_id == topic.id, ForumPost.id != post.id, ForumPost.is_expert_answer.is_(True),
            ForumPost.is_deleted.is_(False)).limit(1)).first() is not None
    if post.is_answer:
        post.is_answer = False
    for report in db.session.execute(select(ForumReport).where(ForumReport.post_id == post.id,
                                                               ForumReport.resolved_at.is_(None))).scalars():
        report.resolved_at = post.deleted_at  # a deleted post needs the moderators no more
    db.session.flush()
    return post


# ---------------------------------------------------------------- moderation
def do_moderate_topic(user, topic: ForumTopic, *, is_pinned=None, is_locked=None, is_excellent=None,
                      board_id=None) -> ForumTopic:
    if not perms.can_moderate_topic(user, topic):
        raise Forbidden(_("Only the board's moderators pin, lock, move or mark topics."))
    if is_pinned is not None:
        topic.is_pinned = bool(is_pinned)
    if is_locked is not None:
        topic.is_locked = bool(is_locked)
    if board_id is not None and board_id != topic.board_id:
        target = db.session.get(ForumBoard, board_id)
        if target is None or not perms.can_read_board(user, target):
            raise NotFound(_("No such forum board."))
        if target.project_id != topic.board.project_id or not perms.is_moderator(user, target):
            raise Forbidden(_("Move topics only between boards you moderate in the same project."))
        topic.board_id = target.id
        topic.board = target
    if is_excellent is not None:
        first = db.session.execute(select(ForumPost).where(ForumPost.topic_id == topic.id,
                                                           ForumPost.is_first.is_(True))).scalar_one()
        _set_excellent(user, first, bool(is_excellent))
        topic.is_excellent = bool(is_excellent)
    db.session.flush()
    return topic


def _set_excellent(user, post: ForumPost, value: bool) -> None:
    was = post.is_excellent
    post.is_excellent = value
    if post.is_first:
        post.topic.is_excellent = value
    if value and not was and post.author_id and post.author_id != user.id:
        _notify([post.author_id], "post_excellent",
                _("Your post in “%(title)s” was marked excellent.", title=post.topic.title),
                f"/topics/{post.topic_id}#post-{post.id}")


def do_mark_excellent(user, post: ForumPost, value: bool) -> ForumPost:
    if not perms.can_moderate_topic(user, post.topic):
        raise Forbidden(_("Only the board's moderators mark posts excellent."))
    if post.is_deleted:
        raise Conflict(_("This post was deleted."), code="deleted")
    _set_excellent(user, post, bool(value))
    db.session.flush()
    return post


def do_accept_answer(user, post: ForumPost) -> ForumPost:
    if not perms.can_accept_answer(user, post):
        raise Forbidden(_("Only the asker accepts an answer to a question."))
    for other in db.session.execute(select(ForumPost).where(ForumPost.topic_id == post.topic_id,
                                                            ForumPost.is_answer.is_(True))).scalars():
        other.is_answer = False
    post.is_answer = True
    db.session.flush()
    return post


def do_report_post(user, post: ForumPost, reason) -> ForumReport:
    if not perms.can_report_post(user, post):
        raise NotFound(_("No such post."))
    reason = reason if isinstance(reason, str) else ""
    reason = _CONTROL.sub("", reason).strip()[:REASON_MAX]
    report = ForumReport(post_id=post.id, reporter_id=user.id, reason=reason, created_at=clock.now())
    db.session.add(report)
    db.session.flush()
    return report


def get_open_reports(user, board: ForumBoard) -> list[ForumReport]:
    if not perms.is_moderator(user, board):
        return []
    return list(db.session.execute(
        select(ForumReport).join(ForumPost, ForumPost.id == ForumReport.post_id)
        .join(ForumTopic, ForumTopic.id == ForumPost.topic_id)
        .where(ForumTopic.board_id == board.id, ForumReport.resolved_at.is_(None))
        .order_by(ForumReport.created_at)).scalars())


# ---------------------------------------------------------------- expert Q&A
def get_question_queue(user, page: int = 1):
    """Unanswered questions of the Q&A boards of the expert's courses, every class and project, oldest first."""
    from app.accounts.models import OrgUnit
    from app.courses.permissions import expert_scope_clause

    for project in db.session.execute(select(Project).where(Project.is_archived.is_(False))).scalars():
        ensure_boards(project)
    boards = db.session.execute(
        select(ForumBoard).join(Course, Course.id == ForumBoard.course_id).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
        .join(Project, Project.id == ForumBoard.project_id)
        .where(ForumBoard.kind == "qa", expert_scope_clause(user), Project.is_archived.is_(False))
    ).scalars().all()
    boards = [b for b in boards if perms.is_course_expert(user, b.course)]
    return list_topics(boards, page=page, unanswered_only=True, oldest_first=True)


# ---------------------------------------------------------------- participation points
def get_point_rules(project: Project) -> rules.PointRules:
    row = db.session.get(ForumPointRule, project.id)
    base = dict(timezone=project.timezone or "Asia/Shanghai")
    if row is None:
        return rules.PointRules(**base)
    return rules.PointRules(topic_points=row.topic_points, reply_points=row.reply_points,
                            reply_min_chars=row.reply_min_chars, excellent_points=row.excellent_points,
                            daily_cap=row.daily_cap, project_cap=row.project_cap, **base)


def _facts(project_id: int, user_ids: list[int] | None) -> list[rules.PostFact]:
    stmt = (select(ForumPost, ForumTopic.title).join(ForumTopic, ForumTopic.id == ForumPost.topic_id)
            .join(ForumBoard, ForumBoard.id == ForumTopic.board_id).where(ForumBoard.project_id == project_id))
    if user_ids is not None:
        stmt = stmt.where(ForumPost.author_id.in_(user_ids))
    facts = []
    for post, title in db.session.execute(stmt):
        if post.author_id is None:
            continue
        facts.append(rules.PostFact(post_id=post.id, user_id=post.author_id, created_at=post.created_at,
                                    is_first=post.is_first, text=(title + " " + post.body_md) if post.is_first
                                    else post.body_md, is_deleted=post.is_deleted, is_excellent=post.is_excellent))
    return facts


def get_point_entries(project: Project, user_id: int) -> list[rules.PointEntry]:
    return rules.compute_entries(_facts(project.id, [user_id]), get_point_rules(project))


def points_by_learner(project_id: int, user_ids: Iterable[int]) -> dict[int, int]:
    """Participation points (研讨积分) of each learner in the project, recomputed from the stored posts.

    Every id asked for is in the answer (0 when the learner earned nothing).
    """
    ids = sorted({int(u) for u in user_ids})
    project = db.session.get(Project, project_id)
    if project is None or not ids:
        return {u: 0 for u in ids}
    out = {u: 0 for u in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update(rules.totals(rules.compute_entries(_facts(project_id, chunk), get_point_rules(project))))
    return out


# ---------------------------------------------------------------- notifications
def _notify(user_ids: list[int], kind: str, message: str, url: str) -> None:
    """Tell users in the notification centre (e-mail comes once a day: app.forums.digest); the caller commits."""
    from app.notifications.service import notify

    notify(user_ids, kind, message[:500], url, email=False)


def now() -> datetime:
    return clock.now()
