"""Static files: fingerprinted URLs, a year's cache lifetime, compressed answers.

Every ``url_for('static', filename=...)`` gets ``?v=<hash of the file's content>``
(a ``url_defaults`` hook, so templates change nothing). An answer to the
current fingerprint is ``public, max-age=31536000, immutable``: a repeat
visit fetches only the page. Any other query (no ``v``, an old one) gets
``no-cache``, so a stale URL never pins a file for a year. Flask-Compress
compresses pages, styles, scripts and JSON with brotli or gzip, as the
browser accepts. deploy/nginx/xueshi.conf does the same for /static/ in
production.
"""
from __future__ import annotations

import hashlib
import os
import stat as stat_module
from dataclasses import dataclass

from flask import Flask, Response, request
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
compress = Compress()

#: what Flask-Compress compresses (media and images are compressed already)
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                    "image/svg+xml", "text/plain"]


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int
    version: str


class StaticVersions:
    """The content fingerprint of each static file, recomputed when the file changes."""

    def __init__(self, folder: str):
        self.folder = folder
        self._stamps: dict[str, _Stamp] = {}

    def version(self, filename: str) -> str | None:
        """Return the file's fingerprint (12 hex digits of its SHA-256), or None when there is no such file.

        A folder (the reader's cmaps/ base URL) has no fingerprint either.
        """
        path = os.path.realpath(os.path.join(self.folder, filename))
        if not path.startswith(os.path.realpath(self.folder) + os.sep):
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not stat_module.S_ISREG(stat.st_mode):
            return None
        stamp = self._stamps.get(filename)
        if stamp is None or (stamp.mtime_ns, stamp.size) != (stat.st_mtime_ns, stat.st_size):
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()[:12]
            stamp = self._stamps[filename] = _Stamp(stat.st_mtime_ns, stat.st_size, digest)
        return stamp.version


class _StaticCompressedCache:
    """Flask-Compress's cache (COMPRESS_CACHE_BACKEND): keeps compressed fingerprinted static files only.

    Pages differ on every request and are never kept: their key is empty.
    """

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._store.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";"):
            self._store[key] = value


def install_static_files(app: Flask) -> None:
    """Fingerprint static URLs, cache fingerprinted answers for a year, compress text answers."""
    versions = StaticVersions(app.static_folder)
    app.extensions["static_versions"] = versions

    def is_current(filename: str) -> bool:
        current = versions.version(filename)
        return bool(current) and request.args.get("v") == current

    def compressed_cache_key(req) -> str:
        if req.endpoint == "static" and "Range" not in req.headers and is_current((req.view_args or {}).get("filename", "")):
            return req.full_path
        return ""

    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    compressed_types = set(app.config["COMPRESS_MIMETYPES"])
    cache = _StaticCompressedCache()
    app.config.setdefault("COMPRESS_CACHE_BACKEND", lambda: cache)
    app.config.setdefault("COMPRESS_CACHE_KEY", compressed_cache_key)
    compress.init_app(app)

    @app.url_defaults
    def add_static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            version = versions.version(values.get("filename", ""))
            if version:
                values["v"] = version

    # Registered after Flask-Compress, so it runs before it (Flask runs after_request hooks last first).
    @app.after_request
    def set_static_cache(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            fresh = is_current((request.view_args or {}).get("filename", ""))
            response.headers["Cache-Control"] = IMMUTABLE if fresh else "no-cache"
            if response.status_code == 200 and response.is_streamed and response.mimetype in compressed_types:
                # A whole small file: read it, so Flask-Compress compresses it once (gzip too) and keeps the result.
                response.make_sequence()
        return response
