"""Who may administer which org units, users, roles and imports: the one place that decides.

The scope rule itself lives in app.common.permissions. Views answer 404 for an object outside the admin's scope
(its existence is not revealed) and 403 for an object they may see but not change.
"""
from sqlalchemy import and_, exists, false, or_, select, true

from app.accounts.models import ORG_ROLES, OrgUnit, RoleAssignment, User
from app.common.permissions import in_scope, is_admin, path_in_scope, real_user, scope_paths, unit_scope_clause
from app.extensions import db


# ---------------------------------------------------------------- the admin area
def can_view_admin(user, _obj=None) -> bool:
    return is_admin(user)


# ---------------------------------------------------------------- org units
def can_view_org_unit(user, unit: OrgUnit) -> bool:
    return in_scope(user, unit)


def can_create_org_unit(user, parent: OrgUnit | None) -> bool:
    """Add a unit under parent (a root, parent None, is for site admins only)."""
    if parent is None:
        return "/" in scope_paths(user)
    return in_scope(user, parent) and parent.kind != "learning_center"


def can_edit_org_unit(user, unit: OrgUnit) -> bool:
    return in_scope(user, unit)


def can_move_org_unit(user, unit: OrgUnit, new_parent: OrgUnit | None = None) -> bool:
    """Move a unit to another parent: both inside the admin's scope, never the admin's own root."""
    if not in_scope(user, unit) or unit.parent_id is None:
        return False
    if "/" not in scope_paths(user) and unit.path in scope_paths(user):
        return False
    if new_parent is None:
        return True
    return in_scope(user, new_parent) and not new_parent.path.startswith(unit.path)


# ---------------------------------------------------------------- users
def _classes():
    """The classes table (a class sits at an org unit); classrooms builds on accounts, so it is named, not imported."""
    return db.metadata.tables["classes"]


def user_anchor_paths(target: User) -> list[str]:
    """Where a user belongs in the tree: their school, else the units of their roles and classes."""
    if target.school_id:
        school = target.school or db.session.get(OrgUnit, target.school_id)
        return [school.path] if school else []
    paths = [r.org_unit.path for r in target.roles if r.org_unit_id and r.org_unit is not None]
    class_ids = [r.class_id for r in target.roles if r.class_id]
    if class_ids:
        classes = _classes()
        paths += list(db.session.execute(
            select(OrgUnit.path).join(classes, classes.c.org_unit_id == OrgUnit.id).where(classes.c.id.in_(class_ids))
        ).scalars())
    return paths


def can_view_user(user, target: User) -> bool:
    paths = scope_paths(user)
    if not paths or target is None:
        return False
    if "/" in paths:
        return True
    return any(path_in_scope(user, p) for p in user_anchor_paths(target))


def can_edit_user(user, target: User) -> bool:
    """Edit a user: in scope, and every power the user holds lies inside the admin's scope too."""
    if not can_view_user(user, target):
        return False
    if target.is_site_admin and "/" not in scope_paths(user):
        return False
    return all(in_scope(user, r.org_unit) for r in target.roles if r.role in ORG_ROLES)


def can_create_user(user, school: OrgUnit | None = None) -> bool:
    if school is None:
        return is_admin(user)
    return in_scope(user, school)


def can_set_user_active(user, target: User) -> bool:
    return can_edit_user(user, target) and real_user(target).id != real_user(user).id


def can_reset_password(user, target: User) -> bool:
    return can_edit_user(user, target) and real_user(target).id != real_user(user).id


def can_grant_role(user, target: User, unit: OrgUnit | None = None) -> bool:
    """Grant org admin or expert on a unit of the admin's scope (unit None: is any grant possible)."""
    if not can_edit_user(user, target) or not real_user(target).is_active:
        return False
    return unit is None or in_scope(user, unit)


def can_revoke_role(user, assignment: RoleAssignment) -> bool:
    if assignment.role not in ORG_ROLES or not in_scope(user, assignment.org_unit):
        return False
    if assignment.user_id == real_user(user).id:
        return False  # an admin does not lock themselves out; another admin does it
    return can_view_user(user, assignment.user)


def users_in_scope_clause(user):
    """A WHERE clause on User: the users the admin may see (see user_anchor_paths)."""
    paths = scope_paths(user)
    if "/" in paths:
        return true()
    if not paths:
        return false()
    classes = _classes()
    school_ids = select(OrgUnit.id).where(unit_scope_clause(OrgUnit.path, user))
    by_role = exists(
        select(RoleAssignment.id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(RoleAssignment.user_id == User.id, unit_scope_clause(OrgUnit.path, user))
    )
    by_class = exists(
        select(RoleAssignment.id)
        .join(classes, classes.c.id == RoleAssignment.class_id)
        .join(OrgUnit, OrgUnit.id == classes.c.org_unit_id)
        .where(RoleAssignment.user_id == User.id, unit_scope_clause(OrgUnit.path, user))
    )
    return or_(User.school_id.in_(school_ids), and_(User.school_id.is_(None), or_(by_role, by_class)))


# ---------------------------------------------------------------- import and export
def can_import_users(user, _obj=None) -> bool:
    return is_admin(user)


def can_export_users(user, _obj=None) -> bool:
    return is_admin(user)
