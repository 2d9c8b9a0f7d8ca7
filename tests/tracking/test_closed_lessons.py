"""Hours never vanish: a lesson that stops being open keeps its credit in the total and stays on the progress page.

Each test earns credit through the playback API (test clock), closes the lesson the way an
administrator (or the learner) does it over HTTP, then reads the JSON and the HTML progress page.
"""
from __future__ import annotations

import re

import pytest

from tests.classrooms.world import page_csrf, signed_in

#: what a teacher reads on the (Chinese) progress page for each reason
REASON_TEXT = {
    "course_unlinked": "课程已移出项目",
    "elective_withdrawn": "选修课已退选",
    "made_elective": "已改为选修（未选）",
    "lesson_archived": "课时已归档",
    "course_archived": "课程已归档",
    "project_archived": "项目已归档",
}


@pytest.fixture
def earned(app, setup, player, make_user, make_course):
    """A learner with 120 s credited on lesson 0 (course 1) and 30 s on a second, untouched course; an admin client."""
    course = setup()
    second = make_course(course.project, "Second course", durations=(300,))
    p = player(course)
    p.open()
    p.play(120)
    p.end()
    other = player(course)
    other.lesson_id = second.modules[0].lessons[0].id
    other.open()
    other.play(30)
    other.end()
    admin = make_user("archivist", role="site_admin")
    admin_client, admin_csrf = signed_in(app, admin)
    course.admin = (admin_client, admin_csrf)
    course.second = second
    return course


def _admin_post(course, url: str, **data):
    client, csrf = course.admin
    response = client.post(url, data={"csrf_token": csrf, **data})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def _link_id(course) -> int:
    course_id = course.lessons[0].module.course_id
    return next(link.id for link in course.project.course_links if link.course_id == course_id)


def _check_progress(app, client, course, reason: str) -> None:
    """150 s in total; lesson 0 listed as closed for `reason` with its 120 s, on the JSON and the HTML page."""
    lesson_id = course.lessons[0].id
    response = client.get(f"/api/v1/me/progress?project_id={course.project.id}", headers=course.headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["credited_s"] == 150
    closed = [item for item in data["lessons"] if not item["is_open"]]
    assert [(item["lesson_id"], item["credited_s"], item["closed_reason"]) for item in closed] == [(lesson_id, 120, reason)]
    assert closed[0]["closed_reason_text"]
    assert lesson_id not in [item["lesson_id"] for item in data["lessons"] if item["is_open"]]

    web, csrf = signed_in(app, course.learner)
    assert web.post("/language", data={"csrf_token": csrf, "locale": "zh_CN"}).status_code == 302
    html = web.get(f"/projects/{course.project.id}/progress").get_data(as_text=True)
    assert 'data-testid="credited-total">2:30<' in html
    row = re.search(rf'<tr data-testid="closed-lesson-row" data-lesson-id="{lesson_id}" data-reason="{reason}">(.*?)</tr>',
                    html, re.S)
    assert row, html[-3000:]
    assert 'data-seconds="120.0"' in row.group(1)
    assert REASON_TEXT[reason] in row.group(1)
    # The learner can still read why the time was credited.
    audit = web.get(f"/projects/{course.project.id}/lessons/{lesson_id}/audit")
    assert audit.status_code == 200


def test_course_removed_from_the_project_keeps_its_hours(app, client, earned):
    _admin_post(earned, f"/admin/projects/{earned.project.id}/courses/{_link_id(earned)}", action="remove")
    _check_progress(app, client, earned, "course_unlinked")


def test_required_course_made_elective_keeps_its_hours(app, client, earned):
    _admin_post(earned, f"/admin/projects/{earned.project.id}/courses/{_link_id(earned)}", action="elective")
    _check_progress(app, client, earned, "made_elective")


def test_withdrawn_elective_keeps_its_hours(app, client, earned):
    _admin_post(earned, f"/admin/projects/{earned.project.id}/courses/{_link_id(earned)}", action="elective")
    web, _csrf = signed_in(app, earned.learner)
    course_id = earned.lessons[0].module.course_id
    url = f"/projects/{earned.project.id}/electives/{course_id}"
    assert web.post(url, data={"csrf_token": page_csrf(web, "/")}).status_code == 302  # choose
    response = web.post(url, data={"csrf_token": page_csrf(web, "/")})  # and withdraw
    assert response.status_code == 302
    _check_progress(app, client, earned, "elective_withdrawn")
    # Choosing it again opens it again, with the same credit.
    assert web.post(url, data={"csrf_token": page_csrf(web, "/")}).status_code == 302
    data = client.get(f"/api/v1/me/progress?project_id={earned.project.id}", headers=earned.headers).get_json()
    item = next(i for i in data["lessons"] if i["lesson_id"] == earned.lessons[0].id)
    assert item["is_open"] is True and item["credited_s"] == 120 and data["credited_s"] == 150


def test_archived_lesson_keeps_its_hours(app, client, earned):
    _admin_post(earned, f"/admin/lessons/{earned.lessons[0].id}/archive")
    _check_progress(app, client, earned, "lesson_archived")


def test_archived_course_keeps_its_hours(app, client, earned):
    _admin_post(earned, f"/admin/courses/{earned.lessons[0].module.course_id}/archive")
    _check_progress(app, client, earned, "course_archived")


def test_archived_lesson_is_not_offered_for_new_study(app, client, earned, player):
    _admin_post(earned, f"/admin/lessons/{earned.lessons[0].id}/archive")
    lessons = client.get(f"/api/v1/projects/{earned.project.id}/lessons", headers=earned.headers).get_json()
    assert earned.lessons[0].id not in [lesson["id"] for lesson in lessons]
    answer = player(earned).open(expect=410)
    assert answer["error"]["code"] == "archived"
    assert answer["error"]["message"]
    # Restored, it is open again and the learner continues where they were.
    _admin_post(earned, f"/admin/lessons/{earned.lessons[0].id}/restore")
    opened = player(earned).open()
    assert opened["resume_position_s"] == 120


def test_archived_project_keeps_every_hour_but_offers_nothing(app, client, earned, player):
    _admin_post(earned, f"/admin/projects/{earned.project.id}/archive")
    assert player(earned).open(expect=410)["error"]["code"] == "archived"
    projects = client.get("/api/v1/me/projects", headers=earned.headers).get_json()
    assert earned.project.id not in [p["id"] for p in projects]
    data = client.get(f"/api/v1/me/progress?project_id={earned.project.id}", headers=earned.headers).get_json()
    assert data["credited_s"] == 150
    assert {(i["credited_s"], i["closed_reason"]) for i in data["lessons"] if not i["is_open"]} == {
        (120, "project_archived"), (30, "project_archived")}
