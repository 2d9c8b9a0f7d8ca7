"""The roster with figures (API and page), the lagging rule, reminders with their daily limit, exports, dashboard."""
import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from app.classrooms import rules
from app.extensions import db
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401
from tests.conftest import bearer


def test_lag_threshold_is_pace_minus_grace():
    assert rules.lag_threshold_ms(60_000, 0.5, 10_000) == 20_000
    assert rules.lag_threshold_ms(60_000, 0.1, 10_000) == 0  # never negative: nobody lags at the start
    assert rules.is_lagging(19_999, 60_000, 0.5, 10_000) and not rules.is_lagging(20_000, 60_000, 0.5, 10_000)


@pytest.fixture
def klass(app, clock, fast_hashing, org_tree, make_project, make_course, make_user, make_class, enroll,  # noqa: F811
          api_token):
    """A 100-day project (clock on day 50), 10 required hours of 45 min, grace 7 days; three learners."""
    project = make_project("Roster project", starts_on=date(2026, 1, 29), ends_on=date(2026, 5, 8),
                           required_hours=10, is_presence_check_enabled=False)
    course = make_course(project, "Course", durations=(600, 600))
    cls = make_class(project, org_tree["school_a1"], "Class R")
    manager = make_user("rmanager", role="class_manager", cls=cls, school=org_tree["school_a1"])
    people = {}
    for name in ("ann", "bob", "=cal"):
        user = make_user(f"r{len(people)}", role="learner", cls=cls, org=org_tree["school_a1"], real_name=name,
                         teacher_no=f"T-{len(people)}")
        enroll(user, project)
        people[name] = user
    # bob studied one lesson in full
    from app.tracking.models import LessonProgress

    db.session.add(LessonProgress(user_id=people["bob"].id, project_id=project.id,
                                  lesson_id=course.modules[0].lessons[0].id, credited_ms=600_000, covered=[[0, 600_000]],
                                  covered_ms=600_000, is_complete=True, completed_at=clock(), updated_at=clock()))
    db.session.commit()
    return {"project": project, "cls": cls, "manager": manager, "people": people,
            "headers": bearer(api_token(manager))}


def test_roster_api_answers_every_key_and_the_lagging_flag(client, klass):
    project = klass["project"]
    rows = client.get(f"/api/v1/classes/{klass['cls'].id}/roster", headers=klass["headers"]).get_json()
    assert len(rows) == 3
    keys = {"user_id", "display_name", "teacher_no", "school", "credited_s", "learning_hours", "complete_lessons",
            "forum_points", "homework_submitted", "homework_graded", "last_active_at", "is_lagging"}
    assert all(keys <= set(r) for r in rows)
    by_name = {r["display_name"]: r for r in rows}
    assert by_name["bob"]["credited_s"] == 600 and by_name["bob"]["complete_lessons"] == 1
    assert by_name["bob"]["learning_hours"] == pytest.approx(0.2)
    assert by_name["ann"]["last_active_at"] is None and by_name["bob"]["last_active_at"]
    assert all(r["forum_points"] == 0 and r["homework_submitted"] == 0 and r["homework_graded"] == 0 for r in rows)  # none yet
    # day 41 of 100 (2026-03-10): pace 10 h × 45 min × 41% = 184.5 min, grace 7 days' worth = 31.5 min → 153 min
    from app.classrooms.service import get_lagging_threshold_ms
    from app.common import clock

    assert get_lagging_threshold_ms(project, clock.now()) == 153 * 60_000
    assert all(r["is_lagging"] for r in rows)  # 10 minutes is far behind


def test_reminders_are_limited_to_one_a_day_with_reasons(client, clock, klass, make_user, org_tree):
    from app.notifications.models import Notification

    people, url = klass["people"], f"/api/v1/classes/{klass['cls'].id}/reminders"
    stranger = make_user("stranger", org=org_tree["school_a1"])
    body = {"user_ids": [people["ann"].id, people["bob"].id, stranger.id], "message": "请抓紧学习"}
    answer = client.post(url, headers=klass["headers"], json=body).get_json()
    assert sorted(answer["sent"]) == sorted([people["ann"].id, people["bob"].id])
    assert answer["skipped"] == [{"user_id": stranger.id, "reason": "not_in_class"}]
    texts = db.session.execute(select(Notification.user_id, Notification.kind, Notification.text)).all()
    text = "Rmanager (class Class R) reminds you: 请抓紧学习"  # who reminds, from which class
    assert sorted(texts) == sorted([(people["ann"].id, "reminder", text), (people["bob"].id, "reminder", text)])
    again = client.post(url, headers=klass["headers"], json={"user_ids": [people["ann"].id], "message": "再提醒"})
    assert again.get_json() == {"sent": [], "skipped": [{"user_id": people["ann"].id, "reason": "limit"}]}
    clock.advance(24 * 3600)
    assert client.post(url, headers=klass["headers"], json={"user_ids": [people["ann"].id],
                                                            "message": "再提醒"}).get_json()["sent"] == [people["ann"].id]
    for bad in ({"user_ids": [], "message": "x"}, {"user_ids": [1], "message": ""}, {"user_ids": ["1"], "message": "x"},
                {"user_ids": [1], "message": "x" * 501}, {"user_ids": [2**40], "message": "x"}):
        assert client.post(url, headers=klass["headers"], json=bad).status_code == 400, bad
    assert db.session.execute(select(func.count()).select_from(Notification)).scalar_one() == 3


def test_roster_page_sorts_filters_searches_and_reminds(app, klass):
    client, csrf = signed_in(app, klass["manager"])
    cls_id = klass["cls"].id
    page = client.get(f"/classes/{cls_id}/learners?sort=hours&dir=desc").get_data(as_text=True)
    assert page.index("bob") < page.index("ann")
    page = client.get(f"/classes/{cls_id}/learners?q=an").get_data(as_text=True)
    assert "ann" in page and "bob" not in page
    response = client.post(f"/classes/{cls_id}/reminders", data={"csrf_token": csrf,
                                                                   "user_ids": [klass["people"]["ann"].id],
                                                                   "message": "快学"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reminder sent to 1 learners." in page
    response = client.post(f"/classes/{cls_id}/reminders", data={"csrf_token": csrf,
                                                                   "user_ids": [klass["people"]["ann"].id]},
                           follow_redirects=True)
    assert "already reminded today" in response.get_data(as_text=True)


def test_roster_export_keeps_formula_like_names_as_text(app, klass):
    client, _csrf = signed_in(app, klass["manager"])
    response = client.get(f"/classes/{klass['cls'].id}/learners.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Real name"
    names = {row[0] for row in rows[1:]}
    assert names == {"ann", "bob", "=cal"}
    cal = next(row for row in sheet.iter_rows() if row[0].value == "=cal")
    assert cal[0].data_type == "s" and cal[0].quotePrefix


def test_dashboard_shows_distribution_days_and_who_has_not_started(app, klass):
    client, _csrf = signed_in(app, klass["manager"])
    page = client.get(f"/classes/{klass['cls'].id}/dashboard").get_data(as_text=True)
    assert 'data-testid="hours-chart"' in page and 'data-testid="days-chart"' in page
    assert page.count('data-testid="not-started-learner"') == 2 and "=cal" in page


def test_lagging_list_of_an_org_subtree(app, klass, make_user, org_tree):
    admin = make_user("radmin", role="org_admin", org=org_tree["county_a"])
    client, _csrf = signed_in(app, admin)
    page = client.get(f"/projects/{klass['project'].id}/lagging").get_data(as_text=True)
    assert page.count('data-testid="lagging-row"') == 3


def test_roster_counts_forum_points_and_homework(client, klass, api_token):
    """A topic on the class board earns 2 points; a submitted answer counts as handed in, not yet graded."""
    from tests.homework.conftest import make_assignment

    ann = bearer(api_token(klass["people"]["ann"]))
    boards = client.get(f"/api/v1/projects/{klass['project'].id}/boards", headers=ann).get_json()
    board = next(b for b in boards if b["kind"] == "class")
    topic = client.post(f"/api/v1/boards/{board['id']}/topics", headers=ann,
                        json={"title": "我的教学反思", "body": "这节课让我想到，课堂提问要给学生留出思考的时间。"})
    assert topic.status_code == 201, topic.get_json()
    assignment = make_assignment(klass["project"], klass["manager"], class_id=klass["cls"].id,
                                 accepts_files=False)
    handed = client.post(f"/api/v1/assignments/{assignment.id}/submissions", headers=ann,
                         data={"text": "我的作业答案", "submit": "true"}, content_type="multipart/form-data")
    assert handed.status_code == 201, handed.get_json()
    rows = client.get(f"/api/v1/classes/{klass['cls'].id}/roster", headers=klass["headers"]).get_json()
    by_name = {r["display_name"]: r for r in rows}
    assert (by_name["ann"]["forum_points"], by_name["ann"]["homework_submitted"], by_name["ann"]["homework_graded"]) \
        == (2, 1, 0)
    assert (by_name["bob"]["forum_points"], by_name["bob"]["homework_submitted"]) == (0, 0)
