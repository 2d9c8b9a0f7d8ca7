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


def _limit(*args, **kwargs):
    """limiter.limit, marking the view so that the limiter looks at its requests only."""
    decorate = limiter.limit(*args, **kwargs)

    def apply(view):
        wrapped = decorate(view)
        wrapped.is_rate_limited = True
        return wrapped

    return apply


@limiter.request_filter
def _is_unlimited() -> bool:
    """Let every request of an unlimited view skip the limiter's work (heartbeats come thousands a second)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "is_rate_limited", False)


login_per_account = _limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT"],
    key_func=lambda: "acct:" + _submitted_username(),
    deduct_when=_failed,
    scope="login-account",
)
login_per_address = _limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ADDRESS"],
    key_func=lambda: "addr:" + (get_remote_address() or ""),
    deduct_when=_failed,
    scope="login-address",
)
card_per_address = _limit(
    lambda: current_app.config["CARD_FAILURES_PER_ADDRESS"],
    key_func=lambda: "card:" + (get_remote_address() or ""),
    deduct_when=_failed,
    scope="card-address",
)
