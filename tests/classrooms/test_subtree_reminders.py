"""Reminders (督促) from an org subtree's lagging list: one click, the chosen, all; the daily limit they share with
the class roster's reminders; who may send them and to whom; bad input; migration 0017 down and up again.

The world: a province project (100 days, the clock on day 41) with class A in school A1 (its class manager
reminds from the roster); learners ann and bob in class A, dan in school A2 in no class, eve in county B;
olga in school A1 enrolled in another project only. The county A admin reminds from the lagging list.
"""
from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401
from tests.conftest import bearer


@pytest.fixture
def area(app, clock, fast_hashing, org_tree, make_project, make_course, make_user, make_class, enroll,  # noqa: F811
         api_token):
    t = org_tree
    project = make_project("Lag project", starts_on=date(2026, 1, 29), ends_on=date(2026, 5, 8), required_hours=10,
                           is_presence_check_enabled=False)
    make_course(project, "Course", durations=(600,))
    other = make_project("Other project")
    cls = make_class(project, t["school_a1"], "Class A")
    people = {
        "manager": make_user("lmanager", role="class_manager", cls=cls, school=t["school_a1"]),
        "admin": make_user("ladmin", role="org_admin", org=t["county_a"]),
        "admin_b": make_user("ladmin_b", role="org_admin", org=t["county_b"]),
        "ann": make_user("lann", role="learner", cls=cls, org=t["school_a1"], real_name="ann"),
        "bob": make_user("lbob", role="learner", cls=cls, org=t["school_a1"], real_name="bob"),
        "dan": make_user("ldan", org=t["school_a2"], real_name="dan"),
        "eve": make_user("leve", org=t["school_b1"], real_name="eve"),
        "olga": make_user("lolga", org=t["school_a1"], real_name="olga"),
    }
    for name in ("ann", "bob", "dan", "eve"):
        enroll(people[name], project)
    enroll(people["olga"], other)
    return {"project": project, "other": other, "cls": cls, "people": people, "county_a": t["county_a"],
            "county_b": t["county_b"], "manager_api": bearer(api_token(people["manager"]))}


def _notes(user=None) -> list[tuple[int, str, str]]:
    from app.notifications.models import Notification

    stmt = select(Notification.user_id, Notification.text, Notification.url).order_by(Notification.id)
    if user is not None:
        stmt = stmt.where(Notification.user_id == user.id)
    return db.session.execute(stmt).all()


def _reminder_count() -> int:
    from app.classrooms.models import ClassReminder

    return db.session.execute(select(func.count()).select_from(ClassReminder)).scalar_one()


def _post(client, csrf, project_id, data, **query):
    from urllib.parse import urlencode

    url = f"/projects/{project_id}/lagging/reminders" + (f"?{urlencode(query)}" if query else "")
    return client.post(url, data={"csrf_token": csrf, **data})


def test_the_lagging_page_reminds_one_learner_with_one_click(app, area):
    from app.classrooms.models import ClassReminder

    people, project = area["people"], area["project"]
    client, csrf = signed_in(app, people["admin"])
    page = client.get(f"/projects/{project.id}/lagging").get_data(as_text=True)
    assert page.count('data-testid="lagging-row"') == 3  # ann, bob, dan: eve is in county B
    assert page.count('data-testid="remind-one"') == 3 and page.count('data-testid="choose"') == 3
    assert 'data-testid="remind-all"' in page and 'data-testid="remind-chosen"' in page
    response = _post(client, csrf, project.id, {"one": people["dan"].id, "user_ids": [people["ann"].id],
                                                "message": "请抓紧学习"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/projects/{project.id}/lagging")
    assert "Reminder sent to 1 learners." in flashes(client.get(response.headers["Location"]))
    # the row's button reminds that learner alone, whatever is ticked; the text says who reminds, from which level
    assert _notes() == [(people["dan"].id, "Ladmin, administrator of County A, reminds you: 请抓紧学习",
                         f"/projects/{project.id}/progress")]
    row = db.session.execute(select(ClassReminder)).scalar_one()
    assert (row.class_id, row.org_unit_id, row.project_id, row.sent_by_id) == (
        None, area["county_a"].id, project.id, people["admin"].id)


def test_the_daily_limit_is_shared_by_the_class_roster_and_the_subtree(app, clock, area):
    people, project, cls = area["people"], area["project"], area["cls"]
    manager, manager_csrf = signed_in(app, people["manager"])
    admin, admin_csrf = signed_in(app, people["admin"])
    # the class manager reminds ann: the admin's bulk reminder skips her and reaches bob
    assert manager.post(f"/classes/{cls.id}/reminders", data={"csrf_token": manager_csrf, "one": people["ann"].id}
                        ).status_code == 302
    response = _post(admin, admin_csrf, project.id, {"user_ids": [people["ann"].id, people["bob"].id]})
    told = flashes(admin.get(response.headers["Location"]))
    assert "Reminder sent to 1 learners." in told
    assert "1 learners were not reminded: already reminded today (1)." in told
    assert [n[0] for n in _notes()] == [people["ann"].id, people["bob"].id]
    # and the other way round: bob, reminded by the admin, is skipped by his class (page and API, same reason)
    response = manager.post(f"/classes/{cls.id}/reminders", data={"csrf_token": manager_csrf,
                                                                  "user_ids": [people["bob"].id]})
    assert "already reminded today (1)" in flashes(manager.get(response.headers["Location"]))
    answer = admin.application.test_client().post(f"/api/v1/classes/{cls.id}/reminders", headers=area["manager_api"],
                                                  json={"user_ids": [people["bob"].id], "message": "x"}).get_json()
    assert answer == {"sent": [], "skipped": [{"user_id": people["bob"].id, "reason": "limit"}]}
    assert len(_notes()) == 2
    # the next day in the project's time zone both may be reminded again
    clock.advance(24 * 3600)
    response = _post(admin, admin_csrf, project.id, {"user_ids": [people["ann"].id, people["bob"].id]})
    assert "Reminder sent to 2 learners." in flashes(admin.get(response.headers["Location"]))
    assert len(_notes()) == 4


@pytest.mark.config(REMINDERS_PER_DAY=2)
def test_the_daily_limit_is_a_setting(app, area):
    people, project = area["people"], area["project"]
    admin, csrf = signed_in(app, people["admin"])
    for expected in ("Reminder sent to 1 learners.", "Reminder sent to 1 learners.", "already reminded today (1)"):
        response = _post(admin, csrf, project.id, {"one": people["dan"].id})
        assert expected in flashes(admin.get(response.headers["Location"]))
    assert len(_notes(people["dan"])) == 2


def test_remind_all_reaches_every_lagging_learner_of_the_subtree_with_a_mix(app, area):
    people, project, cls = area["people"], area["project"], area["cls"]
    manager, manager_csrf = signed_in(app, people["manager"])
    manager.post(f"/classes/{cls.id}/reminders", data={"csrf_token": manager_csrf, "one": people["ann"].id})
    admin, csrf = signed_in(app, people["admin"])
    response = _post(admin, csrf, project.id, {"all": "1", "message": "  "})
    told = flashes(admin.get(response.headers["Location"]))
    assert "Reminder sent to 2 learners." in told and "already reminded today (1)" in told
    reminded = {n[0] for n in _notes()}
    assert reminded == {people["ann"].id, people["bob"].id, people["dan"].id}  # not eve (county B)
    # an empty message is the default one
    assert _notes(people["dan"])[0][1].endswith("Your learning hours are behind the project's pace. Please keep studying.")


def test_a_learner_outside_the_subtree_or_project_cannot_be_reminded_by_posting_the_id(app, area):
    people, project = area["people"], area["project"]
    admin, csrf = signed_in(app, people["admin"])
    response = _post(admin, csrf, project.id, {"user_ids": [people["eve"].id, people["olga"].id, people["ann"].id,
                                                            people["admin_b"].id]})
    told = flashes(admin.get(response.headers["Location"]))
    assert "Reminder sent to 1 learners." in told
    assert "3 learners were not reminded: not a learner of this project in your area (3)." in told
    assert [n[0] for n in _notes()] == [people["ann"].id]
    response = _post(admin, csrf, project.id, {"one": people["eve"].id})
    assert "not a learner of this project in your area (1)" in flashes(admin.get(response.headers["Location"]))
    # choosing county B's unit in the address is not the admin's to choose
    assert _post(admin, csrf, project.id, {"one": people["eve"].id}, unit=area["county_b"].id).status_code == 404
    # the county B admin reminds in county B only (the province project is theirs to see there)
    county_b, b_csrf = signed_in(app, people["admin_b"])
    response = _post(county_b, b_csrf, project.id, {"one": people["dan"].id})
    assert "not a learner of this project in your area (1)" in flashes(county_b.get(response.headers["Location"]))
    # a class manager or a learner reminds nobody from here
    for name in ("manager", "ann"):
        client, other_csrf = signed_in(app, people[name])
        assert _post(client, other_csrf, project.id, {"one": people["dan"].id}).status_code == 403, name
    assert [n[0] for n in _notes()] == [people["ann"].id]


@pytest.mark.parametrize("data", [
    {"user_ids": ["abc"]},
    {"user_ids": ["1.5"]},
    {"user_ids": ["-1"]},
    {"user_ids": ["0"]},
    {"user_ids": ["2147483648"]},
    {"user_ids": ["9" * 40]},
    {"user_ids": ["١٢"]},
    {"one": "x"},
    {"one": ""},
    {"user_ids": ["ANN", "x"]},  # a good id with a bad one: nobody
])
def test_bad_ids_give_a_clear_message_and_change_nothing(app, area, data):
    people, project = area["people"], area["project"]
    data = {k: [people["ann"].id if v == "ANN" else v for v in vs] if isinstance(vs, list) else vs
            for k, vs in data.items()}
    admin, csrf = signed_in(app, people["admin"])
    response = _post(admin, csrf, project.id, data)
    assert response.status_code == 302
    assert "Nobody was reminded: the chosen learners could not be read." in flashes(
        admin.get(response.headers["Location"]))
    assert _notes() == [] and _reminder_count() == 0


def test_other_bad_requests_change_nothing(app, area):
    people, project, other = area["people"], area["project"], area["other"]
    admin, csrf = signed_in(app, people["admin"])
    response = _post(admin, csrf, project.id, {})
    assert "Choose the learners to remind." in flashes(admin.get(response.headers["Location"]))
    response = _post(admin, csrf, project.id, {"user_ids": [str(i) for i in range(1, 2003)]})
    assert "choose at most 2000 learners at a time" in flashes(admin.get(response.headers["Location"]))
    assert _post(admin, csrf, project.id, {"one": people["ann"].id}, unit="abc").status_code == 400
    assert _post(admin, "not-a-token", project.id, {"one": people["ann"].id}).status_code == 400
    assert admin.post("/projects/2147483647/lagging/reminders", data={"csrf_token": csrf, "one": people["ann"].id}
                      ).status_code == 404
    # olga's project: her id is fine there, not here; ann's id on olga's project is not in that project
    response = _post(admin, csrf, other.id, {"one": people["ann"].id})
    assert "not a learner of this project in your area (1)" in flashes(admin.get(response.headers["Location"]))
    assert _notes() == [] and _reminder_count() == 0


def test_class_roster_refuses_bad_ids_too(app, area):
    people, cls = area["people"], area["cls"]
    manager, csrf = signed_in(app, people["manager"])
    response = manager.post(f"/classes/{cls.id}/reminders", data={"csrf_token": csrf,
                                                                  "user_ids": [people["ann"].id, "2147483648"]})
    assert "Nobody was reminded: the chosen learners could not be read." in flashes(
        manager.get(response.headers["Location"]))
    response = manager.post(f"/classes/{cls.id}/reminders", data={"csrf_token": csrf,
                                                                  "user_ids": [people["dan"].id]})
    assert "not a learner of this class (1)" in flashes(manager.get(response.headers["Location"]))
    assert _notes() == []


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_flash_says_why_in_chinese_words(app, area):
    people, project = area["people"], area["project"]
    admin, csrf = signed_in(app, people["admin"])
    _post(admin, csrf, project.id, {"one": people["ann"].id})
    response = _post(admin, csrf, project.id, {"user_ids": [people["ann"].id, people["eve"].id, people["bob"].id]})
    told = flashes(admin.get(response.headers["Location"]))
    assert "已督促 1 名学员。" in told
    assert "2 名学员未督促：今天已被督促过（1 名）；不是您管辖范围内本项目的学员（1 名）。" in told
    assert "limit" not in told and "not_in_scope" not in told
    assert _notes(people["ann"])[0][1].startswith("County A管理员")
