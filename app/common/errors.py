"""Error pages for the HTML side and the JSON envelope for /api/."""
import structlog
from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.common.exceptions import DomainError
from app.common.api import error_response, http_exception_as_json, is_api_request
from app.extensions import db

log = structlog.get_logger("xueshi.errors")


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Check what you entered and try again."),
        403: _("You do not have permission to see this page."),
        404: _("This page does not exist or has been removed."),
        405: _("This action is not allowed here."),
        409: _("This conflicts with a change made elsewhere. Reload the page and try again."),
        410: _("This link has expired. Go back and open it again."),
        413: _("The file or request is too large."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
        500: _("Something went wrong on the server. Your data is safe; please try again."),
    }


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if is_api_request():
            return http_exception_as_json(exc)
        status = exc.code or 500
        message = _messages().get(status) or exc.description
        response = render_template("errors/error.html", status=status, message=message)
        headers = {}
        if status == 429 and getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(exc.retry_after)
        return response, status, headers

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        if is_api_request():
            return error_response(exc.status, exc.code, exc.message)
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled_error", path=_safe_path())
        if is_api_request():
            return error_response(500, "server_error", _("Something went wrong on the server. Please try again."))
        return render_template("errors/error.html", status=500, message=_messages()[500]), 500


def _safe_path() -> str:
    from flask import request

    return request.path
