"""Which homes a person may use: one per kind of work their roles give them.

A home is where a role lands after sign-in. A person with several roles (a teacher who is a learner in
one project and the tutor of a class in another) may use each of their homes and switch between them.
"""
from sqlalchemy import exists, select

from app.common.permissions import real_user
from app.courses.models import Enrollment
from app.extensions import db

#: the homes in landing order: a person without a chosen role lands on the first they may use
HOMES = ("site_admin", "org_admin", "class_staff", "expert", "learner")
#: the roles that open each home (the learner home is also open to anyone enrolled, and to whoever has no other)
HOME_ROLES = {"site_admin": ("site_admin",), "org_admin": ("org_admin",), "class_staff": ("tutor", "class_manager"),
              "expert": ("expert",), "learner": ("learner",)}


def get_homes(user) -> tuple[str, ...]:
    """The homes the user may use, in landing order (none for a visitor)."""
    user = real_user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    cached = getattr(user, "_xueshi_homes", None)
    if cached is not None:
        return cached
    held = {r.role for r in user.roles}
    homes = [home for home in HOMES if home != "learner" and held & set(HOME_ROLES[home])]
    if "learner" in held or not homes or db.session.execute(
            select(exists().where(Enrollment.user_id == user.id))).scalar():
        homes.append("learner")
    user._xueshi_homes = tuple(homes)
    return user._xueshi_homes


def can_use_home(user, home: str) -> bool:
    return home in get_homes(user)
