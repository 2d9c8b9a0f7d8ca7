"""Content with credit is archived, never deleted: the admin pages refuse such a delete and say why."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.courses.models import Course, Lesson, Project
from app.extensions import db
from app.tracking.models import CreditWindow, LessonProgress, PlaybackSession
from tests.classrooms.world import flashes, signed_in
from tests.conftest import bearer
from tests.tracking.conftest import Player


@pytest.fixture
def site(app, clock, make_project, make_course, make_user, enroll, api_token, org_tree):
    """A project with two courses; the learner earned 60 s on course A's first lesson and opened course B without credit."""
    project = make_project("Archive project", is_presence_check_enabled=False)
    credited = make_course(project, "COURSE-A", durations=(600, 300))
    untouched = make_course(project, "COURSE-B", durations=(300,))
    learner = make_user("archive_learner", org=org_tree["school_a1"])
    enroll(learner, project)
    headers = bearer(api_token(learner))
    client = app.test_client()
    p = Player(client, clock, headers, project.id, credited.modules[0].lessons[0].id)
    p.open()
    p.play(60)
    p.end()
    idle = Player(client, clock, headers, project.id, untouched.modules[0].lessons[0].id)
    idle.open()  # a session that earned nothing
    idle.end()
    admin_client, csrf = signed_in(app, make_user("content_admin", role="site_admin"))
    return {"project": project, "credited": credited, "untouched": untouched, "client": admin_client, "csrf": csrf,
            "learner": learner}


def _post(site, url):
    return site["client"].post(url, data={"csrf_token": site["csrf"]})


def _windows() -> int:
    return db.session.execute(select(func.count()).select_from(CreditWindow)).scalar_one()


@pytest.mark.parametrize("kind", ["lesson", "course", "project"])
def test_delete_with_credit_is_refused_with_the_reason_and_changes_nothing(site, kind):
    target = {"lesson": site["credited"].modules[0].lessons[0], "course": site["credited"], "project": site["project"]}[kind]
    model, target_id = type(target), target.id
    before = _windows()
    response = _post(site, f"/admin/{kind}s/{target_id}/delete")
    assert response.status_code == 409
    message = flashes(response)
    assert "cannot be deleted" in message and "Archive it instead" in message
    db.session.expire_all()
    assert db.session.get(model, target_id) is not None
    assert _windows() == before > 0
    progress = db.session.execute(select(LessonProgress.credited_ms)).scalars().all()
    assert 60_000 in progress


def test_delete_without_credit_removes_the_content_and_its_empty_records(site):
    lesson_id = site["untouched"].modules[0].lessons[0].id
    course_id = site["untouched"].id
    assert db.session.execute(select(PlaybackSession).where(PlaybackSession.lesson_id == lesson_id)).first() is not None
    assert _post(site, f"/admin/lessons/{lesson_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Lesson, lesson_id) is None
    assert db.session.execute(select(PlaybackSession).where(PlaybackSession.lesson_id == lesson_id)).first() is None
    response = _post(site, f"/admin/courses/{course_id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/courses")
    db.session.expire_all()
    assert db.session.get(Course, course_id) is None


def test_a_project_without_credit_can_be_deleted(site, make_project):
    empty_id = make_project("EMPTY-PROJECT").id
    assert _post(site, f"/admin/projects/{empty_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, empty_id) is None


def test_archived_items_are_hidden_from_the_lists_and_shown_marked_by_the_filter(site):
    client = site["client"]
    assert _post(site, f"/admin/courses/{site['credited'].id}/archive").status_code == 302
    assert _post(site, f"/admin/projects/{site['project'].id}/archive").status_code == 302
    client.get("/admin/courses")  # shows (and so clears) the confirmations
    for path, title in (("/admin/courses", "COURSE-A"), ("/admin/projects", "Archive project")):
        assert title not in client.get(path).get_data(as_text=True)
        shown = client.get(path + "?archived=1").get_data(as_text=True)
        assert title in shown and 'data-testid="archived"' in shown
    lesson = site["untouched"].modules[0].lessons[0]
    assert _post(site, f"/admin/lessons/{lesson.id}/archive").status_code == 302
    client.get("/admin/courses")
    page = client.get(f"/admin/courses/{site['untouched'].id}").get_data(as_text=True)
    assert lesson.title not in page and "Show archived lessons (1)" in page
    page = client.get(f"/admin/courses/{site['untouched'].id}?archived=1").get_data(as_text=True)
    assert lesson.title in page and 'data-testid="archived"' in page
    # Restoring brings them back to the default lists.
    assert _post(site, f"/admin/courses/{site['credited'].id}/restore").status_code == 302
    assert "COURSE-A" in client.get("/admin/courses").get_data(as_text=True)


def test_learner_home_offers_no_archived_course(site, app):
    assert _post(site, f"/admin/courses/{site['credited'].id}/archive").status_code == 302
    web, _csrf = signed_in(app, site["learner"])
    home = web.get("/learn").get_data(as_text=True)
    assert "COURSE-B" in home and "COURSE-A" not in home
