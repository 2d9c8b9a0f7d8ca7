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
    # admin, tutor1, manager1, expert1, learner1..50, visitor1; the second class: tutor2, manager2, learner51..60
    assert first["User"] == 67
    assert first["Enrollment"] == 60 and first["Class_"] == 2
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


def _roster_path(name: str) -> str:
    cls = db.session.execute(select(Class_).where(Class_.name == name)).scalar_one()
    return f"/classes/{cls.id}"


def test_demo_second_class_shares_the_learning_center_at_another_school(app, demo_media, clock):
    from app.demo import SECOND_CLASS

    load_demo(demo_media)
    first, second = db.session.execute(select(Class_).order_by(Class_.id)).scalars().all()
    assert second.name == SECOND_CLASS and second.project_id == first.project_id
    assert first.learning_center_id == second.learning_center_id is not None
    assert second.learning_center.kind == "learning_center"
    learners = db.session.execute(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.class_id == second.id, RoleAssignment.role == "learner").order_by(User.id)
    ).scalars().all()
    assert [u.username for u in learners] == [f"learner{i}" for i in range(51, 61)]
    assert {u.school_id for u in learners} == {second.org_unit_id}
    first_schools = set(db.session.execute(
        select(User.school_id).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.class_id == first.id, RoleAssignment.role == "learner")).scalars())
    assert second.org_unit_id not in first_schools


@pytest.mark.parametrize("staff,own,other", [
    ("manager2", "西山县第一小学一班", "东湖县一班"), ("tutor2", "西山县第一小学一班", "东湖县一班"),
    ("manager1", "东湖县一班", "西山县第一小学一班"), ("tutor1", "东湖县一班", "西山县第一小学一班"),
])
def test_demo_staff_see_only_their_own_class(app, demo_media, clock, staff, own, other):
    load_demo(demo_media)
    client = app.test_client()
    assert Auth(client).login(staff, "demo-staff").status_code == 302
    assert client.get("/").headers["Location"] == "/classes"
    home = client.get("/classes").get_data(as_text=True)
    assert own in home and other not in home
    assert client.get(_roster_path(own)).status_code == 200
    assert client.get(_roster_path(other)).status_code == 404
    roster = client.get(_roster_path(own)).get_data(as_text=True)
    assert ("学员51" in roster) is (own == "西山县第一小学一班")
    assert ("学员01" in roster) is (own == "东湖县一班")
