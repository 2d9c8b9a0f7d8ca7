"""Rate limits on guessing: failed logins per account and per address, card guesses per address.

Only failures count, so the fifty teachers of one learning center behind one
address can all sign in within a minute.
"""
from flask import current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter
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

    Flask-Limiter checks every request of the app in a before_request pass,
    for default and application limits. With none set, that pass only finds
    nothing to check, on every heartbeat and every media range, so it is
    removed: the decorated views check their own limits when they are called.
    Its after-request hook (counting failures, headers) and its teardown then
    only have work in a request that checked a limit, so other requests skip them.
    """
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # A request's first limit check makes its limiter context.
    after = app.after_request_funcs[None]
    teardown = app.teardown_request_funcs[None]
    for hooks, method in ((after, Limiter._Limiter__inject_headers), (teardown, Limiter._Limiter__release_context)):
        i = next(i for i, f in enumerate(hooks) if getattr(f, "func", getattr(f, "__func__", None)) is method)
        hooks[i] = _only_after_a_check(hooks[i])


def _only_after_a_check(hook):
    def run_if_checked(value=None):
        if hasattr(request_ctx, "_limiter_request_context"):
            return hook(value)
        return value

    return run_if_checked


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
