"""Rate limits on guessing: failed logins per account and per address, card guesses per address.

Only failures count, so the fifty teachers of one learning center behind one
address can all sign in within a minute.
"""
from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter


def _submitted_username() -> str:
    name = request.form.get("username")
    if name is None:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else ""
    return str(name or "").strip().lower()[:64]


def _failed(_response) -> bool:
    return bool(g.get("auth_failed"))


def mark_failed() -> None:
    """Record that this request was a failed guess (counted by the limits below)."""
    g.auth_failed = True


def install_limits(app) -> None:
    """Leave rate limiting to the decorated views below: the app sets no default or application-wide limit.

    Flask-Limiter also checks every request of the app in a before_request
    pass, for default and application limits. With none set, that pass only
    finds nothing to check, on every heartbeat and every media range. The
    decorated views check their own limits when they are called, so the pass
    is removed.
    """
    app.before_request_funcs[None].remove(limiter._check_request_limit)


login_per_account = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT"],
    key_func=lambda: "acct:" + _submitted_username(),
    deduct_when=_failed,
    scope="login-account",
)
login_per_address = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ADDRESS"],
    key_func=lambda: "addr:" + (get_remote_address() or ""),
    deduct_when=_failed,
    scope="login-address",
)
card_per_address = limiter.limit(
    lambda: current_app.config["CARD_FAILURES_PER_ADDRESS"],
    key_func=lambda: "card:" + (get_remote_address() or ""),
    deduct_when=_failed,
    scope="card-address",
)
