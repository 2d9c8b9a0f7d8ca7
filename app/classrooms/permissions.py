"""Who may see and run classes: admins of the class's org subtree, and the class's own staff.

A tutor or class manager sees the roster of their own classes only; any other class is
answered with 404, like an object outside an admin's scope.
"""
from sqlalchemy import select

from app.accounts.models import RoleAssignment
from app.common.permissions import in_scope, real_user, unit_scope_clause
from app.classrooms.models import Class_
from app.courses.permissions import can_view_project

STAFF_ROLES = ("tutor", "class_manager")


def is_class_staff(user, cls: Class_) -> bool:
    user = real_user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(r.class_id == cls.id and r.role in STAFF_ROLES for r in user.roles)


def can_list_classes(user, project) -> bool:
    return can_view_project(user, project)


def can_create_class(user, project, org_unit=None) -> bool:
    """Create a class of the project at org_unit: a unit of the admin's scope inside the project's area."""
    if not can_view_project(user, project):
        return False
    return org_unit is None or (in_scope(user, org_unit) and org_unit.path.startswith(project.org_unit.path))


def can_edit_class(user, cls: Class_) -> bool:
    return in_scope(user, cls.org_unit)


def can_manage_roster(user, cls: Class_) -> bool:
    return can_edit_class(user, cls)


def can_view_class(user, cls: Class_) -> bool:
    return can_edit_class(user, cls) or is_class_staff(user, cls)


def can_view_roster(user, cls: Class_) -> bool:
    return can_view_class(user, cls)


def can_view_my_classes(user, _obj=None) -> bool:
    return bool(getattr(real_user(user), "is_authenticated", False))


def classes_in_scope_clause(user):
    """A WHERE clause on Class_ (joined with its OrgUnit) for the classes an admin runs."""
    from app.accounts.models import OrgUnit

    return unit_scope_clause(OrgUnit.path, user)


def staff_class_ids_stmt(user):
    return select(RoleAssignment.class_id).where(
        RoleAssignment.user_id == real_user(user).id, RoleAssignment.role.in_(STAFF_ROLES)
    )


def _class_role(user, cls: Class_, role: str) -> bool:
    user = real_user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(r.class_id == cls.id and r.role == role for r in user.roles)


def is_class_manager(user, cls: Class_) -> bool:
    return _class_role(user, cls, "class_manager")


def is_class_learner(user, cls: Class_) -> bool:
    return _class_role(user, cls, "learner")


def can_run_group_session(user, cls: Class_) -> bool:
    """Open a group viewing, tick the roster, check out, end: the class's class manager (班主任 / 坊主)."""
    return is_class_manager(user, cls)


def can_view_group_sessions(user, cls: Class_) -> bool:
    """See a class's group viewings and their attendance: whoever sees the class."""
    return can_view_class(user, cls)


def can_check_in(user, cls: Class_) -> bool:
    """Check oneself in to a group viewing of the class: its learners."""
    return is_class_learner(user, cls)


def can_remind(user, cls: Class_) -> bool:
    """Send reminders to the class's learners: its staff and the admins above it."""
    return can_view_class(user, cls)


def can_remind_subtree(user, project, unit) -> bool:
    """Send reminders to the learners of a project in an org subtree: the admins of that subtree who see the project."""
    return unit is not None and in_scope(user, unit) and can_view_project(user, project)


def can_view_dashboard(user, cls: Class_) -> bool:
    return can_view_class(user, cls)
