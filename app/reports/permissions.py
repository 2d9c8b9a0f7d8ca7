"""Who may see the figures, learner lists and exports of a unit's subtree or a class in a project.

An org admin sees the units of their subtree for the projects they may see; the
tutor and class manager of a class see that class; a site admin sees all.
Learners see none. A unit, class or project outside the viewer's reach answers
404, like an object that does not exist.
"""
from app.classrooms.permissions import can_view_class
from app.common.permissions import in_scope, is_admin, real_user, staff_class_ids
from app.courses.permissions import can_view_project


def can_view_reports(user, _obj=None) -> bool:
    """Anyone who may see some dashboard: an admin, or the staff of a class."""
    return is_admin(user) or bool(staff_class_ids(user))


def can_view_report(user, scope) -> bool:
    """The figures, learners and export of a scope (app.reports.service.Scope)."""
    if scope.cls is not None:
        return scope.cls.project_id == scope.project.id and can_view_class(user, scope.cls)
    return in_scope(user, scope.unit) and can_view_project(user, scope.project)


def can_view_export(user, export, scope) -> bool:
    """A background export: only whoever asked for it, while the scope is still theirs."""
    user = real_user(user)
    return user is not None and export.user_id == getattr(user, "id", None) and can_view_report(user, scope)
