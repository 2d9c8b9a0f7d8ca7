"""Use cases of accounts: org units, users, roles."""
import re
import secrets

from argon2 import PasswordHasher
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts import auth
from app.accounts.labels import LABELS
from app.accounts.models import CLASS_ROLES, ORG_KINDS, ROLES, OrgUnit, RoleAssignment, User
from app.common.exceptions import Conflict, Invalid, NotFound
from app.extensions import db

#: An 11-digit mainland mobile number: ASCII digits only (``\d`` would also take "１" and "١"), no trailing newline.
PHONE_RE = re.compile(r"^1[0-9]{10}\Z")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}\Z")
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
    """Give the user a role in an org unit or a class (idempotent).

    A class's room is not checked here: seating learners is the classrooms service's work.
    """
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
    assignment = RoleAssignment(user_id=user.id, role=role, org_unit_id=org_unit.id if org_unit else None,
                                class_id=class_.id if class_ is not None else None)
    db.session.add(assignment)
    db.session.flush()
    db.session.expire(user, ["roles"])
    return assignment


# ---------------------------------------------------------------- administration (org units, users, roles)
#: kinds ranked from the top; a child is always deeper than its parent (learning centers go anywhere)
KIND_RANK = {"province": 0, "city": 1, "county": 2, "school": 3}
ROOT_KINDS = ("province", "city", "county")
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: Argon2id with OWASP's minimum cost (12 MiB, t=3): for secrets created in bulk (imports, cards)
#: whose holders are made to replace them; hashing stays out of the write transaction either way.
_bulk_hasher = PasswordHasher(time_cost=3, memory_cost=12288, parallelism=1)


def hash_bulk_secret(secret: str) -> str:
    """Hash a generated or imported secret cheaply enough for thousands at once (verify as usual)."""
    return _bulk_hasher.hash(secret)


def generate_password(length: int = 10) -> str:
    """Return a random password of letters and digits (never ambiguous 0/O, 1/l/I)."""
    while True:
        candidate = "".join(secrets.choice(_PASSWORD_ALPHABET) for _i in range(length))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def get_org_unit(unit_id: int) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(_("No such org unit."))
    return unit


def allowed_child_kinds(parent: OrgUnit | None) -> tuple[str, ...]:
    """Kinds a new unit under parent may have (roots when parent is None)."""
    if parent is None:
        return ROOT_KINDS
    if parent.kind == "learning_center":
        return ()
    rank = KIND_RANK[parent.kind]
    return tuple(k for k, r in KIND_RANK.items() if r > rank) + ("learning_center",)


def check_child_kind(parent: OrgUnit | None, kind: str) -> None:
    if kind not in allowed_child_kinds(parent):
        if parent is None:
            raise Invalid(_("A top-level unit must be a province, a city or a county."), code="kind")
        if parent.kind == "learning_center":
            raise Invalid(_("A learning center cannot contain other units."), code="parent_id")
        labels = LABELS["org_kind"]
        raise Invalid(_("A %(kind)s cannot be placed under a %(parent)s.", kind=labels.get(kind, kind),
                        parent=labels.get(parent.kind, parent.kind)), code="kind")


def check_create_org_unit(parent: OrgUnit | None, name: str, kind: str, code: str | None = None) -> OrgUnit:
    """Validate the kind against the parent, then create the unit."""
    check_child_kind(parent, kind)
    return do_create_org_unit(name, kind, parent, (code or "").strip() or None)


def do_update_org_unit(unit: OrgUnit, *, name: str, code: str | None) -> OrgUnit:
    """Rename a unit and set (or clear) its code."""
    name = (name or "").strip()
    if not name:
        raise Invalid(_("Give the org unit a name."), code="name")
    code = (code or "").strip() or None
    if code:
        other = get_org_unit_by_code(code)
        if other is not None and other.id != unit.id:
            raise Conflict(_("The code %(code)s is already used by %(name)s.", code=code, name=other.name), code="code")
    unit.name = name
    unit.code = code
    return unit


def do_move_org_unit(unit: OrgUnit, new_parent: OrgUnit) -> OrgUnit:
    """Put a unit (and its subtree) under another parent, rewriting the subtree's paths."""
    if unit.parent_id is None:
        raise Invalid(_("A top-level unit cannot be moved."), code="parent_id")
    if new_parent.path.startswith(unit.path):
        raise Invalid(_("A unit cannot be moved into its own subtree."), code="parent_id")
    if new_parent.id == unit.parent_id:
        return unit
    check_child_kind(new_parent, unit.kind)
    old_prefix = unit.path
    new_prefix = new_parent.path + f"{unit.id}/"
    for node in db.session.execute(select(OrgUnit).where(OrgUnit.path.like(old_prefix + "%"))).scalars():
        node.path = new_prefix + node.path[len(old_prefix):]
    unit.parent_id = new_parent.id
    return unit


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def check_update_user(user: User, *, real_name: str, teacher_no: str | None, phone: str | None,
                      school: OrgUnit | None, subject: str | None, stage: str | None) -> dict[str, str]:
    """Return {field: message} for the problems of an edit; empty means the edit may be saved."""
    problems = check_user_fields(teacher_no=teacher_no, phone=phone, stage=stage, exclude_user_id=user.id)
    if not (real_name or "").strip():
        problems["real_name"] = _("Enter the real name.")
    return problems


def do_update_user(user: User, *, real_name: str, teacher_no: str | None, phone: str | None,
                   school: OrgUnit | None, subject: str | None, stage: str | None) -> User:
    problems = check_update_user(user, real_name=real_name, teacher_no=teacher_no, phone=phone, school=school,
                                 subject=subject, stage=stage)
    if problems:
        field, message = next(iter(problems.items()))
        raise Invalid(message, code=field)
    user.real_name = real_name.strip()
    user.teacher_no = (teacher_no or "").strip() or None
    user.phone = (phone or "").strip() or None
    user.school_id = school.id if school else None
    user.subject = (subject or "").strip() or None
    user.stage = stage or None
    return user



def do_set_email(user: User, email: str | None) -> User:
    """Set (or clear, with an empty value) the address the user's notifications are e-mailed to."""
    user.email = (email or "").strip() or None
    return user

def do_set_user_active(user: User, is_active: bool) -> None:
    """Activate or deactivate a user; deactivation signs them out everywhere (sessions and tokens)."""
    user.is_active_flag = bool(is_active)
    if not is_active:
        auth.do_revoke_all(user)


def do_admin_reset_password(user: User) -> str:
    """Give the user a temporary password (returned, shown once) they must change at next sign-in."""
    password = generate_password(12)
    user.password_hash = auth.hash_password(password)
    user.password_change_reason = "reset"
    auth.do_revoke_all(user)
    return password


def check_grant_org_role(user: User, role: str, unit: OrgUnit) -> RoleAssignment:
    """Grant org admin or expert on a unit (idempotent)."""
    if role not in ("org_admin", "expert"):
        raise Invalid(_("Only the org admin and expert roles are granted here."), code="role")
    if not user.is_active:
        raise Invalid(_("Activate the user before granting a role."), code="role")
    return do_assign_role(user, role, org_unit=unit)


def do_revoke_role(assignment: RoleAssignment) -> None:
    user = assignment.user
    db.session.delete(assignment)
    db.session.flush()
    db.session.expire(user, ["roles"])


def get_admin_counts(admin: User) -> dict[str, int]:
    """Count the org units and users in the admin's scope (for the admin dashboard)."""
    from app.accounts.permissions import users_in_scope_clause
    from app.common.permissions import unit_scope_clause

    return {
        "units": db.session.execute(select(func.count(OrgUnit.id)).where(unit_scope_clause(OrgUnit.path, admin))).scalar_one(),
        "users": db.session.execute(select(func.count(User.id)).where(users_in_scope_clause(admin))).scalar_one(),
    }
