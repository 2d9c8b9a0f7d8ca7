"""Accounts: the org tree, users, roles, login sessions, API tokens, learning cards, sign-in failures."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.accounts.rules import natural_key

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

ORG_KINDS = ("province", "city", "county", "school", "learning_center")
ROLES = ("learner", "tutor", "class_manager", "expert", "org_admin", "site_admin")
CLASS_ROLES = ("learner", "tutor", "class_manager")
#: why a user must choose a new password: a new account (imported or made by an admin), an admin reset
PASSWORD_CHANGE_REASONS = ("new", "reset")
ORG_ROLES = ("expert", "org_admin")


def _now() -> datetime:
    return clock.now()


class OrgUnit(db.Model):
    """A node of the org tree: province > city > county > school; learning centers under any node."""

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: display name, e.g. "江南省" or "城关第一小学"
    name: Mapped[str] = mapped_column(String(120))
    #: one of ORG_KINDS
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    #: materialised path of ids, "/1/4/9/": a subtree is `path LIKE '/1/4/%'`
    path: Mapped[str] = mapped_column(String(255), default="", index=True)
    #: short code used by imports ("school code"), unique when set
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    parent: Mapped["OrgUnit | None"] = relationship(remote_side=[id])

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def __repr__(self) -> str:
        return f"<OrgUnit {self.id} {self.kind} {self.name}>"


class User(UserMixin, db.Model):
    """A person with an account: a teacher, a tutor, an administrator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("password_change_reason IN ('new', 'reset')", name="password_change_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: accounts.rules.natural_key(username): lists of people sort by it (learner2 before learner10)
    username_key: Mapped[str] = mapped_column(
        String(160), index=True, default=lambda ctx: natural_key(ctx.get_current_parameters()["username"]))
    #: argon2 hash; never the password
    password_hash: Mapped[str] = mapped_column(String(255))
    real_name: Mapped[str] = mapped_column(String(64), default="")
    #: teacher number (教师编号), unique across the site when set
    teacher_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: where e-mail copies of notifications go (app.notifications); None: in-app only
    email: Mapped[str | None] = mapped_column(String(254))
    #: the teacher's school, or a staff member's home org unit
    school_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    subject: Mapped[str | None] = mapped_column(String(40))
    #: school stage: primary, junior, senior, kindergarten, vocational
    stage: Mapped[str | None] = mapped_column(String(20))
    #: preferred UI language (zh_CN or en); None follows the site default
    locale: Mapped[str | None] = mapped_column(String(10))
    is_active_flag: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    #: why the user must choose a new password before anything else (one of PASSWORD_CHANGE_REASONS):
    #: "new" for an account an administrator made or imported, "reset" after an admin reset; None: no change due
    password_change_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    school: Mapped[OrgUnit | None] = relationship()
    roles: Mapped[list["RoleAssignment"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    #: the login session this request is authenticated by (set by the user loader)
    current_session_id = None

    @validates("username")
    def _keep_username_key(self, _key: str, username: str) -> str:
        self.username_key = natural_key(username)
        return username

    @property
    def must_change_password(self) -> bool:
        return self.password_change_reason is not None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.is_active_flag)

    def get_id(self) -> str:  # Flask-Login stores the login session id, not the user id
        return self.current_session_id or ""

    @property
    def display_name(self) -> str:
        return self.real_name or self.username

    def has_role(self, role: str) -> bool:
        return any(r.role == role for r in self.roles)

    @property
    def is_site_admin(self) -> bool:
        return self.has_role("site_admin")

    @property
    def is_staff(self) -> bool:
        return any(r.role != "learner" for r in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RoleAssignment(db.Model):
    """A role held by a user, scoped to an org unit (org admin, expert) or a class (learner, tutor, class manager)."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "org_unit_id", "class_id", name="uq_role_assignments_scope"),
        Index("ix_role_assignments_class_role", "class_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: one of ROLES
    role: Mapped[str] = mapped_column(String(20))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    user: Mapped[User] = relationship(back_populates="roles")
    org_unit: Mapped[OrgUnit | None] = relationship()


class LoginSession(db.Model):
    """A server-side browser login; revoking it makes its cookie worthless."""

    __tablename__ = "login_sessions"

    #: random id stored in the signed session cookie
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(255))
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A revocable Bearer token for the JSON API (only its hash is stored)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: sha256 hex of the token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class LearningCard(db.Model):
    """A learning card (学习卡): number + PIN, single use, bound to a project."""

    __tablename__ = "learning_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    #: printed card number, unique
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: argon2 hash of the PIN
    pin_hash: Mapped[str] = mapped_column(String(255))
    #: the generation batch, for listing and revoking a print run
    batch: Mapped[str] = mapped_column(String(32), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    project = relationship("Project")


SIGN_IN_SCOPES = ("account", "address", "card")


class SignInFailure(db.Model):
    """A failed guess (a password, a card PIN), or an attempt still being checked; counted by accounts.limits.

    The database store of the sign-in limits, shared by every worker; with
    REDIS_URL set the limits count in Redis instead and this table stays empty.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        CheckConstraint("scope IN ('account', 'address', 'card')", name="scope"),
        Index("ix_sign_in_failures_scope_key_at", "scope", "key", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what is counted: one of SIGN_IN_SCOPES
    scope: Mapped[str] = mapped_column(String(16))
    #: the lower-cased username (account) or the client address (address, card)
    key: Mapped[str] = mapped_column(String(128))
    #: when the attempt began (app.common.clock); rows older than their scope's window are deleted
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
