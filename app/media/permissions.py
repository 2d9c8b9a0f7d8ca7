"""Who may upload and manage a course's media.

Course staff manage media: site admins, org admins whose subtree holds the
course's org unit (those who may edit the course), and experts (课程专家)
scoped to a unit whose subtree holds it. An admin of a unit below the course's
owner (a school admin for a county course) may see the course but not change
its media; learners, tutors and class managers never manage media.

Who may watch a lesson is decided in app/media/delivery.py (streaming).
"""
from app.common.permissions import in_scope
from app.courses.models import Course, Lesson
from app.extensions import db


def _is_expert_for(user, course: Course) -> bool:
    from app.accounts.models import OrgUnit

    unit = course.org_unit
    if unit is None or not unit.path:
        return False
    for role in user.roles:
        if role.role == "expert" and role.org_unit_id:
            expert_unit = role.org_unit or db.session.get(OrgUnit, role.org_unit_id)
            if expert_unit is not None and unit.path.startswith(expert_unit.path):
                return True
    return False


def can_manage_media(user, course: Course | None) -> bool:
    """Upload, inspect and retry the media of a course."""
    if course is None or user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", True):
        return False
    if user.is_site_admin or in_scope(user, course.org_unit):
        return True
    return _is_expert_for(user, course)


def can_attach_media(user, lesson: Lesson | None, course: Course) -> bool:
    """Attach an upload to a lesson: a lesson of that same course, by its staff."""
    if lesson is None:
        return can_manage_media(user, course)
    return lesson.module.course_id == course.id and can_manage_media(user, course)


def can_view_media_status(user, asset) -> bool:
    """See an asset's state, errors and renditions (staff only: learners get signed URLs instead)."""
    return asset is not None and can_manage_media(user, asset.course)


def can_retry_media(user, asset) -> bool:
    return can_view_media_status(user, asset)


def can_use_projector(user, lesson: Lesson | None) -> bool:
    """Show the lesson in projector mode in at least one of its projects (staff of their classes, admins)."""
    from app.courses.service import get_projects_with_lesson
    from app.media.delivery import can_project_in

    if lesson is None or user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(can_project_in(user, project) for project in get_projects_with_lesson(lesson))
