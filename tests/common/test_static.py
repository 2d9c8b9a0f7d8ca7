"""Static files: fingerprinted URLs cached a year, compressed answers, and a Bootstrap build that covers the app."""
import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest

import app as app_package

APP_DIR = Path(app_package.__file__).parent
BOOTSTRAP = APP_DIR / "static" / "vendor" / "bootstrap"
#: what tools/css/build.mjs gives PurgeCSS to read (keep in step with its `content`)
CONTENT_GLOBS = ("templates/**/*.html", "**/*.py", "static/js/**/*.js")
_STATIC_URL = re.compile(r"""(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]+)\"""")


def _static_urls(html: str) -> list[tuple[str, str]]:
    return _STATIC_URL.findall(html)


def test_page_links_carry_the_content_fingerprint(client):
    urls = _static_urls(client.get("/login").get_data(as_text=True))
    paths = {path for path, _v in urls}
    assert "/static/vendor/bootstrap/bootstrap.min.css" in paths and "/static/css/app.css" in paths
    for path, version in urls:
        data = (APP_DIR / path.removeprefix("/")).read_bytes()
        assert version == hashlib.sha256(data).hexdigest()[:12], path


def test_a_fingerprinted_file_is_cached_a_year_and_others_are_revalidated(client):
    (path, version), *_ = _static_urls(client.get("/login").get_data(as_text=True))
    fresh = client.get(f"{path}?v={version}")
    assert fresh.status_code == 200
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for stale in (path, f"{path}?v=000000000000"):
        answer = client.get(stale)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-cache", stale
    assert client.get("/static/no-such-file.css").status_code == 404


def test_a_changed_file_gets_a_new_fingerprint(app, tmp_path):
    from app.common.static import StaticVersions

    (tmp_path / "a.css").write_text("a{}")
    versions = StaticVersions(str(tmp_path))
    first = versions.version("a.css")
    (tmp_path / "a.css").write_text("a{color:red}")
    assert versions.version("a.css") != first
    assert versions.version("../a.css") is None and versions.version("missing.css") is None


def test_a_folder_url_has_no_fingerprint(app):
    """A base URL naming a folder (the PDF reader's character maps) is built plainly, not fingerprinted."""
    from flask import url_for

    with app.test_request_context():
        assert url_for("static", filename="vendor/pdfjs/cmaps/") == "/static/vendor/pdfjs/cmaps/"


@pytest.mark.parametrize("encoding,decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_styles_scripts_and_pages_are_compressed(client, encoding, decode):
    page = client.get("/login", headers={"Accept-Encoding": encoding})
    assert page.headers["Content-Encoding"] == encoding and "Accept-Encoding" in page.headers["Vary"]
    html = decode(page.get_data()).decode()
    assert "Content-Security-Policy" in page.headers and "nonce-" in page.headers["Content-Security-Policy"]
    for path, version in _static_urls(html):
        answer = client.get(f"{path}?v={version}", headers={"Accept-Encoding": encoding})
        data = (APP_DIR / path.removeprefix("/")).read_bytes()
        if len(data) < 1024:  # COMPRESS_MIN_SIZE: not worth a compressor's header
            assert "Content-Encoding" not in answer.headers and answer.get_data() == data, path
            continue
        assert answer.headers["Content-Encoding"] == encoding, path
        assert decode(answer.get_data()) == data, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    purged = client.get("/static/vendor/bootstrap/bootstrap.min.css", headers={"Accept-Encoding": encoding})
    assert len(purged.get_data()) < 15_000, "the purged Bootstrap CSS grew past 15 kB compressed"


def test_without_accept_encoding_the_answer_is_plain(client):
    answer = client.get("/static/css/app.css", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in answer.headers
    assert answer.get_data() == (APP_DIR / "static" / "css" / "app.css").read_bytes()


def _css_classes(css: str) -> set[str]:
    """Return the classes that are the only class of some selector (as tools/css/build.mjs lists them)."""
    css = re.sub(r"url\([^)]*\)", "", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    classes = set()
    for selectors in re.findall(r"([^{}]+)\{", css):
        for selector in selectors.split(","):
            named = re.findall(r"\.(-?[A-Za-z_][A-Za-z0-9_-]*)", selector)
            if len(named) == 1:
                classes.add(named[0])
    return classes


def test_every_bootstrap_class_the_app_names_is_in_the_built_css():
    """Fails when a template, Python file or script names a Bootstrap class the purged build dropped: run `make css`."""
    bootstrap_classes = set((BOOTSTRAP / "classes.txt").read_text().split())
    built = _css_classes((BOOTSTRAP / "bootstrap.min.css").read_text())
    named: dict[str, str] = {}
    for pattern in CONTENT_GLOBS:
        for path in APP_DIR.glob(pattern):
            for token in re.findall(r"[A-Za-z0-9_-]+", path.read_text(encoding="utf-8", errors="replace")):
                named.setdefault(token, str(path.relative_to(APP_DIR)))
    missing = sorted(f"{name} ({where})" for name, where in named.items() if name in bootstrap_classes - built)
    assert not missing, "Bootstrap classes named by the app but not in the built CSS (run `make css`): " + ", ".join(missing)


def test_the_classes_pages_use_most_are_built():
    css = (BOOTSTRAP / "bootstrap.min.css").read_text()
    assert {"container", "btn", "btn-primary", "table", "alert-danger", "alert-success", "navbar",
            "text-bg-success", "badge", "form-control", "d-none"} <= _css_classes(css)
    assert ".collapse:not(.show)" in css and "accordion-button" not in css
