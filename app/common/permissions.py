"""The scope library every feature's permissions.py builds on: who administers which part of the org tree.

Scope rule: a site admin administers everything; an org admin administers the subtree of each
unit where they hold the org_admin role; nobody else administers anything. Staff of a class
(tutor, class manager) and its learners are found by their class roles.
"""
from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import false, or_, select, true

from app.accounts.models import OrgUnit, RoleAssignment
from app.extensions import db


def real_user(user):
    """Return the user object behind Flask-Login's current_user proxy (or the user itself)."""
    getter = getattr(user, "_get_current_object", None)
    return getter() if getter is not None else user


def scope_paths(user) -> tuple[str, ...]:
    """Return the org paths the user administers ("/" for a site admin), cached on the user object."""
    user = real_user(user)
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


def in_scope(user, unit: OrgUnit | int | None) -> bool:
    """True when the unit (or the unit with that id) lies in a subtree the user administers."""
    if isinstance(unit, int):
        unit = db.session.get(OrgUnit, unit)
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


def class_ids_with_role(user, *roles: str) -> set[int]:
    """Ids of the classes where the user holds one of the roles."""
    user = real_user(user)
    if not user or not user.is_authenticated:
        return set()
    return {r.class_id for r in user.roles if r.class_id and r.role in roles}


def staff_class_ids(user) -> set[int]:
    return class_ids_with_role(user, "tutor", "class_manager")


def learner_class_ids(user_id: int) -> set[int]:
    rows = db.session.execute(
        select(RoleAssignment.class_id).where(RoleAssignment.user_id == user_id, RoleAssignment.role == "learner")
    ).scalars()
    return {c for c in rows if c}


def admin_required(view):
    """Require an org admin or site admin (403 otherwise); the object checks stay in the view."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            from app.extensions import login_manager

            return login_manager.unauthorized()
        if not is_admin(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper
