"""Signed, expiring media URLs in the format of nginx's ``secure_link`` module.

One URL works in every serving mode: the app checks it (modes "app" and
"x-accel") and nginx checks the very same URL in "secure-link" mode with::

    secure_link     $arg_md5,$arg_expires;
    secure_link_md5 "$secure_link_expires$uri <MEDIA_SIGNING_KEY>";

so the signature is ``base64url(md5(f"{expires}{path} {key}"))`` without
padding, where ``path`` is the decoded URI path and ``expires`` a Unix time in
seconds. The link is valid while ``now <= expires`` (nginx's rule).

Pure functions: no flask, time passed in. The secret follows the path, so MD5's
length extension does not apply; the key must be long and random.
"""
from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

from app.common.numbers import parse_int

#: The latest expiry a URL may carry (12 digits, as before: year 33658).
MAX_EXPIRES = 10**12 - 1

#: Mount point of the stream route and of nginx's secure_link location.
STREAM_PREFIX = "/media/s/"

# Storage keys are generated ASCII names; anything else is refused so the
# path the app signs is byte for byte the ``$uri`` nginx normalises.
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\Z")
# Characters that would change meaning inside nginx's quoted md5 expression.
_NGINX_UNSAFE_SECRET_RE = re.compile(r'[\s"\'\\$;{}]')


class Verdict(enum.Enum):
    """Outcome of checking a signed URL; the HTTP status the app answers."""

    VALID = 200
    TAMPERED = 403
    EXPIRED = 410


@dataclass(frozen=True)
class SignedUrl:
    """A signed stream URL and its expiry (Unix seconds)."""

    url: str
    expires: int


def is_valid_key(key: str) -> bool:
    """Tell whether a storage key is a plain relative ASCII path (no ``..``, no hidden parts)."""
    if not key or not _KEY_RE.match(key):
        return False
    return not any(part.startswith(".") for part in key.split("/"))


def stream_path(key: str) -> str:
    """Return the URI path that serves storage ``key``."""
    if not is_valid_key(key):
        raise ValueError(f"not a storage key: {key!r}")
    return STREAM_PREFIX + key


def key_from_path(path: str) -> str | None:
    """Return the storage key of a stream URI path, or None if it is not one."""
    if not path.startswith(STREAM_PREFIX):
        return None
    key = path[len(STREAM_PREFIX):]
    return key if is_valid_key(key) else None


def signature(path: str, expires: int, secret: str) -> str:
    """Return nginx's ``secure_link_md5`` value for ``path`` valid until ``expires``."""
    digest = hashlib.md5(f"{expires}{path} {secret}".encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_key(key: str, expires: int, secret: str, url_prefix: str = "") -> SignedUrl:
    """Return the signed stream URL of storage ``key`` valid until ``expires``.

    ``url_prefix`` (scheme and host, or "") is prepended and not signed:
    nginx signs ``$uri`` only.
    """
    path = stream_path(key)
    md5 = signature(path, expires, secret)
    return SignedUrl(url=f"{url_prefix}{quote(path)}?md5={md5}&expires={expires}", expires=expires)


def verify(path: str, md5: str | None, expires: str | None, secret: str, now_s: float) -> Verdict:
    """Check a signed URL the way nginx's ``secure_link`` does.

    A wrong or missing signature is TAMPERED even when the time is also past,
    as in nginx (``$secure_link`` is "" before it is "0").
    """
    expires_s = parse_int(expires, max_value=MAX_EXPIRES)
    if not md5 or expires_s is None:
        return Verdict.TAMPERED
    expected = signature(path, expires_s, secret)
    if not hmac.compare_digest(expected.encode("ascii"), md5.encode("ascii", "replace")):
        return Verdict.TAMPERED
    if expires_s < now_s:
        return Verdict.EXPIRED
    return Verdict.VALID


def derive_secret(secret_key: str) -> str:
    """Derive a media signing key from the app's SECRET_KEY (hex, nginx-safe)."""
    return hmac.new(secret_key.encode("utf-8"), b"xueshi-media-signing-v1", hashlib.sha256).hexdigest()


def is_nginx_safe_secret(secret: str) -> bool:
    """Tell whether ``secret`` can be pasted into nginx's quoted md5 expression."""
    return bool(secret) and not _NGINX_UNSAFE_SECRET_RE.search(secret)


def nginx_secure_link_md5(secret: str) -> str:
    """Return the ``secure_link_md5`` directive that matches :func:`signature`."""
    if not is_nginx_safe_secret(secret):
        raise ValueError("MEDIA_SIGNING_KEY must not contain spaces, quotes, '$', ';', braces or backslashes")
    return f'secure_link_md5 "$secure_link_expires$uri {secret}";'
