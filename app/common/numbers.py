"""Whole numbers from outside: ids and page numbers in paths, queries, forms, headers and signed URLs.

One rule everywhere: ASCII digits only (``"²".isdigit()`` and ``"١٢".isdigit()``
are true, and werkzeug's ``\\d`` matches both) and within the database's
integer range, so nothing a client sends reaches ``int()`` or the database
as a number they cannot hold. Path ids that break it answer 404 (the URL
converter below), query values 400 (``query_int``).
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter, ValidationError

#: The largest value of an INTEGER column (PostgreSQL's int4): every id, page number and count.
DB_INT_MAX = 2**31 - 1
#: The largest value of a BIGINT column: byte sizes and offsets.
DB_BIGINT_MAX = 2**63 - 1
_MAX_DIGITS = 19  # len(str(DB_BIGINT_MAX)); longer strings never reach int()


def parse_int(raw: object, *, min_value: int = 0, max_value: int = DB_INT_MAX) -> int | None:
    """Return ``raw`` (a string of ASCII digits) as an int within [min_value, max_value], else None."""
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if min_value <= value <= max_value else None


def parse_ids(values: list[str]) -> list[int] | None:
    """Return the ids (ASCII digits, 1..DB_INT_MAX) of a repeated form field, or None if one is not an id."""
    ids = [parse_int(value, min_value=1) for value in values]
    return None if None in ids else ids


def query_int(name: str, default: int | None = None, *, required: bool = False, min_value: int = 1,
              max_value: int = DB_INT_MAX, message: str | None = None) -> int | None:
    """Return the query parameter ``name`` as a whole number; a missing one gives ``default``.

    A value that is not ASCII digits within [min_value, max_value] (or a missing
    required one) answers 400 naming the parameter: the JSON envelope under
    /api/, the error page with the message elsewhere.
    """
    from flask import request
    from flask_babel import gettext as _

    from app.common.exceptions import Invalid

    raw = request.args.get(name)
    if raw in (None, "") and not required:
        return default
    value = parse_int(raw, min_value=min_value, max_value=max_value)
    if value is None:
        raise Invalid(message or _("Check the address: %(name)s must be a whole number from %(min)d to %(max)d.",
                                   name=name, min=min_value, max=max_value), code=name)
    return value


def human_bytes(size: int) -> str:
    """Return a byte count the way people read it ("48.8 KB")."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


class IdConverter(IntegerConverter):
    """The app's ``int`` URL converter: ASCII digits up to DB_INT_MAX; anything else matches no route (404)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, DB_INT_MAX if max is None else max, signed)

    def to_python(self, value: str) -> int:
        if len(value) > _MAX_DIGITS:
            raise ValidationError()
        return super().to_python(value)
