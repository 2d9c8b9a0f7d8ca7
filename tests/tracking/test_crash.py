"""No answered heartbeat is lost in a crash.

gunicorn serves as `make run` starts it (deploy/gunicorn.conf.py, several workers) on its own
database. Learners play over real HTTP until every server process is killed at once (SIGKILL,
no shutdown of any kind), with requests in flight. The server starts again on the same
database: each learner's stored credit is at least what the server had answered them before
the kill, and never more than the wall time they played.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from app import create_app
from app.accounts.auth import do_issue_token
from app.accounts.service import do_create_user
from app.accounts.models import OrgUnit
from app.courses.service import do_add_lesson, do_add_module, do_create_course, do_create_project, do_enroll, \
    do_link_course
from app.extensions import db
from config import TestingConfig
from tests.conftest import empty_database, free_port

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = 12
WORKERS = 2
INTERVAL_S = 1
BEAT_EVERY_S = 0.05  # many beats per interval: requests in flight in every worker thread when the server dies
LOAD_S = 3.0



def _seed(url: str) -> dict:
    """Schema, one project with a 10-minute video lesson, LEARNERS enrolled learners with API tokens."""
    app = create_app(type("CrashConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        db.create_all()
        province = OrgUnit(name="Province", kind="province", path="")
        db.session.add(province)
        db.session.flush()
        province.path = f"/{province.id}/"
        school = OrgUnit(name="School", kind="school", parent_id=province.id, path="")
        db.session.add(school)
        db.session.flush()
        school.path = f"{province.path}{school.id}/"
        today = date.today()
        project = do_create_project("Crash project", province, today - timedelta(days=1), today + timedelta(days=30),
                                    heartbeat_interval_s=INTERVAL_S, is_presence_check_enabled=False)
        course = do_create_course("Course", province)
        lesson = do_add_lesson(do_add_module(course, "Module 1"), "Lesson", kind="video", duration_s=600)
        do_link_course(project, course, is_required=True)
        tokens = []
        for i in range(LEARNERS):
            user = do_create_user(f"crash{i}", "Secret-pass-1", real_name=f"Learner {i}", school=school, check=False)
            do_enroll(user, project)
            tokens.append(do_issue_token(user)[0])
        db.session.commit()
        info = {"project_id": project.id, "lesson_id": lesson.id, "tokens": tokens}
        db.session.remove()
        db.engine.dispose()
    return info


def _start(url: str, tmp_path: Path, port: int, run: int) -> subprocess.Popen:
    env = dict(os.environ, XUESHI_CONFIG="development", DATABASE_URL=url, SECRET_KEY="crash-test",
               MEDIA_ROOT=str(tmp_path / "media"), HUEY_SQLITE_PATH=str(tmp_path / "huey.db"),
               WORKERS=str(WORKERS), THREADS="4")
    error_log = tmp_path / f"error-{run}.log"
    with error_log.open("wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--no-control-socket",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors,
            start_new_session=True)  # its own process group: one signal reaches the master and every worker
    deadline = time.monotonic() + 60
    while len(re.findall(r"Booting worker", error_log.read_text(errors="replace"))) < WORKERS \
            or _call(port, "GET", "/healthz")[0] != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill(proc)
            raise RuntimeError("gunicorn did not start: " + error_log.read_text(errors="replace"))
        time.sleep(0.1)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _call(port: int, method: str, path: str, token: str | None = None, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            content = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(content) if is_json else content
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return None, None


class Viewer(threading.Thread):
    """An honest viewer: plays from 0, a heartbeat every BEAT_EVERY_S, until the server stops answering."""

    def __init__(self, port: int, token: str, info: dict, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.token, self.info, self.stop = port, token, info, stop
        self.answered_s = 0.0  # the lesson credit of the last heartbeat the server answered
        self.answers = 0
        self.started = None
        self.error = None

    def run(self) -> None:
        status, opened = _call(self.port, "POST", "/api/v1/playback/sessions", self.token,
                               {"lesson_id": self.info["lesson_id"], "project_id": self.info["project_id"]})
        if status != 201:
            self.error = f"open answered {status}"
            return
        self.started = time.monotonic()
        path = f"/api/v1/playback/sessions/{opened['session_id']}/heartbeats"
        seq = 0
        while not self.stop.is_set():
            seq += 1
            position = round(time.monotonic() - self.started, 3)
            status, answer = _call(self.port, "POST", path, self.token,
                                   {"seq": seq, "position_s": position, "playing": True, "visible": True,
                                    "rate": 1.0, "event": "play" if seq == 1 else "tick"})
            if status is None:  # the server is gone
                return
            if status != 200:
                self.error = f"heartbeat answered {status}"
                return
            self.answers += 1
            self.answered_s = answer["lesson"]["credited_s"]
            time.sleep(BEAT_EVERY_S)


def test_answered_heartbeats_survive_killing_every_server_process(database_url, tmp_path):
    url = empty_database(database_url, tmp_path, "crash")
    info = _seed(url)
    port = free_port()
    server = _start(url, tmp_path, port, 1)
    stop = threading.Event()
    viewers = [Viewer(port, token, info, stop) for token in info["tokens"]]
    try:
        for viewer in viewers:
            viewer.start()
        time.sleep(LOAD_S)  # real load on a real server: this test is about processes, not about the rules' clock
        _kill(server)  # mid-load: requests in flight get no answer
        killed_at = time.monotonic()
        stop.set()
        for viewer in viewers:
            viewer.join(timeout=15)
    finally:
        stop.set()
        if server.poll() is None:
            _kill(server)

    assert [v.error for v in viewers if v.error] == []
    assert sum(v.answers for v in viewers) > LEARNERS * 5, "the load did not get going before the kill"
    assert sum(v.answered_s > 0 for v in viewers) == LEARNERS, "every viewer was credited before the kill"

    server = _start(url, tmp_path, port, 2)
    try:
        for viewer in viewers:
            status, progress = _call(port, "GET", f"/api/v1/me/progress?project_id={info['project_id']}",
                                     viewer.token)
            assert status == 200
            stored = next(item["credited_s"] for item in progress["lessons"] if item["lesson_id"] == info["lesson_id"])
            assert stored >= viewer.answered_s, (stored, viewer.answered_s)  # nothing answered was lost
            assert stored <= killed_at - viewer.started + 1  # nor more than the wall time played
    finally:
        _kill(server)
