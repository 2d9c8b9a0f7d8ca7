"""Helpers available in every template."""
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


def template_helpers() -> dict:
    return {
        "current_locale": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
        "is_admin_user": bool(current_user and current_user.is_authenticated and is_admin(current_user)),
        "format_seconds": format_seconds,
    }
