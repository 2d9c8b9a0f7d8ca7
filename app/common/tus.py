"""The tus 1.0 resumable upload protocol, shared by every feature that takes big files (media, homework).

A feature keeps its own table of uploads and decides who may upload what; this module does the rest:
reading the protocol's headers (Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset), answering
with its headers (Tus-Resumable, Upload-Expires), and the partial file on disk: where it stands (HEAD),
appending a PATCH body at exactly that offset (409 at any other, never more than the declared size,
bytes read before a dropped connection kept) and locking it while a complete upload is turned into
something else. The partial file on disk is the truth about the offset, even after a crash.

Flow: POST creates (Upload-Length, Upload-Metadata) and names the upload in Location; HEAD says
Upload-Offset; PATCH sends bytes at that offset (Content-Type application/offset+octet-stream); after a
dropped connection the client asks HEAD again and goes on from there. DELETE abandons (termination).
"""
from __future__ import annotations

import base64
import binascii
import fcntl
import logging
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from flask import request
from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column
from flask_babel import gettext as _

from app.common import clock
from app.common.api import api_error
from app.common.exceptions import Conflict, DomainError, Gone
from app.common.numbers import DB_BIGINT_MAX, parse_int
from app.common.types import UTCDateTime

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
#: what the pages' client sends per PATCH; small enough for proxies' body limits
CHUNK_BYTES = 8 * 1024 * 1024
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
_READ = 1024 * 1024


def _now() -> datetime:
    return clock.now()


class UploadProgress:
    """The columns every resumable upload has (a model mixin): sizes, times, expiry and completion."""

    #: Upload-Length: the whole file's size
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    #: bytes received so far (the partial file's size after the last PATCH)
    offset_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: an unfinished upload is gone (swept) after this moment
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class TooLarge(DomainError):
    """More bytes than allowed: over a size limit, or beyond the upload's declared length (413)."""

    status = 413
    code = "too_large"


# ---------------------------------------------------------------------------------------- headers

def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode tus Upload-Metadata: comma-separated `key base64value` pairs (value optional)."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _sep, value = pair.partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError(f"metadata {key!r} is not base64 UTF-8")
        result[key.strip()] = decoded
    return result


def encode_metadata(values: dict[str, str]) -> str:
    """Encode tus Upload-Metadata (tests and scripts)."""
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8')).decode('ascii')}" for k, v in values.items())


def http_date(moment: datetime) -> str:
    """Format an aware datetime as an HTTP date (Upload-Expires)."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def check_version() -> None:
    """412 unless the request speaks our tus version (every request but OPTIONS and GET/HEAD)."""
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise api_error(412, "tus_version", _("This server speaks tus %(v)s.", v=TUS_VERSION),
                        headers={"Tus-Version": TUS_VERSION})


def read_metadata() -> dict[str, str]:
    """The creation request's Upload-Metadata (400 when it is not base64 UTF-8); a deferred length is refused."""
    if request.headers.get("Upload-Defer-Length"):
        raise api_error(400, "size", _("Say how large the file is (Upload-Length)."))
    try:
        return parse_metadata(request.headers.get("Upload-Metadata"))
    except ValueError as exc:
        raise api_error(400, "metadata", str(exc))


def read_length() -> int | None:
    """The creation request's Upload-Length (None when missing or not a whole number in range)."""
    return parse_int(request.headers.get("Upload-Length"), max_value=DB_BIGINT_MAX)


def read_patch_offset() -> int:
    """The PATCH request's Upload-Offset, once its version and content type are right (412, 415, 400)."""
    check_version()
    if request.mimetype != OFFSET_CONTENT_TYPE:
        raise api_error(415, "content_type", _("Send the bytes as application/offset+octet-stream."))
    offset = parse_int(request.headers.get("Upload-Offset"), max_value=DB_BIGINT_MAX)
    if offset is None:
        raise api_error(400, "offset", _("Upload-Offset must be a whole number of bytes."))
    return offset


def tus_headers(response, expires_at: datetime | None = None):
    """Add the headers every tus answer carries (Upload-Expires while the upload is unfinished)."""
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    if expires_at is not None:
        response.headers["Upload-Expires"] = http_date(expires_at)
    return response


# ------------------------------------------------------------------------------- the partial file

def start_file(path: Path) -> None:
    """Create the empty partial file of a new upload."""
    path.touch()


def offset_of(path: Path) -> int:
    """Return the bytes received, as the partial file on disk says."""
    return path.stat().st_size if path.exists() else 0


def append(path: Path, offset: int, size_bytes: int, stream: BinaryIO, length: int | None,
           label: str = "") -> int:
    """Append the request body at offset to the partial file of an upload of size_bytes; return the new offset.

    Conflict (409) when offset is not where the upload stands or another request is writing it; TooLarge (413)
    when the body goes beyond the declared size; Gone (410) when the partial file was swept. Bytes read before
    the client went away are kept (the client asks HEAD and goes on from there).
    """
    if not path.exists():
        raise Gone(_("This upload expired; start it again."))
    remaining = size_bytes - offset
    if length is not None and length > remaining:
        raise TooLarge(_("More bytes were sent than the upload declared."))
    with open(path, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Conflict(_("Another request is writing this upload; try again in a moment."), code="offset")
        try:
            current = os.fstat(handle.fileno()).st_size
            if offset != current:
                raise Conflict(_("The upload is at byte %(at)d, not %(sent)d.", at=current, sent=offset),
                               code="offset")
            handle.seek(offset)
            written, dropped = 0, False
            try:
                while written < remaining:
                    chunk = stream.read(min(_READ, remaining - written))
                    if not chunk:
                        break
                    handle.write(chunk)
                    written += len(chunk)
            except Exception as exc:  # the client went away mid-body: keep what arrived
                dropped = True
                log.info("upload %s: body ended early after %d bytes (%s)", label, written, exc)
            handle.flush()
            os.fsync(handle.fileno())
            new_offset = os.fstat(handle.fileno()).st_size
            if not dropped and written == remaining and length is None and _has_more(stream):
                raise TooLarge(_("More bytes were sent than the upload declared."))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return new_offset


def _has_more(stream: BinaryIO) -> bool:
    try:
        return bool(stream.read(1))
    except Exception:
        return False


@contextmanager
def claim_complete(path: Path, size_bytes: int) -> Iterator[BinaryIO | None]:
    """Yield the complete partial file open for reading and locked, or None (bytes missing, or another request
    is writing or finishing it). Turning it into something else inside the block happens once."""
    if not path.exists():
        yield None
        return
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        yield None
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        if not path.exists() or os.fstat(handle.fileno()).st_size != size_bytes:
            yield None
            return
        yield handle


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)
