"""Markdown of posts to safe HTML: markdown-it-py with raw HTML off, then nh3 with a short allow-list.

Links keep http, https and mailto only and get rel="nofollow noopener"; images are kept only when
they point at the app's own forum uploads (IMAGE_PREFIX); everything else (scripts, handlers, styles,
javascript:/vbscript:/data: URLs) is removed. Pure: no Flask, no database.
"""
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

#: the path under which the app serves forum images; no other image source survives cleaning
IMAGE_PREFIX = "/forums/images/"
_IMAGE_NAME = re.compile(r"^/forums/images/[0-9a-f]{32}\.(?:png|jpg)$")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table") \
    .enable("strikethrough")

TAGS = {
    "a", "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "img",
}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "th": {"align"},
              "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def _filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _IMAGE_NAME.match(value) else None
    if tag == "a" and attribute == "href":
        scheme = _SCHEME.match(value)
        if scheme is None:
            return value if value.startswith(("/", "#")) and not value.startswith("//") else None
        return value if scheme.group(1).lower() in URL_SCHEMES else None
    return value


def clean_html(html: str) -> str:
    """Clean HTML with the forum's allow-list."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="nofollow noopener",
                     attribute_filter=_filter, strip_comments=True)


def render_markdown(text: str) -> str:
    """Render a post's Markdown to cleaned HTML."""
    return clean_html(_md.render(text or ""))


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
