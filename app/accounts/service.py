"""Use cases of accounts: org units, users, roles."""
import re

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts import auth
from app.accounts.models import CLASS_ROLES, ORG_KINDS, ROLES, OrgUnit, RoleAssignment, User
from app.common.exceptions import Conflict, Invalid
from app.extensions import db

PHONE_RE = re.compile(r"^1\d{10}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
STAGES = ("kindergarten", "primary", "junior", "senior", "vocational")


def get_org_unit_by_code(code: str) -> OrgUnit | None:
    return db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()


def do_create_org_unit(name: str, kind: str, parent: OrgUnit | None = None, code: str | None = None) -> OrgUnit:
    """Add an org unit under parent (None for a root) and compute its path."""
    if kind not in ORG_KINDS:
        raise Invalid(_("Unknown kind of org unit: %(kind)s", kind=kind), code="kind")
    if not name or not name.strip():
        raise Invalid(_("Give the org unit a name."), code="name")
    if code and get_org_unit_by_code(code.strip()):
        raise Conflict(_("The code %(code)s is already used by another org unit.", code=code), code="code")
    unit = OrgUnit(name=name.strip(), kind=kind, parent_id=parent.id if parent else None, code=(code or None) and code.strip())
    db.session.add(unit)
    db.session.flush()
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    return unit


def get_subtree_ids(unit: OrgUnit) -> list[int]:
    return list(db.session.execute(select(OrgUnit.id).where(OrgUnit.path.like(unit.path + "%"))).scalars())


def check_user_fields(*, username: str | None = None, teacher_no: str | None = None, phone: str | None = None,
                      stage: str | None = None, exclude_user_id: int | None = None) -> dict[str, str]:
    """Return {field: message} for every problem with these user fields (empty when all is well)."""
    problems: dict[str, str] = {}
    if username is not None:
        if not USERNAME_RE.match(username):
            problems["username"] = _("Use 3–64 letters, digits, dot, dash or underscore.")
        else:
            stmt = select(User.id).where(func.lower(User.username) == username.lower())
            if exclude_user_id:
                stmt = stmt.where(User.id != exclude_user_id)
            if db.session.execute(stmt).first():
                problems["username"] = _("The username %(name)s is taken.", name=username)
    if teacher_no:
        stmt = select(User.id).where(User.teacher_no == teacher_no)
        if exclude_user_id:
            stmt = stmt.where(User.id != exclude_user_id)
        if db.session.execute(stmt).first():
            problems["teacher_no"] = _("The teacher number %(no)s is already registered.", no=teacher_no)
    if phone and not PHONE_RE.match(phone):
        problems["phone"] = _("%(phone)s is not an 11-digit mobile number.", phone=phone)
    if stage and stage not in STAGES:
        problems["stage"] = _("Unknown stage %(stage)s.", stage=stage)
    return problems


def do_create_user(username: str, password: str, *, real_name: str = "", teacher_no: str | None = None,
                   phone: str | None = None, school: OrgUnit | None = None, subject: str | None = None,
                   stage: str | None = None, check: bool = True) -> User:
    """Create a user; with check, refuse bad or duplicate fields with Invalid."""
    if check:
        problems = check_user_fields(username=username, teacher_no=teacher_no, phone=phone, stage=stage)
        if problems:
            field, message = next(iter(problems.items()))
            raise Invalid(message, code=field)
    user = User(username=username, password_hash=auth.hash_password(password), real_name=real_name,
                teacher_no=teacher_no or None, phone=phone or None, school_id=school.id if school else None,
                subject=subject, stage=stage)
    db.session.add(user)
    db.session.flush()
    return user


def do_assign_role(user: User, role: str, *, org_unit: OrgUnit | None = None, class_=None) -> RoleAssignment:
    """Give the user a role in an org unit or a class (idempotent)."""
    if role not in ROLES:
        raise Invalid(_("Unknown role %(role)s.", role=role), code="role")
    if role in CLASS_ROLES and class_ is None:
        raise Invalid(_("This role belongs to a class."), code="class_id")
    existing = db.session.execute(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.org_unit_id == org_unit.id if org_unit else RoleAssignment.org_unit_id.is_(None),
            RoleAssignment.class_id == class_.id if class_ is not None else RoleAssignment.class_id.is_(None),
        )
    ).scalar_one_or_none()
    if existing:
        return existing
    if role == "learner" and class_ is not None:
        from app.classrooms.service import check_class_has_room

        check_class_has_room(class_)
    assignment = RoleAssignment(user_id=user.id, role=role, org_unit_id=org_unit.id if org_unit else None,
                                class_id=class_.id if class_ is not None else None)
    db.session.add(assignment)
    db.session.flush()
    db.session.expire(user, ["roles"])
    return assignment
