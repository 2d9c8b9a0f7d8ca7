"""Authentication: password hashing, server-side login sessions, Bearer tokens, API CSRF."""
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import selectinload
from wtforms import ValidationError

from app.accounts import limits
from app.accounts.models import ApiToken, LoginSession, User
from app.common import clock
from app.common.api import ApiError, api_error, is_api_request
from app.common.api import unauthorized as api_unauthorized
from app.extensions import db, login_manager

_hasher = PasswordHasher()
# Tests hash thousands of passwords: they use argon2's lowest cost (PASSWORD_HASH_FAST).
_fast_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# A hash of a random password, verified against when the username is unknown so
# that a wrong username costs as much time as a wrong password.
DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    fast = current_app and current_app.config.get("PASSWORD_HASH_FAST")
    return (_fast_hasher if fast else _hasher).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_credentials(username: str, password: str, address: str | None) -> User | None:
    """Return the active user whose username and password match, else None (a failure of the account and the address).

    Raises limits.TooManyFailures, without checking the password, while the
    account or the address is locked: every route that signs in by password
    comes here, so the lock holds on all of them. Call it outside any write transaction.
    """
    with limits.attempt(("account", username), ("address", address)) as guess:
        user = _matching_user(username, password)
        if user is None:
            guess.fail()
        return user


def _matching_user(username: str, password: str) -> User | None:
    user = db.session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    return user


#: the rules of password_problem, shown beside every field where a new password is typed
PASSWORD_RULES = _l("At least 8 characters (at most 128), mixing letters with digits or symbols.")


def password_problem(password: str) -> str | None:
    """Return why a new password is too weak, or None."""
    if len(password) < 8:
        return _("The password must have at least 8 characters.")
    if len(password) > 128:
        return _("The password must have at most 128 characters.")
    if password.isdigit() or password.isalpha():
        return _("The password must mix letters with digits or symbols.")
    return None


def do_login(user: User) -> None:
    """Start a new server-side login session for the user (the old cookie becomes worthless)."""
    session.clear()
    login = LoginSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        user_agent=(request.user_agent.string or "")[:255],
        remote_addr=(request.remote_addr or "")[:64],
    )
    db.session.add(login)
    user.current_session_id = login.id
    login_user(user)


def do_logout() -> None:
    """Revoke the current login session server-side and clear the cookie."""
    sid = getattr(current_user, "current_session_id", None)
    if sid:
        db.session.execute(update(LoginSession).where(LoginSession.id == sid).values(revoked_at=clock.now()))
    logout_user()
    session.clear()


def do_revoke_all(user: User, keep_session_id: str | None = None) -> None:
    """Revoke every login session and API token of the user (password change, admin reset)."""
    now = clock.now()
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    if keep_session_id:
        stmt = stmt.where(LoginSession.id != keep_session_id)
    db.session.execute(stmt.values(revoked_at=now))
    db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


def do_issue_token(user: User) -> tuple[str, ApiToken]:
    """Create a Bearer token for the user; return the token (shown once) and its row."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=clock.now() + timedelta(seconds=current_app.config["API_TOKEN_TTL_S"]),
    )
    db.session.add(row)
    return token, row


def _load_user_from_session(session_id: str) -> User | None:
    if not session_id:
        return None
    row = db.session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .options(selectinload(User.roles))
    ).first()
    if row is None or not row.User.is_active:
        return None
    user = row.User
    user.current_session_id = session_id
    g.auth_via = "session"
    return user


#: one lean query on the API's hot path (heartbeats), built once: roles load only if a view asks for them
_BEARER_USER = (select(User, ApiToken.id, ApiToken.expires_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None)))


def _load_user_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = db.session.execute(_BEARER_USER, {"digest": digest}).first()
    if row is None or not row.User.is_active or row.expires_at <= clock.now():
        return None
    g.auth_via = "token"
    g.api_token_id = row.id
    return row.User


def no_session_auth(view):
    """Mark an API view that never authenticates by cookie (it needs no CSRF token)."""
    view._no_session_auth = True
    return view


def _check_api_csrf() -> None:
    """Cookie-authenticated API writes need the CSRF token (header, or ?csrf_token= for beacons)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "_no_session_auth", False):
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if "_user_id" not in session:
        return  # no cookie sign-in to abuse: the view answers 401 if it needs a user
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token") or request.args.get("csrf_token")
    try:
        validate_csrf(token)
    except ValidationError:
        raise api_error(400, "csrf", _("The page's security token is missing or expired: reload the page.")) from None


#: what a user who must choose a new password may still reach: the change itself, sign-out, the language, files
PASSWORD_CHANGE_ALLOWED = frozenset({
    "accounts.change_password", "accounts.logout", "accounts.set_language", "accounts_api.revoke_token",
    "static", "bootstrap.static", "site.favicon", "health.healthz", "health.readyz",
})


def password_change_required() -> ApiError:
    """Return the JSON 403 for an API request of a user who must change password first (pages redirect)."""
    return api_error(403, "password_change_required",
                     _("You must choose your own password first: sign in on the website and change it."))


def _require_password_change():
    """Send a user who must choose a new password to 修改密码 from every page but sign-out and the language."""
    if request.endpoint in PASSWORD_CHANGE_ALLOWED or request.endpoint is None:
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if is_api_request():
        raise password_change_required()
    return redirect(url_for("accounts.change_password"))


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its serializer made once per set of keys.

    Flask builds a new serializer on every request, cookie or not (an
    itsdangerous serializer probes its JSON encoder when made): about a fifth
    of the time a bare request takes here. The serializer keeps no state
    between calls, so one serves every request and thread.
    """

    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


def install_auth(app: Flask) -> None:
    """Wire the cookie sessions, Flask-Login and the API's CSRF rule into the app."""
    app.session_interface = _CookieSessions()
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # server-side sessions replace it

    @login_manager.user_loader
    def load_user(session_id: str):
        return _load_user_from_session(session_id)

    @login_manager.request_loader
    def load_user_from_request(req):
        return _load_user_from_bearer(req)

    @login_manager.unauthorized_handler
    def _unauthorized():
        if is_api_request():
            raise api_unauthorized()  # the JSON 401 envelope
        return redirect(url_for("accounts.login", next=request.full_path))

    @app.before_request
    def _api_csrf():
        if is_api_request():
            _check_api_csrf()

    app.before_request(_require_password_change)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if is_api_request():
            return api_error(400, "csrf", _("The page's security token is missing or expired: reload the page.")).get_response()
        from flask import render_template

        return render_template("errors/error.html", status=400,
                               message=_("The form expired or was sent twice. Go back, reload the page and try again.")), 400
