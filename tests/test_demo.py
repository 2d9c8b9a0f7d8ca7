"""flask demo: the demo data set, loaded twice without change."""
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.accounts.models import RoleAssignment, User
from app.classrooms.models import Class_
from app.demo import DEMO_VIDEOS, load_demo, probe_duration_s
from app.courses.models import Enrollment, Lesson, Project
from app.extensions import db
from tests.conftest import Auth, bearer


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory) -> Path:
    """The demo's generated media, made once per test session."""
    from app.demo import ensure_demo_media

    root = tmp_path_factory.mktemp("demo-media")
    ensure_demo_media(root)
    return root


def _counts() -> dict:
    return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (User, RoleAssignment, Enrollment, Project, Lesson, Class_)}


def test_demo_loads_once_and_twice_changes_nothing(app, demo_media, clock):
    load_demo(demo_media)
    first = _counts()
    assert first["User"] == 55  # admin, tutor1, manager1, expert1, learner1..50, visitor1
    assert first["Enrollment"] == 50
    load_demo(demo_media)
    assert _counts() == first


def test_demo_videos_are_real_and_sized_as_promised(demo_media):
    durations = [probe_duration_s(demo_media / key) for key, _s, _t in DEMO_VIDEOS]
    assert min(durations) <= 60 and max(durations) >= 300
    for key, seconds, _t in DEMO_VIDEOS:
        head = (demo_media / key).read_bytes()[:64]
        assert b"ftyp" in head
        data = (demo_media / key).read_bytes()
        assert data.find(b"moov") < data.find(b"mdat"), f"{key} is not faststart"


def test_demo_learner_sees_project_and_lessons_by_token(app, demo_media, clock):
    load_demo(demo_media)
    client = app.test_client()
    token = Auth(client).token("learner1", "demo-learner")
    projects = client.get("/api/v1/me/projects", headers=bearer(token)).get_json()
    assert len(projects) == 1 and projects[0]["required_hours"] == 60
    lessons = client.get(f"/api/v1/projects/{projects[0]['id']}/lessons", headers=bearer(token)).get_json()
    videos = [lesson for lesson in lessons if lesson["kind"] == "video"]
    assert len(videos) == 3
    real = sorted(round(probe_duration_s(demo_media / key)) for key, _s, _t in DEMO_VIDEOS)
    assert sorted(v["duration_s"] for v in videos) == real
    visitor = Auth(app.test_client()).token("visitor1", "demo-learner")
    assert client.get("/api/v1/me/projects", headers=bearer(visitor)).get_json() == []
    assert client.get(f"/api/v1/projects/{projects[0]['id']}/lessons", headers=bearer(visitor)).status_code == 403


def test_demo_handbook_opens_in_the_reader(app, demo_media, clock):
    """The PDF handbook is a document lesson the reader can open: its 10 pages are counted and reported."""
    app.config["MEDIA_ROOT"] = str(demo_media)
    load_demo(demo_media)
    client = app.test_client()
    token = Auth(client).token("learner1", "demo-learner")
    project = client.get("/api/v1/me/projects", headers=bearer(token)).get_json()[0]
    lessons = client.get(f"/api/v1/projects/{project['id']}/lessons", headers=bearer(token)).get_json()
    handbook = next(lesson for lesson in lessons if lesson["kind"] == "document")
    opened = client.post("/api/v1/playback/sessions", headers=bearer(token),
                         json={"lesson_id": handbook["id"], "project_id": project["id"]})
    assert opened.status_code == 201, opened.get_data(as_text=True)
    assert (opened.get_json()["kind"], opened.get_json()["page_count"]) == ("document", 10)
    beat = client.post(f"/api/v1/playback/sessions/{opened.get_json()['session_id']}/heartbeats", headers=bearer(token),
                       json={"seq": 1, "position_s": 0, "playing": True, "visible": True, "rate": 1, "event": "play",
                             "page": 10})
    assert beat.status_code == 200 and beat.get_json()["accepted"]
