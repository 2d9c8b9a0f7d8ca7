"""The account lock holds across four gunicorn workers, over real HTTP, on the form and the API alike."""
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from app.accounts.service import do_create_user
from app.extensions import db
from config import TestingConfig
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Right-pass-1"
WRONG = "Wrong-pass-9"
LIMIT = 5



def _make_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    app = create_app(type("SchemaConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        db.create_all()
        do_create_user("wang", PASSWORD, real_name="Wang", check=False)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return url


@pytest.fixture
def server(tmp_path):
    """gunicorn as `make run` starts it (deploy/gunicorn.conf.py), four workers, on a temp SQLite database."""
    url = _make_database(tmp_path / "xueshi.db")
    port = free_port()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    env = dict(os.environ, XUESHI_CONFIG="development", DATABASE_URL=url, SECRET_KEY="workers-test",
               MEDIA_ROOT=str(tmp_path / "media"), HUEY_SQLITE_PATH=str(tmp_path / "huey.db"), THREADS="2",
               LOGIN_FAILURES_PER_ACCOUNT=f"{LIMIT} per 5 minutes",
               # with REDIS_URL set (the PostgreSQL run) the workers count in Redis: keys of this run only
               SIGN_IN_LIMITS_PREFIX=f"xueshi-test-workers-{os.getpid()}-{port}:")
    with error_log.open("wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "-w", "4", "--preload", "--no-control-socket",
             "--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log),
             "--access-logformat", "%(p)s %(s)s %(m)s %(U)s", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while len(re.findall(r"Booting worker", error_log.read_text(errors="replace"))) < 4 or not _up(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start: " + error_log.read_text(errors="replace"))
            time.sleep(0.1)
        yield base, access_log
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/login", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _send(opener, request) -> tuple[int, dict, str]:
    """Each request on a new connection (urllib closes it), so the kernel hands it to any worker."""
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def form_sign_in(base: str, password: str) -> tuple[int, dict, str]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)
    _status, _headers, page = _send(opener, base + "/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "wang", "password": password, "csrf_token": token}).encode()
    return _send(opener, urllib.request.Request(base + "/login", data=body))


def api_sign_in(base: str, password: str) -> tuple[int, dict, str]:
    body = json.dumps({"username": "wang", "password": password}).encode()
    request = urllib.request.Request(base + "/api/v1/auth/token", data=body,
                                     headers={"Content-Type": "application/json"})
    return _send(urllib.request.build_opener(_NoRedirect), request)


def test_the_lock_engages_after_exactly_the_limit_and_holds_on_every_route(server):
    base, access_log = server
    for i in range(LIMIT):
        status, _headers, _body = (api_sign_in, form_sign_in)[i % 2](base, WRONG)
        assert status == 401, f"wrong password {i + 1} of {LIMIT} answered {status}"
    for sign_in in (form_sign_in, api_sign_in, form_sign_in, api_sign_in):
        for password in (PASSWORD, WRONG):
            status, headers, body = sign_in(base, password)
            assert status == 429, (sign_in.__name__, password, status)
            assert 0 < int(headers["Retry-After"]) <= 300
    assert json.loads(body)["error"]["code"] == "rate_limited"
    _status, _headers, page = form_sign_in(base, PASSWORD)
    assert "该账号密码错误次数过多" in page  # the form, shown again with the lock's message (zh_CN by default)

    # The sign-ins were answered by more than one worker process: the count is shared, not per worker.
    deadline = time.monotonic() + 5
    while len(sign_ins := _sign_ins_served(access_log)) < LIMIT + 9 and time.monotonic() < deadline:
        time.sleep(0.05)  # a worker writes its access line after the answer
    assert len(sign_ins) == LIMIT + 9
    assert len(set(sign_ins)) > 1, "every sign-in went to one worker; the test proves nothing"


def _sign_ins_served(access_log: Path) -> list[str]:
    """The worker pid of each sign-in POST in the access log."""
    return [line.split()[0] for line in access_log.read_text().splitlines()
            if line.split()[2:] in (["POST", "/login"], ["POST", "/api/v1/auth/token"])]
