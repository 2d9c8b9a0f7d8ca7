"""Markdown of what people write (posts, instructions, briefs) to safe HTML: the app's one renderer.

markdown-it-py with raw HTML off, then nh3 with a short allow-list: links keep http, https, mailto and
this site's own paths, with rel="nofollow noopener"; images only from this site (a path starting with a
single "/"), or from a narrower set a feature names (the forums: their own uploads); every script,
handler, style, javascript:/vbscript:/data: URL is removed. Pure: no Flask, no database.
"""
import re
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table").enable(
    "strikethrough")

TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
        "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "th": {"align"},
              "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_SOURCE_CHARS = 100_000
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def own_path(value: str) -> bool:
    """A path of this site: one leading "/", no scheme, host or backslash."""
    return value.startswith("/") and not value.startswith("//") and "\\" not in value


def _attribute_filter(image_ok: Callable[[str], bool]):
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return value if image_ok(value) else None
        if tag == "a" and attribute == "href":
            scheme = _SCHEME.match(value)
            if scheme is None:
                return value if own_path(value) or value.startswith("#") else None
            return value if scheme.group(1).lower() in URL_SCHEMES else None
        return value
    return keep


def clean_html(html: str, image_ok: Callable[[str], bool] = own_path) -> str:
    """Clean HTML with the allow-list; `image_ok(src)` says which image sources stay."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="nofollow noopener",
                     attribute_filter=_attribute_filter(image_ok), strip_comments=True)


def render_markdown(text: str | None, image_ok: Callable[[str], bool] = own_path) -> Markup:
    """Return the Markdown as safe HTML (raw HTML in the source is shown as text)."""
    return Markup(clean_html(_md.render((text or "")[:MAX_SOURCE_CHARS]), image_ok))
