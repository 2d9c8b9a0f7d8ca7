"""Images of forum posts: checked by their content, re-encoded with Pillow (no metadata, no trailing payload).

Stored under MEDIA_ROOT/forum-images/<32 hex>.png|jpg and served at /forums/images/<name> to signed-in
users; the Markdown cleaner keeps no other image source.
"""
import io
import re
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from app.common.exceptions import Invalid

FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
MAX_PIXELS = 40_000_000
MAX_SIDE = 4096
NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg)\Z")


class TooLarge(Invalid):
    status = 413
    code = "too_large"


class UnsupportedImage(Invalid):
    status = 415
    code = "file"


def image_dir() -> Path:
    return Path(current_app.config["MEDIA_ROOT"]) / "forum-images"


def max_bytes() -> int:
    return int(current_app.config.get("FORUM_IMAGE_MAX_BYTES") or 5 * 1024 * 1024)


def check_store_image(stream) -> str:
    """Check and re-encode an uploaded image; return its app URL. 413 when too large, 415 when not an image."""
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(_("The image is larger than %(n)d MB.", n=max(1, limit // (1024 * 1024))))
    if not data:
        raise UnsupportedImage(_("Choose a PNG, JPEG, GIF or WebP image."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise UnsupportedImage(_("Choose a PNG, JPEG, GIF or WebP image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise TooLarge(_("The image has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info)
            clean = image.convert("RGBA" if has_alpha else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedImage(_("Choose a PNG, JPEG, GIF or WebP image.")) from None
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    fresh = Image.new(clean.mode, clean.size)  # pixels only: no EXIF, ICC, comments or text chunks
    fresh.paste(clean)
    ext, fmt = ("png", "PNG") if has_alpha else ("jpg", "JPEG")
    name = f"{uuid.uuid4().hex}.{ext}"
    folder = image_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    fresh.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    (folder / name).write_bytes(out.getvalue())
    return f"/forums/images/{name}"
