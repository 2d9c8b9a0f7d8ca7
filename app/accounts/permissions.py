"""Who may administer which org units, users, roles and imports: the one place that decides.

Scope rule (used by every admin feature): a site admin administers everything; an org
admin administers the subtree of each unit where they hold the org_admin role; nobody
else administers anything. Views answer 404 for an object outside the admin's scope
(its existence is not revealed) and 403 for an object they may see but not change.
"""
from sqlalchemy import and_, exists, false, or_, select, true

from app.accounts.models import ORG_ROLES, OrgUnit, RoleAssignment, User
from app.extensions import db


def _real(user):
    getter = getattr(user, "_get_current_object", None)
    return getter() if getter is not None else user


def scope_paths(user) -> tuple[str, ...]:
    """Return the org paths the user administers ("/" for a site admin), cached on the user object."""
    user = _real(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    key = tuple(sorted((r.role, r.org_unit_id or 0) for r in user.roles))
    cached = getattr(user, "_xueshi_scope", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if user.is_site_admin:
        paths: tuple[str, ...] = ("/",)
    else:
        ids = [r.org_unit_id for r in user.roles if r.role == "org_admin" and r.org_unit_id]
        paths = tuple(db.session.execute(select(OrgUnit.path).where(OrgUnit.id.in_(ids))).scalars()) if ids else ()
    user._xueshi_scope = (key, paths)
    return paths


def is_admin(user) -> bool:
    return bool(scope_paths(user))


def path_in_scope(user, path: str | None) -> bool:
    return bool(path) and any(path.startswith(p) for p in scope_paths(user))


def in_scope(user, unit: OrgUnit | None) -> bool:
    """True when the unit lies in a subtree the user administers."""
    return unit is not None and path_in_scope(user, unit.path)


def covers_scope(user, unit: OrgUnit | None) -> bool:
    """True when the unit is an ancestor (or the root) of a unit the user administers.

    Objects owned by such a unit (a province project, a county course) reach into the
    admin's area: the admin may see them and work with them, but not change them.
    """
    return unit is not None and bool(unit.path) and any(p.startswith(unit.path) for p in scope_paths(user))


def ancestor_ids(user) -> set[int]:
    """Ids of every unit on the way from a root down to each unit the user administers."""
    ids: set[int] = set()
    for path in scope_paths(user):
        ids.update(int(part) for part in path.strip("/").split("/") if part)
    return ids


def unit_scope_clause(column, user):
    """A WHERE clause limiting an OrgUnit.path column to the user's subtrees."""
    paths = scope_paths(user)
    if "/" in paths:
        return true()
    if not paths:
        return false()
    return or_(*[column.like(p + "%") for p in paths])


def visible_unit_clause(unit_path_column, unit_id_column, user):
    """Units in the user's subtrees or above them (owners of objects an admin may see)."""
    ids = ancestor_ids(user)
    clause = unit_scope_clause(unit_path_column, user)
    return or_(clause, unit_id_column.in_(ids)) if ids else clause


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
def user_anchor_paths(target: User) -> list[str]:
    """Where a user belongs in the tree: their school, else the units of their roles and classes."""
    if target.school_id:
        school = target.school or db.session.get(OrgUnit, target.school_id)
        return [school.path] if school else []
    paths = [r.org_unit.path for r in target.roles if r.org_unit_id and r.org_unit is not None]
    class_ids = [r.class_id for r in target.roles if r.class_id]
    if class_ids:
        from app.classrooms.models import Class_

        paths += list(db.session.execute(
            select(OrgUnit.path).join(Class_, Class_.org_unit_id == OrgUnit.id).where(Class_.id.in_(class_ids))
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
    return can_edit_user(user, target) and _real(target).id != _real(user).id


def can_reset_password(user, target: User) -> bool:
    return can_edit_user(user, target) and _real(target).id != _real(user).id


def can_grant_role(user, target: User, unit: OrgUnit | None = None) -> bool:
    """Grant org admin or expert on a unit of the admin's scope (unit None: is any grant possible)."""
    if not can_edit_user(user, target) or not _real(target).is_active:
        return False
    return unit is None or in_scope(user, unit)


def can_revoke_role(user, assignment: RoleAssignment) -> bool:
    if assignment.role not in ORG_ROLES or not in_scope(user, assignment.org_unit):
        return False
    if assignment.user_id == _real(user).id:
        return False  # an admin does not lock themselves out; another admin does it
    return can_view_user(user, assignment.user)


def users_in_scope_clause(user):
    """A WHERE clause on User: the users the admin may see (see user_anchor_paths)."""
    paths = scope_paths(user)
    if "/" in paths:
        return true()
    if not paths:
        return false()
    from app.classrooms.models import Class_

    school_ids = select(OrgUnit.id).where(unit_scope_clause(OrgUnit.path, user))
    by_role = exists(
        select(RoleAssignment.id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(RoleAssignment.user_id == User.id, unit_scope_clause(OrgUnit.path, user))
    )
    by_class = exists(
        select(RoleAssignment.id)
        .join(Class_, Class_.id == RoleAssignment.class_id)
        .join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(RoleAssignment.user_id == User.id, unit_scope_clause(OrgUnit.path, user))
    )
    return or_(User.school_id.in_(school_ids), and_(User.school_id.is_(None), or_(by_role, by_class)))


# ---------------------------------------------------------------- import and export
def can_import_users(user, _obj=None) -> bool:
    return is_admin(user)


def can_export_users(user, _obj=None) -> bool:
    return is_admin(user)


def template_permissions() -> dict:
    """Every can_* helper of the admin features, for templates."""
    import sys

    from app.classrooms import permissions as class_perms
    from app.courses import permissions as course_perms

    found = {}
    for module in (sys.modules[__name__], course_perms, class_perms):
        found.update({name: getattr(module, name) for name in dir(module) if name.startswith("can_")})
    return found
