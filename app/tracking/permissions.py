"""Who may see and correct a learner's credited time."""
from sqlalchemy import select

from app.accounts.models import User
from app.classrooms.models import Class_
from app.common.permissions import in_scope, learner_class_ids, staff_class_ids
from app.courses.models import Project
from app.extensions import db


def _learner_classes_in_project(learner: User, project: Project) -> list[Class_]:
    class_ids = learner_class_ids(learner.id)
    if not class_ids:
        return []
    return list(
        db.session.execute(select(Class_).where(Class_.id.in_(class_ids), Class_.project_id == project.id)).scalars()
    )


def _is_admin_of_learner(staff: User, learner: User, classes: list[Class_]) -> bool:
    if staff.is_site_admin:
        return True
    if learner.school_id is not None and in_scope(staff, learner.school_id):
        return True
    return any(in_scope(staff, cls.org_unit_id) for cls in classes)


def can_view_progress(staff: User, learner: User, project: Project) -> bool:
    """The learner themself; a tutor or class manager of one of the learner's classes in the project;
    an org admin whose subtree holds the learner's school or class; a site admin."""
    if not staff or not staff.is_authenticated:
        return False
    if staff.id == learner.id:
        return True
    classes = _learner_classes_in_project(learner, project)
    if staff_class_ids(staff) & {cls.id for cls in classes}:
        return True
    return _is_admin_of_learner(staff, learner, classes)


def can_correct_credit(staff: User, learner: User, project: Project) -> bool:
    """An org admin whose subtree holds the learner (or a site admin); never the learner themself."""
    if not staff or not staff.is_authenticated or staff.id == learner.id:
        return False
    return _is_admin_of_learner(staff, learner, _learner_classes_in_project(learner, project))
