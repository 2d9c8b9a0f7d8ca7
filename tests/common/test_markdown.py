"""Markdown of what people write: raw HTML off, links limited, images only from this site."""
from app.common.markdown import render_markdown


def test_raw_html_is_text_and_scripts_never_run():
    html = str(render_markdown("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>"))
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_links_are_limited_and_marked():
    html = str(render_markdown("[a](javascript:alert(1)) [b](https://example.cn/x) [c](mailto:t@example.cn) [d](data:text/html,x)"))
    assert "javascript:" not in html.split("[a]")[0] and 'href="javascript' not in html and 'href="data' not in html
    assert '<a href="https://example.cn/x" rel="nofollow noopener">b</a>' in html
    assert 'href="mailto:t@example.cn"' in html


def test_images_only_from_this_site():
    html = str(render_markdown("![a](https://evil.example/t.png) ![b](//evil.example/t.png) ![c](/static/favicon.svg)"))
    assert "evil.example" not in html
    assert '<img src="/static/favicon.svg" alt="c">' in html


def test_ordinary_markdown_renders():
    html = str(render_markdown("# 标题\n\n**粗体** 与 *斜体*\n\n- 一\n- 二\n\n| 甲 | 乙 |\n|---|---|\n| 1 | 2 |"))
    for part in ("<h1>标题</h1>", "<strong>粗体</strong>", "<em>斜体</em>", "<li>一</li>", "<td>1</td>"):
        assert part in html
