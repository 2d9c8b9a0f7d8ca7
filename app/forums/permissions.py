"""Who may read, write and moderate the forums.

- a class board: the class's learners and its staff (tutor, class manager);
- a course board: the learners enrolled in the project to whom the course is open, and the course's
  staff in the project (the tutors and class managers of the project's classes);
- a Q&A board: the same, and the experts of the course (experts of the course's area).
Administrators whose scope covers the class or project read (for the audit) but do not post.
Moderators: the class's staff on a class board, the course's staff on course and Q&A boards.
Anything one may not read answers 404; what one reads but may not change answers 403.
"""
from datetime import datetime, timedelta

from sqlalchemy import select

from app.classrooms.permissions import STAFF_ROLES
from app.common.permissions import in_scope, real_user
from app.courses.models import ElectiveChoice, Enrollment, ProjectCourse
from app.courses.permissions import expert_paths
from app.extensions import db
from app.forums.models import ForumBoard, ForumPost, ForumTopic


def _user(user):
    user = real_user(user)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _class_roles(user, class_id: int) -> set[str]:
    return {r.role for r in user.roles if r.class_id == class_id}


def _project_staff(user, project_id: int) -> bool:
    """A tutor or class manager of a class of the project."""
    from app.classrooms.models import Class_

    class_ids = [r.class_id for r in user.roles if r.class_id and r.role in STAFF_ROLES]
    if not class_ids:
        return False
    return db.session.execute(
        select(Class_.id).where(Class_.id.in_(class_ids), Class_.project_id == project_id).limit(1)
    ).first() is not None


def _course_learner(user, board: ForumBoard) -> bool:
    """Enrolled in the board's project with the course open: required, or an elective they chose (not refused)."""
    enrolled = db.session.execute(select(Enrollment.id).where(
        Enrollment.project_id == board.project_id, Enrollment.user_id == user.id)).first()
    if enrolled is None:
        return False
    link = db.session.execute(select(ProjectCourse).where(
        ProjectCourse.project_id == board.project_id, ProjectCourse.course_id == board.course_id)).scalar_one_or_none()
    if link is None:
        return False
    if link.is_required:
        return True
    return db.session.execute(select(ElectiveChoice.id).where(
        ElectiveChoice.project_id == board.project_id, ElectiveChoice.user_id == user.id,
        ElectiveChoice.course_id == board.course_id, ElectiveChoice.withdrawn_at.is_(None),
        ElectiveChoice.is_refused.is_(False))).first() is not None


def is_course_expert(user, course) -> bool:
    """An expert of the course: an expert of the course's area (its unit's subtree, or a unit below it)."""
    user = _user(user)
    if user is None or course is None:
        return False
    path = course.org_unit.path
    return any(path.startswith(p) or p.startswith(path) for p in expert_paths(user))


def is_moderator(user, board: ForumBoard) -> bool:
    user = _user(user)
    if user is None:
        return False
    if board.kind == "class":
        return bool(_class_roles(user, board.class_id) & set(STAFF_ROLES))
    return _project_staff(user, board.project_id)


def _is_auditor(user, board: ForumBoard) -> bool:
    unit = board.class_.org_unit if board.kind == "class" else board.project.org_unit
    return in_scope(user, unit)


def can_post_in_board(user, board: ForumBoard) -> bool:
    """Open topics and reply: the board's learners, staff (and experts on a Q&A board)."""
    user = _user(user)
    if user is None:
        return False
    if board.kind == "class":
        return bool(_class_roles(user, board.class_id) & {"learner", *STAFF_ROLES})
    if is_moderator(user, board) or _course_learner(user, board):
        return True
    return board.kind == "qa" and is_course_expert(user, board.course)


def can_read_board(user, board: ForumBoard) -> bool:
    user = _user(user)
    return user is not None and (can_post_in_board(user, board) or _is_auditor(user, board))


def can_create_topic(user, board: ForumBoard) -> bool:
    return can_post_in_board(user, board)


def can_reply(user, topic: ForumTopic) -> bool:
    """Reply while the topic is open (the view answers 409 for a locked topic)."""
    return can_post_in_board(user, topic.board)


def can_moderate_topic(user, topic: ForumTopic) -> bool:
    return is_moderator(user, topic.board)


def can_edit_post(user, post: ForumPost, now: datetime, window_s: int) -> bool:
    """Its author within the edit window (while the topic is open), or a moderator at any time."""
    user = _user(user)
    if user is None or post.is_deleted:
        return False
    if is_moderator(user, post.topic.board):
        return True
    return (post.author_id == user.id and not post.topic.is_locked and can_post_in_board(user, post.topic.board)
            and now - post.created_at <= timedelta(seconds=window_s))


def can_delete_post(user, post: ForumPost) -> bool:
    user = _user(user)
    if user is None or post.is_deleted:
        return False
    return post.author_id == user.id or is_moderator(user, post.topic.board)


def can_report_post(user, post: ForumPost) -> bool:
    return can_read_board(user, post.topic.board)


def can_accept_answer(user, post: ForumPost) -> bool:
    """The asker accepts a reply to their own question."""
    user = _user(user)
    topic = post.topic
    return (user is not None and topic.board.kind == "qa" and topic.author_id == user.id and not post.is_first
            and not post.is_deleted)


def can_view_question_queue(user, _obj=None) -> bool:
    return bool(expert_paths(user))


def can_view_points(user, _obj=None) -> bool:
    return _user(user) is not None


def can_upload_image(user, _obj=None) -> bool:
    """Attach images to posts: anyone who takes part in a forum (a class role, an expert, or enrolled)."""
    user = _user(user)
    if user is None:
        return False
    if any(r.role in ("learner", "tutor", "class_manager", "expert") for r in user.roles):
        return True
    return db.session.execute(select(Enrollment.id).where(Enrollment.user_id == user.id).limit(1)).first() is not None


def can_view_image(user, _obj=None) -> bool:
    return _user(user) is not None
