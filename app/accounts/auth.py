"""Authentication: password hashing, server-side login sessions, Bearer tokens, API CSRF."""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from werkzeug.http import parse_cookie

from app.accounts import limits
from app.accounts.models import ApiToken, LoginSession, User
from app.common import clock
from app.common.api import api_error, is_api_request, unauthorized
from app.common.db import driver_sql
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


def _load_user_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    # One lean query on the API's hot path (heartbeats): roles load only if a view asks for them.
    row = db.session.execute(
        select(User, ApiToken.id, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.User.is_active or row.expires_at <= clock.now():
        return None
    g.auth_via = "token"
    g.api_token_id = row.id
    return row.User


_LEAN_SQL = {
    "token": "SELECT t.user_id, t.expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
             " WHERE t.token_hash = :digest AND t.revoked_at IS NULL AND u.is_active",
    "session": "SELECT s.user_id FROM login_sessions s JOIN users u ON u.id = s.user_id"
               " WHERE s.id = :sid AND s.revoked_at IS NULL AND u.is_active",
}


class NotSignedIn(Exception):
    """A hot path found that the request signs nobody in (the view answers 401)."""


class ApiCredential(NamedTuple):
    """What an API request signs in with, read off the request without a query.

    kind: "user" (current_user was loaded already: value is its id), "session"
    (the cookie's login session id) or "token" (the SHA-256 of the Bearer token).
    """

    kind: str
    value: int | str


def get_api_credential() -> ApiCredential | None:
    """The credential get_api_user_id would check first; None when the request carries none."""
    loaded = g.get("_login_user")
    if loaded is not None:
        return ApiCredential("user", loaded.id) if loaded.is_authenticated else None
    return _credential_of(session.get("_user_id"), request.headers.get("Authorization", ""))


def _credential_of(login_session_id, authorization: str) -> ApiCredential | None:
    if login_session_id:
        return ApiCredential("session", login_session_id)
    token = authorization[7:].strip() if authorization.startswith("Bearer ") else ""
    return ApiCredential("token", hashlib.sha256(token.encode()).hexdigest()) if token else None


def wsgi_api_credential(app: Flask, environ: dict) -> ApiCredential | None:
    """The credential of an API write read straight off a WSGI environ, for a path below Flask's (heartbeats).

    None unless the request would pass _check_api_csrf as it is: a cookie
    sign-in needs its CSRF token in a header (a ?csrf_token= comes with a
    query string, which such a path leaves to Flask). Call it in an app context.
    """
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    login_session_id = None
    cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(app.config["SESSION_COOKIE_NAME"])
    if cookie:
        try:  # as Flask opens the session; a bad or expired cookie is an empty session there too
            data = app.session_interface.get_signing_serializer(app).loads(
                cookie, max_age=int(app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            data = {}
        login_session_id = data.get("_user_id")
        if login_session_id and not authorization.startswith("Bearer ") and app.config.get("WTF_CSRF_ENABLED", True):
            token = environ.get("HTTP_X_CSRFTOKEN") or environ.get("HTTP_X_CSRF_TOKEN")
            if not csrf_token_holds(data, token):
                return None
    return _credential_of(login_session_id, authorization)


def csrf_token_holds(session_data, token: str | None) -> bool:
    """Whether a signed CSRF token matches the session's: Flask-WTF's validate_csrf, on a given session.

    The same keys, salt and time limit (WTF_CSRF_SECRET_KEY or SECRET_KEY,
    WTF_CSRF_FIELD_NAME, WTF_CSRF_TIME_LIMIT); call it in an app context.
    """
    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if not token or field not in session_data:
        return False
    secret = config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key)
    try:
        signed = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").loads(
            token, max_age=config.get("WTF_CSRF_TIME_LIMIT", 3600))
    except BadData:
        return False
    return hmac.compare_digest(session_data[field], signed)


# The same checks as _LEAN_SQL, as LEFT JOINs for a hot path's own read to make (the heartbeat's):
# (joins, the two columns it must select: the user's id or NULL, and the token's expiry).
# The credential's value is its :b_credential parameter.
CREDENTIAL_JOINS = {
    "token": ("LEFT JOIN api_tokens auth_t ON auth_t.token_hash = :b_credential AND auth_t.revoked_at IS NULL"
              " LEFT JOIN users auth_u ON auth_u.id = auth_t.user_id AND auth_u.is_active",
              "auth_u.id, auth_t.expires_at"),
    "session": ("LEFT JOIN login_sessions auth_s ON auth_s.id = :b_credential AND auth_s.revoked_at IS NULL"
                " LEFT JOIN users auth_u ON auth_u.id = auth_s.user_id AND auth_u.is_active",
                "auth_u.id, NULL"),
}


def credential_user_id(credential: ApiCredential, user_id: int | None, expires_at) -> int | None:
    """The signed-in user's id from the two columns of CREDENTIAL_JOINS; None when the credential failed.

    A failed credential is not the last word: a stale cookie may come with a
    valid Bearer token, which get_api_user_id (the full check) tries next.
    """
    if credential.kind == "user":
        return int(credential.value)
    if user_id is None or (credential.kind == "token" and _as_utc(expires_at) <= clock.now()):
        return None
    return user_id


def get_api_user_id(conn) -> int | None:
    """Return the id of the request's signed-in, active user without loading the user.

    The same checks as current_user (the login session of the cookie, else a
    Bearer token) in one or two lean queries on `conn`, a DBAPI connection
    (see common.db.dbapi_connection). The heartbeat checks its credential with
    its own read (CREDENTIAL_JOINS) and comes here only when that failed.
    Everything else uses current_user.
    """
    loaded = g.get("_login_user")
    if loaded is not None:
        return loaded.id if loaded.is_authenticated else None
    sid = session.get("_user_id")
    if sid:
        row = _lean_query(conn, "session", {"sid": sid})
        if row is not None:
            g.auth_via = "session"
            return row[0]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        return None
    row = _lean_query(conn, "token", {"digest": hashlib.sha256(token.encode()).hexdigest()})
    if row is None or _as_utc(row[1]) <= clock.now():
        return None
    g.auth_via = "token"
    return row[0]


_lean_sql_by_dialect: dict[str, dict[str, str]] = {}


def _lean_query(conn, name: str, params: dict):
    dialect = db.engine.dialect.name
    statements = _lean_sql_by_dialect.get(dialect)
    if statements is None:
        statements = _lean_sql_by_dialect[dialect] = {k: driver_sql(v, dialect) for k, v in _LEAN_SQL.items()}
    cursor = conn.cursor()
    cursor.execute(statements[name], params)
    return cursor.fetchone()


def _as_utc(value) -> datetime:
    """A timestamp read straight from the driver (SQLite hands back text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


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
    if not csrf_token_holds(session, token):
        raise api_error(400, "csrf", _("The page's security token is missing or expired: reload the page."))


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
    def unauthorized():
        from flask import redirect, url_for

        if is_api_request():
            raise unauthorized()
        return redirect(url_for("accounts.login", next=request.full_path))

    @app.before_request
    def _api_csrf():
        if is_api_request():
            _check_api_csrf()

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if is_api_request():
            return api_error(400, "csrf", _("The page's security token is missing or expired: reload the page.")).get_response()
        from flask import render_template

        return render_template("errors/error.html", status=400,
                               message=_("The form expired or was sent twice. Go back, reload the page and try again.")), 400
