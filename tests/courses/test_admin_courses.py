"""Course administration: metadata, modules and lessons, order, and the media upload link."""
import pytest
from sqlalchemy import select

from app.courses.models import Course, Lesson, Module
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401


@pytest.fixture
def county_admin(app, fast_hashing, org_tree, make_user):
    return signed_in(app, make_user("county_admin", role="org_admin", org=org_tree["county_a"]))


def titles(model, parent_column, parent_id):
    rows = db.session.execute(select(model).where(parent_column == parent_id).order_by(model.position)).scalars()
    return [r.title for r in rows]


def test_build_a_course(county_admin, org_tree):
    client, token = county_admin
    response = client.post("/admin/courses/new", data={"csrf_token": token, "title": "师德修养", "org_unit_id": org_tree["county_a"].id,
                                                       "subject": "通识", "stage": "primary"})
    assert response.status_code == 302
    course = db.session.execute(select(Course)).scalar_one()
    base = f"/admin/courses/{course.id}"
    for title in ("Module A", "Module B"):
        assert client.post(f"{base}/modules", data={"csrf_token": token, "title": title}).status_code == 302
    first, second = db.session.execute(select(Module).order_by(Module.position)).scalars()
    lesson_url = f"/admin/modules/{first.id}/lessons"
    client.post(lesson_url, data={"csrf_token": token, "title": "Intro video", "kind": "video", "duration_min": "99"})
    client.post(lesson_url, data={"csrf_token": token, "title": "Handout", "kind": "document", "duration_min": "12.5"})
    lessons = {l.title: l for l in db.session.execute(select(Lesson)).scalars()}
    assert lessons["Intro video"].duration_s == 0      # a video's duration comes from its file
    assert lessons["Handout"].duration_s == 750
    bad = client.post(lesson_url, data={"csrf_token": token, "title": "", "kind": "film"}, follow_redirects=True)
    assert "The lesson was not added" in flashes(bad) and len(db.session.execute(select(Lesson)).all()) == 2
    wide = client.post(lesson_url, data={"csrf_token": token, "title": "Wide", "kind": "document", "duration_min": "１２.５"},
                       follow_redirects=True)
    assert "The lesson was not added" in flashes(wide) and len(db.session.execute(select(Lesson)).all()) == 2

    client.post(f"/admin/lessons/{lessons['Handout'].id}/move", data={"csrf_token": token, "direction": "up"})
    assert titles(Lesson, Lesson.module_id, first.id) == ["Handout", "Intro video"]
    client.post(f"/admin/modules/{second.id}/move", data={"csrf_token": token, "direction": "up"})
    assert titles(Module, Module.course_id, course.id) == ["Module B", "Module A"]
    client.post(f"/admin/modules/{second.id}/move", data={"csrf_token": token, "direction": "up"})  # already first
    assert titles(Module, Module.course_id, course.id) == ["Module B", "Module A"]
    client.post(f"/admin/modules/{second.id}", data={"csrf_token": token, "title": "Renamed"})
    assert titles(Module, Module.course_id, course.id) == ["Renamed", "Module A"]

    refused = client.post(f"/admin/modules/{first.id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "only an empty module can be deleted" in flashes(refused)
    client.post(f"/admin/modules/{second.id}/delete", data={"csrf_token": token})
    assert titles(Module, Module.course_id, course.id) == ["Module A"]

    edit = client.post(f"/admin/lessons/{lessons['Handout'].id}",
                       data={"csrf_token": token, "title": "Handout v2", "kind": "document", "duration_min": "20"})
    assert edit.status_code == 302
    assert db.session.get(Lesson, lessons["Handout"].id).duration_s == 1200
    page = client.get(base).get_data(as_text=True)
    assert "Handout v2" in page and "20:00" in page

    client.post(base, data={"csrf_token": token, "title": "师德修养（2026）", "org_unit_id": org_tree["county_a"].id})
    assert db.session.get(Course, course.id).title == "师德修养（2026）"
    outside = client.post(base, data={"csrf_token": token, "title": "x", "org_unit_id": org_tree["county_b"].id})
    assert outside.status_code == 400 and db.session.get(Course, course.id).org_unit_id == org_tree["county_a"].id


def test_media_sets_the_kind_of_a_lesson(county_admin, make_course, org_tree):
    client, token = county_admin
    course = make_course(None, "With media", org=org_tree["county_a"])
    lesson = course.modules[0].lessons[0]
    lesson.media_key = "assets/ab/abc/source.mp4"
    db.session.commit()
    response = client.post(f"/admin/lessons/{lesson.id}", data={"csrf_token": token, "title": "Still video", "kind": "document",
                                                               "duration_min": "1"})
    assert response.status_code == 400 and "comes from the file" in response.get_data(as_text=True)
    lesson = db.session.get(Lesson, lesson.id)
    assert (lesson.kind, lesson.duration_s, lesson.title) == ("video", 600, "With media lesson 1")


def test_course_from_above_is_read_only(county_admin, make_course, org_tree):
    client, token = county_admin
    course = make_course(None, "Province course", org=org_tree["province"])
    page = client.get(f"/admin/courses/{course.id}")
    assert page.status_code == 200 and "kept by the administrators of Province" in page.get_data(as_text=True)
    assert client.post(f"/admin/courses/{course.id}/modules", data={"csrf_token": token, "title": "x"}).status_code == 403
    far = make_course(None, "Far course", org=org_tree["county_b"])
    assert client.get(f"/admin/courses/{far.id}").status_code == 404


def test_upload_link_only_when_the_media_page_exists(app, county_admin, make_course, org_tree):
    client, _token = county_admin
    course = make_course(None, "Linked", org=org_tree["county_a"])
    from app.courses.admin_views import MEDIA_UPLOAD_ENDPOINTS

    endpoint = next((e for e in MEDIA_UPLOAD_ENDPOINTS if e in app.view_functions), None)
    page = client.get(f"/admin/courses/{course.id}").get_data(as_text=True)
    assert ("Upload media" in page) == (endpoint is not None)
    if endpoint is not None:
        assert f'href="/courses/{course.id}/media' in page or endpoint == "media.upload"
