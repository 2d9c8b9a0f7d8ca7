"""Use cases of classes: create, roster, capacity, and the figures of the staff's home."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from app.accounts.models import RoleAssignment, User
from app.classrooms import rules
from app.classrooms.models import MAX_CLASS_SIZE, Class_
from app.classrooms.permissions import staff_class_ids_stmt
from app.common.exceptions import Conflict, Invalid
from app.courses.models import Project
from app.extensions import db


def do_create_class(project: Project, name: str, org_unit, *, learning_center=None, subject: str | None = None,
                    stage: str | None = None, is_workshop: bool = False, capacity: int = MAX_CLASS_SIZE) -> Class_:
    if not 1 <= capacity <= MAX_CLASS_SIZE:
        raise Invalid(_("A class has at most %(n)d learners.", n=MAX_CLASS_SIZE), code="capacity")
    cls = Class_(project_id=project.id, name=name, org_unit_id=org_unit.id,
                 learning_center_id=learning_center.id if learning_center else None,
                 subject=subject, stage=stage, is_workshop=is_workshop, capacity=capacity)
    db.session.add(cls)
    db.session.flush()
    return cls


def count_learners(cls: Class_) -> int:
    return db.session.execute(
        select(func.count()).select_from(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.role == "learner")
    ).scalar_one()


def get_class_members(cls: Class_, role: str | None = None) -> list[tuple[User, str]]:
    stmt = select(User, RoleAssignment.role).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
        RoleAssignment.class_id == cls.id
    )
    if role:
        stmt = stmt.where(RoleAssignment.role == role)
    return [(row.User, row.role) for row in db.session.execute(stmt.order_by(RoleAssignment.role, User.username_key))]


# ---------------------------------------------------------------- administration
STAFF_ROLES = ("tutor", "class_manager")


def get_class(class_id: int) -> Class_:
    from app.common.exceptions import NotFound

    cls = db.session.get(Class_, class_id)
    if cls is None:
        raise NotFound(_("No such class."))
    return cls


def do_update_class(cls: Class_, **fields) -> Class_:
    for name, value in fields.items():
        setattr(cls, name, value)
    return cls


def get_learner_classes(project_id: int, user_ids: list[int]) -> dict[int, Class_]:
    """Map user id -> the class of the project where that user is a learner."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(RoleAssignment.user_id, Class_)
        .join(Class_, Class_.id == RoleAssignment.class_id)
        .where(Class_.project_id == project_id, RoleAssignment.role == "learner", RoleAssignment.user_id.in_(user_ids))
    ).all()
    return {row[0]: row[1] for row in rows}


def check_add_learners(cls: Class_, users: list[User]) -> int:
    """Add learners to the class: all enrolled in its project, in no other class of it, and room for all.

    Adds nobody when one of them is refused; returns how many were added (members already in it are skipped).
    """
    from app.courses.models import Enrollment

    ids = [u.id for u in users]
    enrolled = set(db.session.execute(
        select(Enrollment.user_id).where(Enrollment.project_id == cls.project_id, Enrollment.user_id.in_(ids))
    ).scalars()) if ids else set()
    not_enrolled = [u for u in users if u.id not in enrolled]
    if not_enrolled:
        raise Invalid(_("Not enrolled in this training project: %(names)s. Enrol them first.",
                        names=", ".join(u.username for u in not_enrolled)), code="not_enrolled")
    current = get_learner_classes(cls.project_id, ids)
    elsewhere = [u for u in users if u.id in current and current[u.id].id != cls.id]
    if elsewhere:
        raise Conflict(_("Already in another class of this project: %(names)s.",
                         names=", ".join(f"{u.username} ({current[u.id].name})" for u in elsewhere)), code="other_class")
    new = [u for u in users if u.id not in current]
    room = cls.capacity - count_learners(cls)
    if len(new) > room:
        raise Conflict(_("The class %(name)s is full: it has room for %(room)d more learners, you chose %(n)d.",
                         name=cls.name, room=max(room, 0), n=len(new)), code="class_full")
    for user in new:
        db.session.add(RoleAssignment(user_id=user.id, role="learner", class_id=cls.id))
    db.session.flush()
    return len(new)


def do_remove_learner(cls: Class_, user: User) -> bool:
    from sqlalchemy import delete

    result = db.session.execute(
        delete(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.user_id == user.id,
                                     RoleAssignment.role == "learner")
    )
    return bool(result.rowcount)


def do_set_staff(cls: Class_, role: str, user: User | None) -> None:
    """Make user the class's tutor or class manager (workshop leader), replacing the previous one."""
    from sqlalchemy import delete

    if role not in STAFF_ROLES:
        raise Invalid(_("Unknown class role."), code="role")
    if user is not None and not user.is_active:
        raise Invalid(_("%(name)s is deactivated.", name=user.username), code="username")
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.role == role))
    if user is not None:
        db.session.add(RoleAssignment(user_id=user.id, role=role, class_id=cls.id))
    db.session.flush()


def get_class_staff(cls: Class_) -> dict[str, list[User]]:
    staff: dict[str, list[User]] = {role: [] for role in STAFF_ROLES}
    for user, role in get_class_members(cls):
        if role in staff:
            staff[role].append(user)
    return staff


def get_free_seats(cls: Class_) -> int:
    """Return how many more learners the class can take (never below 0)."""
    return max(cls.capacity - count_learners(cls), 0)


def get_class_roles(user: User) -> list[tuple[str, Class_]]:
    """Return the user's roles in classes with the classes (for the admin's user page)."""
    return [(row[0], row[1]) for row in db.session.execute(
        select(RoleAssignment.role, Class_).join(Class_, Class_.id == RoleAssignment.class_id)
        .where(RoleAssignment.user_id == user.id)
    )]


def get_admin_counts(admin: User) -> dict[str, int]:
    """Count the classes in the admin's scope (for the admin dashboard)."""
    from app.accounts.models import OrgUnit
    from app.common.permissions import unit_scope_clause

    return {"classes": db.session.execute(
        select(func.count(Class_.id)).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(unit_scope_clause(OrgUnit.path, admin))).scalar_one()}


# ---------------------------------------------------------------- the home of a class's staff
def required_ms(project: Project) -> int:
    """The project's required learning hours in credited milliseconds."""
    return int(project.required_hours * project.minutes_per_hour * 60 * 1000)


def project_today(project: Project, now: datetime) -> date:
    """The calendar day of the project's time zone at the instant now."""
    return now.astimezone(ZoneInfo(project.timezone)).date()


def get_staff_classes(user: User) -> list[Class_]:
    """The classes where the user is tutor or class manager, by name."""
    return list(db.session.execute(
        select(Class_).where(Class_.id.in_(staff_class_ids_stmt(user)))
        .options(selectinload(Class_.project), selectinload(Class_.org_unit), selectinload(Class_.learning_center))
        .order_by(Class_.name)
    ).scalars())


def get_class_credits(classes: list[Class_]) -> dict[int, dict[int, int]]:
    """Map class id -> {learner id: credited ms in the class's project}, from the stored lesson totals."""
    from app.tracking.models import LessonProgress

    credits: dict[int, dict[int, int]] = {cls.id: {} for cls in classes}
    if not classes:
        return credits
    rows = db.session.execute(
        select(RoleAssignment.class_id, RoleAssignment.user_id, func.coalesce(func.sum(LessonProgress.credited_ms), 0))
        .join(Class_, Class_.id == RoleAssignment.class_id)
        .outerjoin(LessonProgress, and_(LessonProgress.user_id == RoleAssignment.user_id,
                                        LessonProgress.project_id == Class_.project_id))
        .where(RoleAssignment.class_id.in_(list(credits)), RoleAssignment.role == "learner")
        .group_by(RoleAssignment.class_id, RoleAssignment.user_id)
        .order_by(RoleAssignment.class_id, RoleAssignment.user_id)
    ).all()
    for class_id, user_id, ms in rows:
        credits[class_id][user_id] = int(ms)
    return credits


def get_class_homes(user: User, now: datetime) -> list[dict]:
    """Each class the user staffs with its figures at a glance (rules.class_figures) and the learners they name."""
    classes = get_staff_classes(user)
    credits = get_class_credits(classes)
    figures = {}
    for cls in classes:
        share = rules.elapsed_share(cls.project.starts_on, cls.project.ends_on, project_today(cls.project, now))
        figures[cls.id] = (rules.class_figures(credits[cls.id], required_ms(cls.project), share), share)
    named = {lag.user_id for f, _s in figures.values() for lag in f.laggards}
    named |= {uid for f, _s in figures.values() for uid in f.not_started}
    people = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(named))).scalars()} if named else {}
    roles = {r.class_id: r.role for r in user.roles if r.class_id and r.role in STAFF_ROLES}
    return [{"cls": cls, "figures": figures[cls.id][0], "share": figures[cls.id][1], "people": people,
             "role": roles.get(cls.id)} for cls in classes]


def learning_hours(ms: int, project: Project) -> float:
    """Credited milliseconds as the project's learning hours (R12, rounded down to 0.1)."""
    from app.tracking.rules import learning_hours as hours

    return hours(ms, project.minutes_per_hour)
