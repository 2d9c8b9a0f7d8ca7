"""Serve media bytes: HTTP Range from the app, or hand the file to nginx.

The HTTP rules (``Range``, ``If-Range``, ``ETag``/``Last-Modified``, 304, 412,
``HEAD``) come from werkzeug's ``Response.make_conditional``. Two things are
done here rather than with ``send_file``:

* the body: ``send_file`` wraps the server's ``wsgi.file_wrapper`` in
  ``_RangeWrapper``, which cannot seek gunicorn's wrapper and so reads and drops
  every byte before the range start (a seek to minute 50 of a lesson read the
  first 49 minutes). :class:`FileSlice` is positioned at the range start and
  bounded to its length, and is handed to ``wsgi.file_wrapper`` itself, so
  gunicorn answers with ``sendfile(2)`` from that offset for exactly
  ``Content-Length`` bytes, and any other server reads only the range.
* a few RFC 9110 details werkzeug lacks (see :func:`_range_environ`).

Flask-free except for ``werkzeug``; the view checks the signature first.
"""
from __future__ import annotations

import mimetypes
import os
import posixpath
from datetime import datetime, timezone
from urllib.parse import quote

from werkzeug.exceptions import NotFound, RequestedRangeNotSatisfiable
from werkzeug.http import is_resource_modified
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from app.common.numbers import DB_BIGINT_MAX, parse_int

#: Bytes per read when the server cannot use sendfile.
CHUNK_BYTES = 64 * 1024

#: Longest answer to an open range ("bytes=N-") from the app. Players ask for
#: open ranges and read at playback speed, stalling when their buffer is full;
#: a bounded answer lets the kernel's socket buffers take the rest and frees
#: the gunicorn thread, and the player asks again from where it ended.
OPEN_RANGE_CAP_BYTES = 4 * 1024 * 1024

#: Serving modes of MEDIA_SERVE_MODE.
MODES = ("app", "x-accel", "secure-link")

# The types we produce; mimetypes' table differs between systems (m4a, vtt).
_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".vtt": "text/vtt",
}


def content_type_for(key: str) -> str:
    """Return the Content-Type of a storage key by its extension."""
    ext = posixpath.splitext(key)[1].lower()
    if ext in _CONTENT_TYPES:
        return _CONTENT_TYPES[ext]
    return mimetypes.guess_type("x" + ext)[0] or "application/octet-stream"


def nginx_etag(size: int, mtime: float) -> str:
    """Return the entity tag nginx gives this file (hex mtime - hex size).

    Using nginx's form keeps ``If-Range`` working when a deployment switches
    between serving from the app and from nginx.
    """
    return f"{int(mtime):x}-{size:x}"


class FileSlice:
    """A read-only view of ``length`` bytes of an open file from ``start``.

    ``fileno()`` lets gunicorn ``sendfile`` it: gunicorn sends
    ``Content-Length`` bytes from the descriptor's current offset.
    """

    def __init__(self, fileobj, start: int, length: int):
        self._file = fileobj
        self._remaining = length
        self._file.seek(start)

    def fileno(self) -> int:
        return self._file.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._file.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def _range_environ(
    environ: dict, size: int, etag: str, last_modified: datetime, open_range_cap: int | None = None
) -> dict:
    """Return the environ werkzeug should see, with ``Range`` adjusted.

    RFC 9110 details werkzeug does not follow:
    * ``If-None-Match``/``If-Modified-Since``/``If-Match`` are evaluated before
      ``Range`` (a cached copy gets 304, a failed If-Match 412, not 206);
    * a weak entity tag in ``If-Range`` never matches (strong comparison);
    * a range unit other than bytes is ignored (200), not refused;
    * several ranges are served as the whole file (allowed; browsers never ask);
    * a suffix longer than the file means the whole file, not 416.
    An open range is shortened to ``open_range_cap`` bytes when given.
    """
    value = environ.get("HTTP_RANGE")
    if value is None:
        return environ
    env = dict(environ)
    has_precondition = any(
        h in environ for h in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH")
    )
    if has_precondition:
        probe = {k: v for k, v in env.items() if k not in ("HTTP_RANGE", "HTTP_IF_RANGE")}
        if not is_resource_modified(probe, etag=f'"{etag}"', last_modified=last_modified):
            del env["HTTP_RANGE"]
            return env
    if environ.get("HTTP_IF_RANGE", "").lstrip().startswith("W/"):
        del env["HTTP_RANGE"]
        return env
    unit, _, spec = value.partition("=")
    if unit.strip(" \t").lower() != "bytes":
        del env["HTTP_RANGE"]
        return env
    if "," in spec:
        del env["HTTP_RANGE"]
        return env
    spec = spec.strip(" \t")
    suffix = parse_int(spec[1:], max_value=DB_BIGINT_MAX) if spec.startswith("-") else None
    if suffix is not None and suffix > size:
        env["HTTP_RANGE"] = "bytes=0-"
        spec = "0-"
    start = parse_int(spec[:-1], max_value=DB_BIGINT_MAX) if spec.endswith("-") else None
    if open_range_cap and start is not None:
        env["HTTP_RANGE"] = f"bytes={start}-{start + open_range_cap - 1}"
    return env


def range_not_satisfiable(size: int) -> Response:
    """Return a 416 answer naming the representation's length."""
    rv = Response("Requested range not satisfiable\n", status=416, mimetype="text/plain")
    rv.headers["Content-Range"] = f"bytes */{size}"
    rv.headers["Accept-Ranges"] = "bytes"
    return rv


def _cache_headers(rv: Response, max_age_s: int | None) -> None:
    rv.cache_control.private = True
    if max_age_s is not None:
        rv.cache_control.max_age = max(0, int(max_age_s))
    rv.headers["X-Content-Type-Options"] = "nosniff"


def serve_file(
    path: str,
    environ: dict,
    content_type: str | None = None,
    max_age_s: int | None = None,
    open_range_cap: int | None = None,
) -> Response:
    """Answer a GET or HEAD for the file at ``path`` with Range and conditionals.

    ``open_range_cap``: see OPEN_RANGE_CAP_BYTES (None answers open ranges whole).
    Raises NotFound when the file does not exist.
    """
    try:
        fileobj = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound() from None
    try:
        st = os.fstat(fileobj.fileno())
        size = st.st_size
        etag = nginx_etag(size, st.st_mtime)
        last_modified = datetime.fromtimestamp(int(st.st_mtime), timezone.utc)

        rv = Response(status=200, content_type=content_type or content_type_for(path), direct_passthrough=True)
        rv.set_etag(etag)
        rv.last_modified = last_modified
        rv.content_length = size
        _cache_headers(rv, max_age_s)
        try:
            rv.make_conditional(
                _range_environ(environ, size, etag, last_modified, open_range_cap),
                accept_ranges=True, complete_length=size
            )
        except RequestedRangeNotSatisfiable:
            fileobj.close()
            return range_not_satisfiable(size)

        if rv.status_code == 206:
            start, length = rv.content_range.start, rv.content_range.stop - rv.content_range.start
        elif rv.status_code == 200:
            start, length = 0, size
        else:  # 304 or 412
            fileobj.close()
            return rv
        if environ.get("REQUEST_METHOD") == "HEAD":
            fileobj.close()
            return rv
        rv.response = wrap_file(environ, FileSlice(fileobj, start, length), CHUNK_BYTES)
        return rv
    except BaseException:
        fileobj.close()
        raise


def x_accel_response(key: str, prefix: str, content_type: str | None = None, max_age_s: int | None = None) -> Response:
    """Return an empty answer telling nginx to serve ``key`` from its internal location.

    nginx then does Range, conditionals and HEAD itself; it keeps this
    Content-Type and Cache-Control.
    """
    rv = Response(b"", status=200, content_type=content_type or content_type_for(key))
    rv.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(key)
    _cache_headers(rv, max_age_s)
    return rv
