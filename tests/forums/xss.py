"""An XSS corpus and a checker of the HTML a browser receives."""
import html
import re
from html.parser import HTMLParser

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"x\" ONERROR=\"alert(1)\">",
    "<body onload=alert(1)>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](&#x6A;avascript&colon;alert(1))",
    "[click](java\tscript:alert(1))",
    "[click]( javascript:alert(1))",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "[click](vbscript:msgbox(1))",
    "[click](VBScript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](javascript:alert(1))",
    "![x](https://evil.example/track.png)",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<div style=\"background:url(javascript:alert(1))\">css</div>",
    "<p style=\"width:expression(alert(1))\">css</p>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<object data=\"data:text/html,<script>alert(1)</script>\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>",
    "<img src=\"x\" onerror=\"alert(1)\"",
    "<<img src=x onerror=alert(1)//<",
    "<a href=javascript&colon;alert(1)>x</a>",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "[a](https://ok.example\" onclick=\"alert(1))",
    "<!--<img src=x onerror=alert(1)>-->",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"data:text/css,body{}\">",
    "`<script>alert(1)</script>` and ```\n<script>alert(1)</script>\n```",
    "[x](<javascript:alert(1)>)",
    "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">x</a>",
]

_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset",
                   "content", "lowsrc", "dynsrc"}
_BAD_SCHEME = re.compile(r"^(?:javascript|vbscript|data):")
_FORBIDDEN_TAGS = {"svg", "math", "iframe", "object", "embed", "style", "base", "frame", "frameset", "applet",
                   "body", "link"}


class _Inspector(HTMLParser):
    def __init__(self, allowed_script_srcs: tuple[str, ...]):
        super().__init__(convert_charrefs=True)
        self.allowed = allowed_script_srcs
        self.problems: list[str] = []
        self.depth_in_main = 0
        self.seen_main = False

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.seen_main = True
        if tag == "script" and not (dict(attrs).get("src") or "").startswith(self.allowed):
            self.problems.append(f"<script {attrs}>")
        if tag == "meta" and self.seen_main:
            self.problems.append(f"<meta {attrs}> in the page body")
        if tag in _FORBIDDEN_TAGS and self.seen_main:
            self.problems.append(f"<{tag}> in the page body")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style" and self.seen_main:
                self.problems.append(f"<{tag} style=...> in the page body")
            if name in _URL_ATTRIBUTES and value:
                flat = re.sub(r"[\x00-\x20]+", "", html.unescape(value)).lower()
                if _BAD_SCHEME.match(flat):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if tag == "img" and name == "src" and not (value or "").startswith("/forums/images/"):
                self.problems.append(f"<img src={value!r}>")


def html_problems(text: str) -> list[str]:
    """Scripts not served by the app, event handlers, javascript:/vbscript:/data: URLs, active tags in the body."""
    inspector = _Inspector(("/static/",))
    inspector.feed(text)
    inspector.close()
    return inspector.problems
