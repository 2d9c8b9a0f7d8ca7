"""Markdown for what people write (instructions, briefs): markdown-it-py with raw HTML off, then cleaned by nh3.

Links may point to http, https and mailto only and open with rel="nofollow noopener"; images only
from this site (a path starting with a single "/"), never from another host or a data: URL.
"""
from markdown_it import MarkdownIt
from markupsafe import Markup
import nh3

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table").enable(
    "strikethrough")

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
         "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "th": {"style"},
               "td": {"style"}}
MAX_SOURCE_CHARS = 100_000


def _own_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else None
    if attribute == "style":
        return value if value in ("text-align:left", "text-align:center", "text-align:right") else None
    return value


def render_markdown(text: str | None) -> Markup:
    """Return the Markdown as safe HTML (raw HTML in the source is shown as text)."""
    html = _md.render((text or "")[:MAX_SOURCE_CHARS])
    cleaned = nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                        link_rel="nofollow noopener", attribute_filter=_own_images, strip_comments=True)
    return Markup(cleaned)
