"""flask demo: the demo data set, loaded twice without change."""
import pytest
from sqlalchemy import func, select

from app.accounts.models import OrgUnit, RoleAssignment, User
from app.classrooms.models import Class_
from app.demo import (DEMO_VIDEOS, SHORT_PROJECT_HOURS, SHORT_PROJECT_TITLE, ensure_demo_ladder, load_demo,
                      probe_duration_s, probe_video_height)
from app.courses.models import Enrollment, Lesson, Project
from app.extensions import db
from tests.conftest import Auth, bearer


def _counts() -> dict:
    return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (User, RoleAssignment, Enrollment, Project, Lesson, Class_)}


def test_demo_loads_once_and_twice_changes_nothing(app, demo_media, clock):
    load_demo(demo_media)
    first = _counts()
    # admin, tutor1, manager1, expert1, eastadmin, westadmin, learner1..50, visitor1;
    # the second class: tutor2, manager2, learner51..60
    assert first["User"] == 69
    # learner1..60 in the long project, learner1 also in the short one
    assert first["Enrollment"] == 61 and first["Project"] == 2 and first["Class_"] == 2
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
    assert sorted(p["required_hours"] for p in projects) == [SHORT_PROJECT_HOURS, 60]
    projects = [p for p in projects if p["required_hours"] == 60]
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


def test_demo_sources_are_360p_so_the_ladder_has_two_rungs(demo_media):
    assert all(probe_video_height(demo_media / key) == 360 for key, _s, _t in DEMO_VIDEOS)


def test_short_project_is_finished_by_watching_its_videos(app, client, demo_media, clock):
    from tests.tracking.conftest import Player

    load_demo(demo_media)
    short = db.session.execute(select(Project).where(Project.title == SHORT_PROJECT_TITLE)).scalar_one()
    headers = bearer(Auth(client).token("learner1", "demo-learner"))
    progress = client.get(f"/api/v1/me/progress?project_id={short.id}", headers=headers).get_json()
    assert progress["required_hours"] == SHORT_PROJECT_HOURS and progress["missing_s"] > 0
    videos = [lesson for lesson in progress["lessons"] if lesson["duration_s"] and lesson["lesson_id"] in {
        lesson.id for lesson in db.session.execute(select(Lesson).where(Lesson.kind == "video")).scalars()}]
    assert len(videos) == 3
    for lesson in videos:
        player = Player(client, clock, headers, short.id, lesson["lesson_id"])
        player.open()
        player.play(lesson["duration_s"])
        player.pause()
    progress = client.get(f"/api/v1/me/progress?project_id={short.id}", headers=headers).get_json()
    assert progress["missing_s"] == 0 and progress["learning_hours"] >= SHORT_PROJECT_HOURS
    assert all(lesson["complete"] for lesson in progress["lessons"] if lesson["lesson_id"] in
               {v["lesson_id"] for v in videos})
    # only learner1 is in the short project; the others see the 60-hour one alone
    other = bearer(Auth(app.test_client()).token("learner2", "demo-learner"))
    assert [p["title"] for p in client.get("/api/v1/me/projects", headers=other).get_json()] != [] and \
        SHORT_PROJECT_TITLE not in [p["title"] for p in client.get("/api/v1/me/projects", headers=other).get_json()]


def test_demo_lesson_gets_its_ladder_once(app, client, demo_media, clock):
    app.config["MEDIA_ROOT"] = str(demo_media)
    load_demo(demo_media)
    intro = DEMO_VIDEOS[0]
    assert ensure_demo_ladder(demo_media, keys={intro[0]}) == 1
    assert ensure_demo_ladder(demo_media, keys={intro[0]}) == 0  # twice changes nothing
    lesson = db.session.execute(select(Lesson).where(Lesson.title == intro[2])).scalar_one()
    short = db.session.execute(select(Project).where(Project.title == SHORT_PROJECT_TITLE)).scalar_one()
    headers = bearer(Auth(client).token("learner1", "demo-learner"))
    media = client.get(f"/api/v1/lessons/{lesson.id}/media?project_id={short.id}", headers=headers).get_json()
    assert [r["label"] for r in media["renditions"]] == ["240p", "360p"]
    assert media["poster_url"]
    for rendition in media["renditions"]:
        data = client.get(rendition["url"], headers=headers).get_data()
        assert data.find(b"moov") < data.find(b"mdat"), f"{rendition['label']} is not faststart"
    assert lesson.duration_s == round(probe_duration_s(demo_media / intro[0]))


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


def test_demo_tutor_home_says_what_homework_waits_and_links_the_class_figures(app, demo_media, clock):
    load_demo(demo_media)
    cls = db.session.execute(select(Class_).where(Class_.name == "东湖县一班")).scalar_one()
    client = app.test_client()
    assert Auth(client).login("tutor1", "demo-staff").status_code == 302
    home = client.get("/classes").get_data(as_text=True)
    waiting = home.split('data-testid="to-grade">')[1].split("</p>")[0]
    assert f"/homework/queue?class_id={cls.id}" in waiting
    queue = client.get(f"/homework/queue?class_id={cls.id}").get_data(as_text=True)
    assert waiting.split('">')[1].split(" ")[0] == str(queue.count('data-testid="queue-item"'))
    assert f'href="/reports/classes/{cls.id}"' in home
    assert client.get(f"/reports/classes/{cls.id}").status_code == 200


def test_demo_expert_home_leads_to_each_projects_forums(app, demo_media, clock):
    import re

    load_demo(demo_media)
    client = app.test_client()
    assert Auth(client).login("expert1", "demo-staff").status_code == 302
    home = client.get("/expert").get_data(as_text=True)
    links = re.findall(r'href="(/projects/\d+/forums)" data-testid="expert-project-forums"', home)
    assert len(links) == 2  # the demo project and the short project
    for link in links:
        assert client.get(link).status_code == 200, link


@pytest.mark.parametrize("bureau,own,other", [("eastadmin", "东湖县", "西山县"), ("westadmin", "西山县", "东湖县")])
def test_demo_county_admins_see_their_own_county_only(app, demo_media, clock, bureau, own, other):
    load_demo(demo_media)
    units = {u.name: u.id for u in db.session.execute(select(OrgUnit)).scalars()}
    project = db.session.execute(select(Project).where(Project.required_hours == 60)).scalar_one()
    client = app.test_client()
    assert Auth(client).login(bureau, "demo-staff").status_code == 302
    assert client.get(f"/reports/projects/{project.id}/units/{units[own]}").status_code == 200
    assert client.get(f"/reports/projects/{project.id}/units/{units[other]}").status_code in (403, 404)
    listing = client.get(f"/reports/projects/{project.id}/units/{units[own]}/learners")
    assert listing.status_code == 200
    learners = listing.get_data(as_text=True)
    assert ("学员51" in learners) is (own == "西山县") and ("学员01" in learners) is (own == "东湖县")


def test_demo_history_has_group_viewings_of_the_second_class_with_attendance(app, demo_media, clock):
    from app.demo import SECOND_CLASS
    from app.tracking.models import GroupAttendance, GroupSession
    from app.tracking.service import get_recomputed_ms

    load_demo(demo_media)
    cls = db.session.execute(select(Class_).where(Class_.name == SECOND_CLASS)).scalar_one()
    sessions = db.session.execute(select(GroupSession).where(GroupSession.class_id == cls.id).order_by(GroupSession.id)).scalars().all()
    assert len(sessions) == 2 and all(gs.status == "ended" for gs in sessions)
    assert {gs.learning_center.name for gs in sessions} == {"东湖县教师学习中心"}
    attendances = db.session.execute(select(GroupAttendance).order_by(GroupAttendance.id)).scalars().all()
    assert len(attendances) == 12 and all(a.checked_out_ms for a in attendances)
    assert all(a.credited_ms > 0 for a in attendances)
    # learner54 stayed 3 minutes of the first; learner51 attended both in full
    by_user = {}
    for a in attendances:
        by_user.setdefault(a.user.username, []).append(a)
    assert by_user["learner54"][0].credited_ms < by_user["learner51"][0].credited_ms
    for a in attendances:
        stored, recomputed = get_recomputed_ms(a.user_id, cls.project_id, sessions[0].lesson_id)
        assert stored == recomputed
    load_demo(demo_media)
    assert db.session.execute(select(func.count()).select_from(GroupSession)).scalar_one() == 2
    # the attendance page of manager2 shows them
    client = app.test_client()
    assert Auth(client).login("manager2", "demo-staff").status_code == 302
    page = client.get(f"/group-sessions/{sessions[0].id}").get_data(as_text=True)
    assert "学员51" in page


def test_demo_forums_live_and_load_once(app, demo_media, clock):
    from app.forums.models import ForumPost, ForumTopic

    load_demo(demo_media)
    topics = db.session.execute(select(ForumTopic)).scalars().all()
    posts = db.session.execute(select(ForumPost)).scalars().all()
    assert len(topics) == 4 and len(posts) == 9
    assert any(p.is_excellent for p in posts) and any(p.is_answer for p in posts)
    questions = [t for t in topics if t.board.kind == "qa"]
    assert sorted(t.is_answered for t in questions) == [False, True]
    from app.notifications.models import Notification

    learner1 = db.session.execute(select(User).where(User.username == "learner1")).scalar_one()
    assert db.session.execute(select(Notification.kind).where(Notification.user_id == learner1.id,
                                                              Notification.kind == "qa_answer")).scalar_one()
    load_demo(demo_media)
    assert db.session.execute(select(func.count()).select_from(ForumPost)).scalar_one() == 9


def test_demo_gives_learner1_notifications_once(app, demo_media, clock):
    from app.notifications.models import Notification
    from app.notifications.service import unread_count

    load_demo(demo_media)
    learner = db.session.execute(select(User).where(User.username == "learner1")).scalar_one()
    # the demo forum adds its own (an expert answered learner1's question): count the welcome and the reminder
    assert unread_count(learner.id) == 3
    load_demo(demo_media)
    # learner1's welcome and reminder, once (the demo's homework and forum tell others, and learner1 of an answer)
    assert db.session.execute(select(func.count()).select_from(Notification)
                              .where(Notification.user_id == learner.id,
                                     Notification.kind.in_(("system", "reminder")))).scalar_one() == 2
    client = app.test_client()
    token = Auth(client).token("learner1", "demo-learner")
    items = client.get("/api/v1/me/notifications", headers=bearer(token)).get_json()["items"]
    items = [i for i in items if i["kind"] in ("system", "reminder")]
    assert [i["kind"] for i in items] == ["reminder", "system"] and all(i["url"] == "/learn" for i in items)
