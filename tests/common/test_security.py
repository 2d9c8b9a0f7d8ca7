"""Security headers (app/common/security.py): API answers and media files get them, HSTS only in production,
and no template or script carries inline code the page's CSP would refuse.

Every route's answers are checked by tests/test_route_matrix.py; a real browser by tests/browser.
"""
import re
from pathlib import Path

import pytest

from app.common import clock
from app.media import signing
from config import Config, DevelopmentConfig, ProductionConfig, TestingConfig
from tests.conftest import bearer

APP = Path(__file__).resolve().parents[2] / "app"
_TAG_WITH_HANDLER = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S)
_SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.S)
NONCE = 'nonce="{{ csp_nonce() }}"'
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _is_data(tag: str) -> bool:
    """Tell a data block (JSON the page's script reads; never run, so no nonce) from a script."""
    return 'type="application/json"' in tag and "src=" not in tag


def _files(folder: str, pattern: str) -> list[Path]:
    files = sorted((APP / folder).rglob(pattern))
    assert files, f"no {pattern} under app/{folder}"
    return files


def test_no_template_has_a_script_without_the_nonce_or_an_inline_handler():
    """Scripts carry the nonce, JSON data blocks need none; no on*= handlers, no javascript: URLs."""
    problems = []
    for path in _files("templates", "*.html"):
        text = path.read_text()
        problems += [f"{path.name}: {tag}" for tag in _SCRIPT_TAG.findall(text) if NONCE not in tag and not _is_data(tag)]
        problems += [f"{path.name}: {m.group(0)[:80]}" for m in _TAG_WITH_HANDLER.finditer(text)]
        if "javascript:" in text.lower():
            problems.append(f"{path.name}: a javascript: URL")
        if "load_js()" in text:
            problems.append(f"{path.name}: bootstrap.load_js() without nonce=csp_nonce()")
    assert not problems, "\n".join(problems)


def test_our_scripts_build_no_inline_handlers():
    problems = [f"{path.name}: {m.group(0)[:80]}" for path in _files("static/js", "*.js")
                for m in _TAG_WITH_HANDLER.finditer(path.read_text())]
    problems += [f"{path.name}: sets an on* attribute" for path in _files("static/js", "*.js")
                 if re.search(r"setAttribute\(\s*['\"]on", path.read_text())]
    assert not problems, "\n".join(problems)


def test_hsts_is_on_in_production_only():
    assert ProductionConfig.HSTS_MAX_AGE_S >= 180 * 24 * 3600
    assert Config.HSTS_MAX_AGE_S == DevelopmentConfig.HSTS_MAX_AGE_S == TestingConfig.HSTS_MAX_AGE_S == 0


@pytest.mark.config(HSTS_MAX_AGE_S=600)
@pytest.mark.parametrize("path", ["/login", "/api/v1/me", "/healthz", "/static/css/app.css", "/no-such-page"])
def test_hsts_when_configured(client, path):
    assert client.get(path).headers["Strict-Transport-Security"] == "max-age=600"


def test_no_hsts_by_default(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_a_heartbeat_answer_carries_the_headers(app, client, org_tree, make_project, make_course, make_user, enroll, api_token):
    project = make_project(is_presence_check_enabled=False)
    lesson = make_course(project).modules[0].lessons[0]
    learner = make_user("learner1", org=org_tree["school_a1"])
    enroll(learner, project)
    headers = bearer(api_token(learner))
    opened = client.post("/api/v1/playback/sessions", json={"lesson_id": lesson.id, "project_id": project.id},
                         headers=headers)
    assert opened.status_code == 201, opened.get_data(as_text=True)
    beat = {"seq": 1, "position_s": 0, "playing": True, "visible": True, "rate": 1, "event": "play"}
    rv = client.post(f"/api/v1/playback/sessions/{opened.get_json()['session_id']}/heartbeats", json=beat,
                     headers=headers)
    assert rv.status_code == 200
    assert rv.headers["X-Content-Type-Options"] == "nosniff"
    assert rv.headers["Referrer-Policy"] == "same-origin"
    assert rv.headers["X-Frame-Options"] == "DENY"
    assert rv.headers["Content-Security-Policy"] == OTHER_POLICY


FRAMED_BY_OUR_PAGES = "frame-ancestors 'self'"


@pytest.mark.parametrize("key, content_type, policy", [
    ("docs/ab/0123456789abcdef/handout.pdf", "application/pdf", FRAMED_BY_OUR_PAGES),
    ("assets/ab/0123456789abcdef/720p.mp4", "video/mp4", FRAMED_BY_OUR_PAGES),
    ("assets/ab/0123456789abcdef/poster.jpg", "image/jpeg", FRAMED_BY_OUR_PAGES),
    ("docs/ab/0123456789abcdef/figure.svg", "image/svg+xml", OTHER_POLICY),  # an SVG can hold scripts
])
def test_media_files_may_be_framed_by_our_pages_only(app, client, key, content_type, policy):
    path = Path(app.config["MEDIA_ROOT"]) / key
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF-1.4 " + bytes(2000))
    url = signing.sign_key(key, int(clock.now().timestamp()) + 600, app.config["MEDIA_SIGNING_KEY"]).url
    for headers, status in (({}, 200), ({"Range": "bytes=0-99"}, 206), ({"Range": "bytes=5000-"}, 416)):
        rv = client.get(url, headers=headers)
        assert rv.status_code == status
        assert rv.headers["X-Content-Type-Options"] == "nosniff"
        assert rv.headers["Referrer-Policy"] == "same-origin"
        if status == 416:
            continue
        assert rv.mimetype == content_type
        # the projector shows documents in a frame; Chrome's PDF viewer breaks under any default-src
        assert rv.headers["Content-Security-Policy"] == policy
        assert rv.headers["X-Frame-Options"] == ("SAMEORIGIN" if policy == FRAMED_BY_OUR_PAGES else "DENY")


def test_a_pages_nonce_is_new_for_every_request(client):
    policies = [client.get("/login").headers["Content-Security-Policy"] for _ in range(3)]
    nonces = {re.search(r"'nonce-([^']+)'", p).group(1) for p in policies}
    assert len(nonces) == 3
    html = client.get("/login").get_data(as_text=True)
    assert all(n not in html for n in nonces)
