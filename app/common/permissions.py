"""Scope helpers every feature's permissions.py builds on: who administers which part of the org tree."""
from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, or_, select

from app.accounts.models import OrgUnit, RoleAssignment, User
from app.extensions import db


def admin_paths(user: User) -> list[str]:
    """Return the org paths the user administers (org admin roles); site admins get ["/"]."""
    if not user or not user.is_authenticated:
        return []
    if user.is_site_admin:
        return ["/"]
    unit_ids = [r.org_unit_id for r in user.roles if r.role == "org_admin" and r.org_unit_id]
    if not unit_ids:
        return []
    return list(db.session.execute(select(OrgUnit.path).where(OrgUnit.id.in_(unit_ids))).scalars())


def is_admin(user: User) -> bool:
    return bool(admin_paths(user))


def path_in_scope(path: str | None, paths: list[str]) -> bool:
    return bool(path) and any(path.startswith(p) for p in paths)


def is_org_in_scope(user: User, org_unit: OrgUnit | int | None) -> bool:
    """True when the org unit lies in the subtree of a unit the user administers."""
    if org_unit is None:
        return bool(user and user.is_authenticated and user.is_site_admin)
    if isinstance(org_unit, int):
        org_unit = db.session.get(OrgUnit, org_unit)
        if org_unit is None:
            return False
    return path_in_scope(org_unit.path, admin_paths(user))


def scope_filter(column, user: User):
    """A WHERE clause limiting an OrgUnit.path column to the user's admin subtrees."""
    paths = admin_paths(user)
    if "/" in paths:
        return column.is_not(None)
    if not paths:
        return column.is_(None) & column.is_not(None)  # matches nothing
    return or_(*[column.like(p + "%") for p in paths])


def org_units_in_scope(user: User) -> Select:
    """A select of the org units the user administers, in tree order."""
    return select(OrgUnit).where(scope_filter(OrgUnit.path, user)).order_by(OrgUnit.path)


def class_ids_with_role(user: User, *roles: str) -> set[int]:
    """Ids of the classes where the user holds one of the roles."""
    if not user or not user.is_authenticated:
        return set()
    return {r.class_id for r in user.roles if r.class_id and r.role in roles}


def staff_class_ids(user: User) -> set[int]:
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
