"""Request bodies: how large each kind of route accepts, and JSON with a nesting limit.

Sizes: every request gets ``request.max_content_length`` from its route class
(the JSON API MAX_API_BODY_BYTES, HTML forms MAX_FORM_BYTES, a view marked
with ``body_limit`` its own setting), and one whose declared Content-Length is
over it answers 413 before anything reads the body; werkzeug enforces the same
limit on a body without Content-Length while it is read.

JSON: the app's JSON provider (app.common.api.DepthLimitedJSONProvider)
refuses nesting deeper than MAX_JSON_DEPTH before ``json.loads`` recurses,
so ``request.get_json()`` and ``parse_json`` answer 400, never a RecursionError.
"""
from __future__ import annotations

from typing import Callable

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from app.common.api import DepthLimitedJSONProvider, api_error, is_api_request
from app.common.numbers import human_bytes


def body_limit(config_key: str, extra_bytes: int = 0) -> Callable:
    """Mark a view as accepting bodies up to ``config[config_key] + extra_bytes`` (0 or None: no limit)."""

    def mark(view):
        view.body_limit = (config_key, extra_bytes)
        return view

    return mark


def _route_limit() -> tuple[int | None, int | None]:
    """Return (limit, the size to name in the message) for this request's route."""
    config = current_app.config
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    key, extra = getattr(view, "body_limit", None) or (
        ("MAX_API_BODY_BYTES" if is_api_request() else "MAX_FORM_BYTES"), 0)
    setting = int(config.get(key) or 0)
    return (setting + extra, setting) if setting else (None, None)


def _refuse_large_bodies() -> None:
    limit, named = _route_limit()
    request.max_content_length = limit
    length = request.content_length
    if limit is None or length is None or length <= limit:
        return
    if is_api_request():
        raise api_error(413, "body_too_large", _("The request is %(size)s; this address accepts at most %(limit)s.",
                                                 size=human_bytes(length), limit=human_bytes(named)))
    raise RequestEntityTooLarge()


def install_body_limits(app: Flask) -> None:
    """Give the app the depth-limited JSON provider and the per-route body limits.

    Call before any extension that reads the body in a before_request hook
    (Flask-WTF's CSRF check reads the form): hooks run in the order installed.
    """
    app.json = DepthLimitedJSONProvider(app)
    app.before_request(_refuse_large_bodies)
