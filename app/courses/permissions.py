"""Who may see and change training projects, courses, enrolments and learning cards.

A project or course belongs to an org unit. Admins of that unit's subtree edit it; admins
below it (a county admin for a province project) see it and work with it inside their own
area (enrol their teachers, form their classes) without changing it; nobody else sees it.
"""
from app.accounts.models import User
from app.accounts.permissions import can_view_user, user_anchor_paths
from app.common.permissions import covers_scope, in_scope, is_admin, visible_unit_clause
from app.courses.models import Course, ElectiveChoice, Enrollment, Project


def _unit(obj):
    return obj.org_unit


# ---------------------------------------------------------------- projects
def can_view_project(user, project: Project) -> bool:
    unit = _unit(project)
    return in_scope(user, unit) or covers_scope(user, unit)


def can_create_project(user, org_unit=None) -> bool:
    return is_admin(user) if org_unit is None else in_scope(user, org_unit)


def can_edit_project(user, project: Project) -> bool:
    return in_scope(user, _unit(project))


def can_archive_project(user, project: Project) -> bool:
    """Archive, restore or delete (when it holds no credit): whoever may edit it."""
    return can_edit_project(user, project)


def can_manage_enrollments(user, project: Project) -> bool:
    return can_view_project(user, project)


def is_user_in_project_area(target: User, project: Project) -> bool:
    """True when the user belongs to the project's org subtree."""
    base = _unit(project).path
    return any(p.startswith(base) for p in user_anchor_paths(target))


def can_enroll_user(user, project: Project, target: User) -> bool:
    return can_manage_enrollments(user, project) and can_view_user(user, target) and is_user_in_project_area(target, project)


def can_unenroll(user, enrollment: Enrollment) -> bool:
    return can_manage_enrollments(user, enrollment.project) and can_view_user(user, enrollment.user)


def can_manage_cards(user, project: Project) -> bool:
    """Cards register teachers at the project's own unit, so only the project's admins issue them."""
    return can_edit_project(user, project)


# ---------------------------------------------------------------- elective confirmation
def can_view_electives(user, project: Project) -> bool:
    """See the electives chosen in the project by the teachers of one's area (admins who see the project)."""
    return can_view_project(user, project)


def can_decide_elective(user, choice: ElectiveChoice) -> bool:
    """Confirm or refuse a teacher's elective: an admin of the teacher's school or of a unit above it, who sees the project.

    Tutors and class managers run classes, not schools: they never decide.
    """
    return can_view_project(user, choice.project) and can_view_user(user, choice.user)


def visible_projects_clause(user):
    from app.accounts.models import OrgUnit

    return visible_unit_clause(OrgUnit.path, OrgUnit.id, user)


# ---------------------------------------------------------------- courses
def can_view_course(user, course: Course) -> bool:
    unit = _unit(course)
    return in_scope(user, unit) or covers_scope(user, unit)


def can_create_course(user, org_unit=None) -> bool:
    return is_admin(user) if org_unit is None else in_scope(user, org_unit)


def can_edit_course(user, course: Course) -> bool:
    return in_scope(user, _unit(course))


def can_archive_course(user, course: Course) -> bool:
    """Archive, restore or delete (when it holds no credit) the course or one of its lessons: whoever may edit it."""
    return can_edit_course(user, course)


def can_link_course(user, project: Project, course: Course | None = None) -> bool:
    return can_edit_project(user, project) and (course is None or can_view_course(user, course))


# ---------------------------------------------------------------- experts
def expert_paths(user) -> tuple[str, ...]:
    """The org paths where the user is an expert."""
    from app.common.permissions import real_user

    user = real_user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    return tuple(r.org_unit.path for r in user.roles if r.role == "expert" and r.org_unit is not None)


def can_view_expert_home(user, _obj=None) -> bool:
    return bool(expert_paths(user))


def expert_scope_clause(user):
    """A WHERE clause on OrgUnit: the units of the expert's subtrees and those above them (owners of what reaches in)."""
    from sqlalchemy import false, or_

    from app.accounts.models import OrgUnit

    paths = expert_paths(user)
    if not paths:
        return false()
    above = {int(part) for path in paths for part in path.strip("/").split("/") if part}
    return or_(OrgUnit.id.in_(above), *[OrgUnit.path.like(path + "%") for path in paths])
