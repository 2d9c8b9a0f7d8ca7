"""Security headers on every answer of the app, added in one place: an after_request hook installed by create_app.

Three policies, chosen by the answer's Content-Type:
- pages (text/html): scripts only from our origin or carrying this request's
  nonce, nothing framing them, no plugins;
- media files (video, audio, images, PDF): only ``frame-ancestors 'self'``,
  because the projector shows a document in a frame and Chrome's PDF viewer
  draws its own page with inline styles that any ``default-src`` would block;
- everything else (JSON, plain text, scripts, styles, and SVG images, which
  can hold scripts): nothing may load or run.
Headers an answer already carries are kept.
"""
from __future__ import annotations

import secrets

from flask import Flask, Response, request

_NONCE_KEY = "xueshi.csp_nonce"

#: what every answer carries
COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)
#: the extra headers of a media file: framed by our own pages only (deploy/nginx sets the same)
MEDIA_HEADERS = (
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Content-Security-Policy", "frame-ancestors 'self'"),
)
#: the extra headers of an answer that is neither a page nor a media file (deploy/nginx's /static/ too)
OTHER_HEADERS = (
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
)
_MEDIA_TYPES = ("video/", "audio/", "image/", "application/pdf", "text/vtt")


def page_policy(nonce: str) -> str:
    """Return the Content-Security-Policy of an HTML page whose scripts carry ``nonce``.

    Styles allow 'unsafe-inline': the pages draw bars, marks and indents from
    data with style="" attributes (an attribute cannot carry a nonce). Scripts
    never do. Media may come from blob: (Media Source) and data: (the
    projector's keep-awake clip); Bootstrap's icons are data: images.
    """
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        "media-src 'self' data: blob:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def csp_nonce() -> str:
    """Return this request's script nonce (templates: ``nonce="{{ csp_nonce() }}"``)."""
    environ = request.environ
    nonce = environ.get(_NONCE_KEY)
    if nonce is None:
        nonce = environ[_NONCE_KEY] = secrets.token_urlsafe(16)
    return nonce


class SecurityHeaders:
    """The security headers of each kind of answer (see the module docstring)."""

    def __init__(self, hsts_max_age_s: int = 0):
        always = COMMON_HEADERS
        if hsts_max_age_s > 0:
            always += (("Strict-Transport-Security", f"max-age={int(hsts_max_age_s)}"),)
        self.page_headers = always + (("X-Frame-Options", "DENY"),)
        self.media_headers = always + MEDIA_HEADERS
        self.other_headers = always + OTHER_HEADERS

    def add_to(self, response: Response) -> Response:
        """Add the security headers ``response`` lacks."""
        content_type = (response.content_type or "").lower()
        if content_type.startswith("text/html"):
            extra = self.page_headers + (("Content-Security-Policy", page_policy(csp_nonce())),)
        elif content_type.startswith(_MEDIA_TYPES) and not content_type.startswith("image/svg"):
            extra = self.media_headers
        else:
            extra = self.other_headers
        for name, value in extra:
            if name not in response.headers:
                response.headers[name] = value
        return response


def install_security_headers(app: Flask) -> None:
    """Add the security headers to every answer and offer csp_nonce() to templates."""
    app.after_request(SecurityHeaders(app.config.get("HSTS_MAX_AGE_S", 0)).add_to)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
