"""The JSON API's shared pieces: one error envelope, body parsing, authentication."""
import json
import re
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise api_error(400, field, _("Invalid value for %(field)s: %(reason)s", field=field, reason=describe_error(first)))


#: what to say of a value pydantic refused, by its error type (limit: the bound or choices in the error's ctx)
_REASONS = {
    ("missing",): _l("it is required."),
    ("extra_forbidden",): _l("there is no such field."),
    ("int_type", "int_parsing", "int_from_float", "int_parsing_size"): _l("send a whole number."),
    ("float_type", "float_parsing", "finite_number", "decimal_type", "decimal_parsing"): _l("send a number."),
    ("bool_type", "bool_parsing"): _l("send true or false."),
    ("string_type", "string_unicode"): _l("send text."),
    ("string_too_short",): _l("send at least %(n)s characters."),
    ("string_too_long",): _l("send at most %(n)s characters."),
    ("string_pattern_mismatch",): _l("the format is not accepted."),
    ("greater_than",): _l("send a number greater than %(n)s."),
    ("greater_than_equal",): _l("send a number of at least %(n)s."),
    ("less_than",): _l("send a number less than %(n)s."),
    ("less_than_equal",): _l("send a number of at most %(n)s."),
    ("literal_error", "enum"): _l("send one of %(n)s."),
    ("list_type", "tuple_type", "set_type"): _l("send a list."),
    ("too_short",): _l("send at least %(n)s items."),
    ("too_long",): _l("send at most %(n)s items."),
    ("dict_type", "model_type", "model_attributes_type"): _l("send an object."),
    ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        _l("send a date such as 2026-09-01."),
    ("datetime_type", "datetime_parsing", "datetime_from_date_parsing", "timezone_aware"):
        _l("send a date and time such as 2026-09-01T08:30:00+08:00."),
}
_REASON_BY_TYPE = {kind: message for kinds, message in _REASONS.items() for kind in kinds}
_LIMIT_KEYS = ("gt", "ge", "lt", "le", "min_length", "max_length", "expected")


def describe_error(error: dict) -> str:
    """Say in the reader's language what is wrong with a value (one of pydantic's error dicts)."""
    ctx = error.get("ctx") or {}
    limit = str(next((ctx[k] for k in _LIMIT_KEYS if k in ctx), "")).replace(" or ", ", ")
    message = _REASON_BY_TYPE.get(error.get("type", ""), _l("the value is not accepted."))
    return str(message) % {"n": limit} if "%(n)s" in str(message) else str(message)


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
