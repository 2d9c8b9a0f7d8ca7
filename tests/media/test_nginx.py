"""The shipped nginx configuration (deploy/nginx) against a real Debian nginx.

nginx runs unprivileged in the foreground from a configuration rendered into
tmp_path (deploy/nginx/render.py: the shipped files with this run's paths and
ports), in front of the test's app served by live_server. Checked: nginx's
secure_link accepts exactly the URLs the app signs (valid 206 with the right
bytes, tampered 403, expired 410, same answers as the app), X-Accel-Redirect
hands the file to nginx (the internal location is not reachable directly),
and the app mode works behind the proxy.
"""
import gzip
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.media import signing
from tests.conftest import bearer, free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
sys.path.insert(0, str(ROOT / "deploy" / "nginx"))
import render  # noqa: E402  (deploy/nginx/render.py)

KEY = "assets/ab/abcdef0123456789/720p.mp4"
DATA = os.urandom(300_000)


def _require_nginx() -> None:
    if not os.path.exists(NGINX):
        pytest.fail(
            f"nginx is not installed ({NGINX} missing). Install Debian's nginx: "
            "`sudo apt-get install -y nginx` (or `make system-packages`; .ci/run installs it).",
            pytrace=False,
        )



class Nginx:
    def __init__(self, out: Path, port: int, proc: subprocess.Popen):
        self.out, self.port, self.proc = out, port, proc

    def get(self, target: str, headers: dict | None = None, method: str = "GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, target, headers=headers or {})
            rv = conn.getresponse()
            return rv.status, {k.lower(): v for k, v in rv.getheaders()}, rv.read()
        finally:
            conn.close()

    def errors(self) -> str:
        log = self.out / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""


@pytest.fixture
def start_nginx(tmp_path, app, live_server):
    """start_nginx(mode) -> a running nginx with the shipped config in that mode, in front of live_server."""
    _require_nginx()
    started = []

    def start(mode: str) -> Nginx:
        port = free_port()
        upstream = urlsplit(live_server.url).netloc
        site = render.Site(media_root=app.config["MEDIA_ROOT"], static_root=str(ROOT / "app" / "static"),
                           upstream=upstream, listen=f"127.0.0.1:{port}",
                           secret=app.config["MEDIA_SIGNING_KEY"], mode=mode)
        out = tmp_path / f"nginx-{mode}"
        conf = render.write(site, out, standalone=True)
        check = subprocess.run([NGINX, "-t", "-p", str(out), "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([NGINX, "-p", str(out), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        server = Nginx(out, port, proc)
        started.append(server)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return server
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {server.errors()}")
                time.sleep(0.05)

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGQUIT)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def media_file(app):
    path = Path(app.config["MEDIA_ROOT"]) / KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DATA)
    return path


def _sign(app, expires_in_s: int, key: str = KEY) -> str:
    return signing.sign_key(key, int(time.time()) + expires_in_s, app.config["MEDIA_SIGNING_KEY"]).url


def _through_app(client, target: str, headers: dict | None = None):
    rv = client.get(target, headers=headers or {}, buffered=True)
    return rv.status_code, rv.data


@pytest.mark.parametrize("mode", ["secure-link", "x-accel", "app"])
def test_shipped_config_passes_nginx_t(tmp_path, mode):
    _require_nginx()
    site = render.Site(media_root=str(tmp_path / "media"), static_root=str(tmp_path / "static"),
                       upstream="127.0.0.1:9", listen=f"127.0.0.1:{free_port()}", secret="k3y_-x", mode=mode)
    (tmp_path / "media").mkdir()
    conf = render.write(site, tmp_path / "conf", standalone=True)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path / "conf"), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert ("secure_link" in (tmp_path / "conf" / "xueshi.conf").read_text()) is False  # only via the include
    included = (tmp_path / "conf" / "xueshi-media-secure-link.conf").exists()
    assert included is (mode == "secure-link")


def test_secure_link_validates_the_apps_signatures(app, client, media_file, start_nginx):
    nginx = start_nginx("secure-link")
    url = _sign(app, 600)

    status, headers, body = nginx.get(url, {"Range": "bytes=1000-1999"})
    assert status == 206, nginx.errors()
    assert body == DATA[1000:2000]
    assert headers["content-range"] == f"bytes 1000-1999/{len(DATA)}"
    assert headers["content-type"] == "video/mp4"
    assert "private" in headers["cache-control"]

    status, headers, body = nginx.get(url, {"Range": "bytes=-100"})
    assert status == 206 and body == DATA[-100:]
    status, headers, body = nginx.get(url, method="HEAD")
    assert status == 200 and headers["content-length"] == str(len(DATA)) and body == b""
    # nginx and the app give the file the same ETag, so If-Range survives a change of mode.
    app_etag = client.head(url).headers["ETag"]
    assert headers["etag"] == app_etag
    status, _, body = nginx.get(url, {"Range": "bytes=0-9", "If-Range": app_etag})
    assert status == 206 and body == DATA[:10]


@pytest.mark.parametrize(
    "case, status",
    [
        ("valid", 206),
        ("tampered-signature", 403),
        ("extended-expiry", 403),
        ("other-file", 403),
        ("no-signature", 403),
        ("expired", 410),
        ("expired-and-tampered", 403),
    ],
)
def test_nginx_and_app_answer_the_same(app, client, media_file, start_nginx, case, status):
    other = Path(app.config["MEDIA_ROOT"]) / "assets/ab/abcdef0123456789/240p.mp4"
    other.write_bytes(b"x" * 1000)
    url = {
        "valid": lambda: _sign(app, 600),
        "tampered-signature": lambda: _sign(app, 600).replace("md5=", "md5=Q"),
        "extended-expiry": lambda: _sign(app, 600).replace("expires=", "expires=1"),
        "other-file": lambda: _sign(app, 600).replace("720p", "240p"),
        "no-signature": lambda: "/media/s/" + KEY,
        "expired": lambda: _sign(app, -5),
        "expired-and-tampered": lambda: _sign(app, -5).replace("md5=", "md5=Q"),
    }[case]()
    nginx = start_nginx("secure-link")
    got, _, body = nginx.get(url, {"Range": "bytes=0-99"})
    assert got == status, nginx.errors()
    assert _through_app(client, url, {"Range": "bytes=0-99"})[0] == status
    if status == 206:
        assert body == DATA[:100]
    else:
        assert DATA[:100] not in body


def test_url_issued_by_the_api_plays_through_secure_link(app, client, media_file, start_nginx, make_project,
                                                        make_lesson, make_user, enroll, api_token):
    project = make_project()
    lesson = make_lesson(project)
    lesson.media_key = KEY
    from app.extensions import db

    db.session.commit()
    learner = make_user("learner")
    enroll(learner, project)
    rv = client.get(f"/api/v1/lessons/{lesson.id}/media", headers=bearer(api_token(learner)))
    assert rv.status_code == 200, rv.get_data(as_text=True)
    parts = urlsplit(rv.get_json()["renditions"][0]["url"])
    nginx = start_nginx("secure-link")
    status, _, body = nginx.get(f"{parts.path}?{parts.query}", {"Range": "bytes=5000-5999"})
    assert status == 206 and body == DATA[5000:6000]


@pytest.mark.config(MEDIA_SERVE_MODE="x-accel")
def test_x_accel_redirect_through_nginx(app, media_file, start_nginx):
    nginx = start_nginx("x-accel")
    url = _sign(app, 600)
    status, headers, body = nginx.get(url, {"Range": "bytes=250000-"})
    assert status == 206, nginx.errors()
    assert body == DATA[250000:]
    assert headers["content-range"] == f"bytes 250000-{len(DATA) - 1}/{len(DATA)}"
    assert headers["content-type"] == "video/mp4"  # the app's type, kept by nginx
    assert "max-age=" in headers["cache-control"] and "private" in headers["cache-control"]
    assert "x-accel-redirect" not in headers
    status, headers, body = nginx.get(url, method="HEAD")
    assert status == 200 and headers["content-length"] == str(len(DATA)) and body == b""

    # The app still decides: a bad or expired URL never reaches the file.
    assert nginx.get(url.replace("md5=", "md5=Q"), {"Range": "bytes=0-9"})[0] == 403
    assert nginx.get(_sign(app, -5), {"Range": "bytes=0-9"})[0] == 410
    # The internal location is not reachable from outside.
    status, _, body = nginx.get("/_protected/" + KEY)
    assert status == 404 and DATA[:100] not in body


@pytest.mark.config(MEDIA_SERVE_MODE="app")
def test_app_mode_behind_the_proxy(app, media_file, start_nginx):
    nginx = start_nginx("app")
    url = _sign(app, 600)
    status, headers, body = nginx.get(url, {"Range": "bytes=123-456"})
    assert status == 206, nginx.errors()
    assert body == DATA[123:457] and headers["content-type"] == "video/mp4"
    assert nginx.get(url.replace("md5=", "md5=Q"))[0] == 403
    assert nginx.get("/healthz")[0] == 200


_SECURITY_HEADERS = ("x-content-type-options", "referrer-policy", "x-frame-options", "content-security-policy")


def _header_list(nginx: Nginx, target: str, headers: dict | None = None) -> list[tuple[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        conn.request("GET", target, headers=headers or {})
        rv = conn.getresponse()
        rv.read()
        return [(k.lower(), v) for k, v in rv.getheaders()]
    finally:
        conn.close()


def _security(headers) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in headers if k.lower() in _SECURITY_HEADERS)


@pytest.mark.parametrize("mode", ["secure-link", "x-accel", "app"])
def test_files_nginx_serves_carry_the_apps_security_headers(app, client, media_file, start_nginx, mode):
    url = _sign(app, 600)
    from_app = _security(client.get(url, headers={"Range": "bytes=0-9"}).headers.items())
    assert len(from_app) == len(_SECURITY_HEADERS)
    app.config["MEDIA_SERVE_MODE"] = mode
    nginx = start_nginx(mode)
    assert _security(_header_list(nginx, url, {"Range": "bytes=0-9"})) == from_app, nginx.errors()
    # the files under /static/ that nginx serves itself, and the app's pages through the proxy (new nonce each time)
    for target in ("/static/css/app.css", "/login"):
        through_nginx = [(k, re.sub(r"'nonce-[^']+'", "'nonce'", v)) for k, v in _security(_header_list(nginx, target))]
        direct = [(k, re.sub(r"'nonce-[^']+'", "'nonce'", v)) for k, v in _security(client.get(target).headers.items())]
        assert through_nginx == direct and len(direct) == len(_SECURITY_HEADERS), target


def test_nginx_serves_static_files_compressed_and_cached_as_the_app_does(app, client, start_nginx):
    nginx = start_nginx("app")
    page = client.get("/login").get_data(as_text=True)
    target = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.css\?v=[0-9a-f]+)"', page).group(1)
    plain = (ROOT / "app" / "static" / "vendor" / "bootstrap" / "bootstrap.min.css").read_bytes()
    status, headers, body = nginx.get(target, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip", nginx.errors()
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 4
    assert headers["cache-control"] == client.get(target).headers["Cache-Control"] == \
        "public, max-age=31536000, immutable"
    status, headers, _body = nginx.get(target.split("?")[0])
    assert status == 200 and headers["cache-control"] == "no-cache"
