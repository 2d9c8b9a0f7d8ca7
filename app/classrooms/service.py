"""Use cases of classes: create, roster, capacity."""
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts.models import RoleAssignment, User
from app.classrooms.models import MAX_CLASS_SIZE, Class_
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


def check_class_has_room(cls: Class_) -> None:
    if count_learners(cls) >= cls.capacity:
        raise Conflict(_("The class %(name)s is full (%(n)d learners).", name=cls.name, n=cls.capacity), code="class_full")


def get_class_members(cls: Class_, role: str | None = None) -> list[tuple[User, str]]:
    stmt = select(User, RoleAssignment.role).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
        RoleAssignment.class_id == cls.id
    )
    if role:
        stmt = stmt.where(RoleAssignment.role == role)
    return [(row.User, row.role) for row in db.session.execute(stmt.order_by(RoleAssignment.role, User.username))]
