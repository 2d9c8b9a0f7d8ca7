"""Posts to safe HTML with the app's renderer (app.common.markdown), images limited to forum uploads.

Also the quote block above a reply and the plain excerpt it shows. Pure: no Flask, no database.
"""
import re

from markupsafe import Markup, escape

from app.common import markdown

#: the path under which the app serves forum images; no other image source survives cleaning
IMAGE_PREFIX = "/forums/images/"
_IMAGE_NAME = re.compile(r"^/forums/images/[0-9a-f]{32}\.(?:png|jpg)\Z")


def forum_image(src: str) -> bool:
    """Only the forum's own uploads are shown as images in posts."""
    return bool(_IMAGE_NAME.match(src))


def clean_html(html: str) -> str:
    """Clean HTML with the app's allow-list and the forum's image rule."""
    return markdown.clean_html(html, forum_image)


def render_markdown(text: str) -> str:
    """Render a post's Markdown to cleaned HTML."""
    return str(markdown.render_markdown(text, forum_image))


def plain_excerpt(text: str, limit: int = 140) -> str:
    """The first characters of a post's text with Markdown marks and line breaks flattened (for quotes)."""
    flat = re.sub(r"[#>*_`~\[\]()!|-]+", " ", text or "")
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[:limit] + "…"


def render_post(text: str, quote_author: str | None = None, quote_text: str | None = None) -> Markup:
    """The HTML of a post, with the quoted post's author and excerpt (escaped) above it."""
    html = ""
    if quote_text is not None:
        html = (f'<blockquote><p><strong>{escape(quote_author or "")}</strong>：'
                f"{escape(plain_excerpt(quote_text))}</p></blockquote>")
    return Markup(clean_html(html) + render_markdown(text))
