"""The JSON API's shared pieces: one error envelope, body parsing, authentication."""
import json
import re
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"

M = TypeVar("M", bound=BaseModel)

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "unprocessable",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error that renders as the JSON error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.message = message
        self.extra_headers = headers or {}

    def get_response(self, environ=None, scope=None) -> Response:
        return error_response(self.code, self.error_code, self.message, self.extra_headers)


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    """Build the `{"error": {"code", "message"}}` response."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def api_error(status: int, code: str | None = None, message: str | None = None, headers: dict | None = None) -> ApiError:
    """Return an ApiError to raise: `raise api_error(400, "seq", "seq must be ...")`."""
    return ApiError(status, code or _DEFAULT_CODES.get(status, "error"), message or code or "", headers)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def http_exception_as_json(exc: HTTPException) -> Response:
    """Render any werkzeug HTTP error as the JSON envelope (for /api/ paths)."""
    if isinstance(exc, ApiError):
        return exc.get_response()
    status = exc.code or 500
    code = _DEFAULT_CODES.get(status, "error")
    message = exc.description or code
    if status == 429:
        message = _("Too many requests. Please wait a moment and try again.")
    headers = {}
    if status == 429:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(retry_after)
    response = error_response(status, code, message, headers)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


#: Nesting of arrays and objects a JSON body may have; the API's bodies need 2.
MAX_JSON_DEPTH = 32

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


class JSONTooDeep(ValueError):
    """A JSON document nested deeper than the limit (a ValueError, as json's own errors are)."""


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise JSONTooDeep when ``text`` opens more than ``limit`` arrays or objects inside each other."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper: the common case costs two C-level scans
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                raise JSONTooDeep(f"JSON nested deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing documents nested deeper than MAX_JSON_DEPTH."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, (bytes, bytearray)):
            s = s.decode(json.detect_encoding(s), "surrogatepass")  # what json.loads does with bytes
        check_json_depth(s)
        return super().loads(s, **kwargs)


def _reject_constant(value: str):
    raise ValueError(f"{value} is not a number")


def parse_json(model: type[M], max_bytes: int = 64 * 1024) -> M:
    """Validate the request's JSON body against a pydantic model.

    Raises 413 when the body is larger than max_bytes, 415 when it is not JSON,
    and 400 naming the first bad field otherwise. NaN and Infinity are refused.
    """
    length = request.content_length
    if length is not None and length > max_bytes:
        raise api_error(413, "body_too_large", _("The request body is larger than %(n)d bytes.", n=max_bytes))
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise api_error(413, "body_too_large", _("The request body is larger than %(n)d bytes.", n=max_bytes))
    mimetype = request.mimetype or ""
    if mimetype not in ("application/json", "text/plain") and not mimetype.endswith("+json"):
        # text/plain is what navigator.sendBeacon sends with a string body.
        raise api_error(415, "not_json", _("Send the body as JSON (Content-Type: application/json)."))
    try:
        return model.model_validate_json(raw)  # the common case in one pass (pydantic's own parser)
    except ValidationError:
        pass  # say what is wrong exactly as below (NaN, not an object, the first bad field)
    try:
        data = current_app.json.loads(raw.decode("utf-8") or "null", parse_constant=_reject_constant)
    except JSONTooDeep:
        raise api_error(400, "invalid_json", _("The body nests arrays or objects more than %(n)d levels deep.",
                                               n=MAX_JSON_DEPTH))
    except (ValueError, UnicodeDecodeError):
        raise api_error(400, "invalid_json", _("The body is not valid JSON."))
    if not isinstance(data, dict):
        raise api_error(400, "invalid_json", _("The body must be a JSON object."))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise api_error(400, field, _("Invalid value for %(field)s: %(reason)s", field=field, reason=first.get("msg", "")))


def jsonable(value):
    """Turn a service result (datetimes, dates, lists, tuples, dicts) into JSON values."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def unauthorized() -> ApiError:
    """The 401 error to raise when nobody is signed in."""
    return api_error(401, "unauthorized", _("Sign in first: send a Bearer token or a session cookie."))


def api_login_required(view):
    """Require an authenticated, active user (Bearer token or session cookie); 401 otherwise."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            raise unauthorized()
        return view(*args, **kwargs)

    return wrapper
