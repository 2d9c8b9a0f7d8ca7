"""Helpers available in every template; each feature adds its own permission helpers in create_app."""
from collections.abc import Callable

from flask import current_app
from flask_babel import get_locale
from flask_login import current_user

from app.common.permissions import is_admin


def format_seconds(seconds: float | int | None) -> str:
    """Format seconds as H:MM:SS (or M:SS under an hour)."""
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def current_language() -> str:
    """Return the UI language as configured names: "zh_CN" or "en"."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def permission_helpers(module) -> Callable[[], dict]:
    """A context processor offering templates every can_* helper of a feature's permissions module."""
    found = {name: getattr(module, name) for name in dir(module) if name.startswith("can_")}
    return lambda: found


def template_helpers() -> dict:
    return {
        "current_locale": current_language(),
        "is_admin_user": bool(current_user and current_user.is_authenticated and is_admin(current_user)),
        "format_seconds": format_seconds,
        "url_endpoints": current_app.view_functions,
    }
