"""Elective confirmation over HTTP: a teacher chooses, the school confirms or refuses (one or many), the teacher is told.

Crediting goes through the playback API with the test clock; every bad request is checked to change nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.courses.models import ElectiveChoice, ElectiveDecision, Project
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, page_csrf, signed_in  # noqa: F401
from tests.conftest import bearer
from tests.tracking.conftest import Player

pytestmark = pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")  # what a Chinese teacher and admin read


@dataclass
class Setup:
    project: Project
    required: object
    art: object
    music: object
    teacher: object
    admin_client: object
    admin_csrf: str
    web: object
    headers: dict

    def choose(self, course, action: str | None = None, web=None, teacher=None) -> int:
        client = web or self.web
        data = {"csrf_token": page_csrf(client, "/")}
        if action:
            data["action"] = action
        response = client.post(f"/projects/{self.project.id}/electives/{course.id}", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return self.choice_of(course, teacher).id

    def choice_of(self, course, teacher=None) -> ElectiveChoice:
        db.session.rollback()
        return db.session.execute(select(ElectiveChoice).where(
            ElectiveChoice.project_id == self.project.id, ElectiveChoice.course_id == course.id,
            ElectiveChoice.user_id == (teacher or self.teacher).id)).scalar_one()

    def decide(self, ids, action: str = "confirm", reason: str | None = None, client=None, csrf=None, project_id=None):
        data = {"csrf_token": csrf or self.admin_csrf, "action": action, "choice_ids": [str(i) for i in ids]}
        if reason is not None:
            data["reason"] = reason
        return (client or self.admin_client).post(f"/admin/projects/{project_id or self.project.id}/electives/decide",
                                                  data=data)

    def lesson_ids(self) -> set[int]:
        lessons = self.web.get(f"/api/v1/projects/{self.project.id}/lessons", headers=self.headers).get_json()
        return {lesson["id"] for lesson in lessons}


@pytest.fixture
def s(app, clock, fast_hashing, org_tree, make_project, make_course, make_user, enroll, api_token):  # noqa: F811
    project = make_project("Elective project", org=org_tree["county_a"], is_elective_confirmation_required=True,
                           is_presence_check_enabled=False)
    required = make_course(project, "Required course", durations=(600,), org=org_tree["county_a"])
    art = make_course(project, "Art elective", durations=(300,), org=org_tree["county_a"], is_required=False)
    music = make_course(project, "Music elective", durations=(300,), org=org_tree["county_a"], is_required=False)
    teacher = make_user("teacher_a1", org=org_tree["school_a1"], real_name="Wang Fang")
    enroll(teacher, project)
    admin = make_user("school_admin", role="org_admin", org=org_tree["school_a1"], real_name="Li Admin")
    admin_client, admin_csrf = signed_in(app, admin)
    web, _csrf = signed_in(app, teacher)
    return Setup(project, required, art, music, teacher, admin_client, admin_csrf, web, bearer(api_token(teacher)))


def _lesson(course):
    return course.modules[0].lessons[0]


def _decisions() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count(ElectiveDecision.id))).scalar_one()


def _home(s) -> str:
    return s.web.get("/learn").get_data(as_text=True)


def test_teacher_chooses_admin_confirms_and_the_lesson_opens_and_is_credited(app, client, clock, s):
    choice_id = s.choose(s.art)
    assert s.choice_of(s.art).status == "pending"
    assert _lesson(s.art).id not in s.lesson_ids()
    assert s.web.get(f"/projects/{s.project.id}/lessons/{_lesson(s.art).id}/play").status_code == 403
    home = _home(s)
    assert 'data-status="pending"' in home and "待确认" in home

    # The project's admin page leads there with the pending count.
    project_page = s.admin_client.get(f"/admin/projects/{s.project.id}").get_data(as_text=True)
    assert re.search(r'data-testid="elective-pending">1 项待确认<', project_page)
    listing = s.admin_client.get(f"/admin/projects/{s.project.id}/electives?status=pending").get_data(as_text=True)
    assert f'data-choice-id="{choice_id}"' in listing and "Wang Fang" in listing and "Art elective" in listing

    response = s.decide([choice_id])
    assert response.status_code == 302
    choice = s.choice_of(s.art)
    assert (choice.status, choice.decided_by.username) == ("confirmed", "school_admin")
    assert choice.decided_at == clock()
    assert _lesson(s.art).id in s.lesson_ids()
    assert s.web.get(f"/projects/{s.project.id}/lessons/{_lesson(s.art).id}/play").status_code == 200

    player = Player(client, clock, s.headers, s.project.id, _lesson(s.art).id)
    player.open()
    player.play(60)
    assert player.credited == 60

    # The teacher is told once, and the badge stays.
    home = _home(s)
    assert 'data-testid="elective-notice" data-outcome="confirmed"' in home
    assert "学校已确认您在“Elective project”中选择的选修课“Art elective”" in home
    assert 'data-status="confirmed"' in home and "已确认" in home
    home = _home(s)
    assert "elective-notice" not in home and 'data-status="confirmed"' in home
    progress = s.web.get(f"/projects/{s.project.id}/progress").get_data(as_text=True)
    assert re.search(r'data-testid="my-elective" data-course-id="%d">.*?已确认' % s.art.id, progress, re.S)
    assert s.admin_client.get(f"/admin/projects/{s.project.id}").get_data(as_text=True).count("elective-pending") == 0


def test_refusal_with_a_reason_keeps_the_course_closed_and_the_teacher_may_choose_again(app, s):
    choice_id = s.choose(s.art)
    response = s.decide([choice_id], "refuse", "  本学期名额已满  ")
    assert response.status_code == 302
    choice = s.choice_of(s.art)
    assert (choice.status, choice.refusal_reason) == ("refused", "本学期名额已满")
    assert _lesson(s.art).id not in s.lesson_ids()
    assert s.web.get(f"/projects/{s.project.id}/lessons/{_lesson(s.art).id}/play").status_code == 403

    home = _home(s)
    assert 'data-testid="elective-notice" data-outcome="refused"' in home
    assert "学校未通过您在“Elective project”中选择的选修课“Art elective”" in home and "本学期名额已满" in home
    assert 'data-status="refused"' in home and "未通过" in home
    assert 'data-testid="choose-again"' in home
    assert "elective-notice" not in _home(s)  # read now
    progress = s.web.get(f"/projects/{s.project.id}/progress").get_data(as_text=True)
    item = re.search(r'data-testid="my-elective" data-course-id="%d">(.*?)</li>' % s.art.id, progress, re.S)
    assert item and "未通过" in item.group(1) and "本学期名额已满" in item.group(1)

    # Staff reading the teacher's progress see it too.
    staff_view = s.admin_client.get(f"/projects/{s.project.id}/learners/{s.teacher.id}/progress")
    assert staff_view.status_code == 200
    assert re.search(r"所选选修课.*?Art elective.*?未通过.*?本学期名额已满", staff_view.get_data(as_text=True), re.S)
    # The admin list shows who refused, when, and why.
    listing = s.admin_client.get(f"/admin/projects/{s.project.id}/electives?status=refused").get_data(as_text=True)
    assert "Li Admin" in listing and "本学期名额已满" in listing

    # Another elective, and the refused one again: both wait for the school; the refusal stays on record.
    s.choose(s.music)
    assert s.choose(s.art, "choose") == choice_id
    again = s.choice_of(s.art)
    assert (again.status, again.refusal_reason, again.decided_at) == ("pending", None, None)
    log = db.session.execute(select(ElectiveDecision).where(ElectiveDecision.choice_id == choice_id)).scalars().all()
    assert [(d.outcome, d.refusal_reason, d.decided_by_id is not None) for d in log] == [("refused", "本学期名额已满", True)]
    assert s.decide([choice_id]).status_code == 302
    assert _lesson(s.art).id in s.lesson_ids()
    assert _decisions() == 2


def test_a_refused_elective_keeps_its_credited_time_shown_as_closed(app, client, clock, s):
    # Credit earned while the project asked no confirmation; then it asks, and the school refuses.
    s.project.is_elective_confirmation_required = False
    db.session.commit()
    s.choose(s.art)
    player = Player(client, clock, s.headers, s.project.id, _lesson(s.art).id)
    player.open()
    player.play(90)
    player.end()
    project = db.session.get(Project, s.project.id)
    project.is_elective_confirmation_required = True
    db.session.commit()
    assert s.decide([s.choice_of(s.art).id], "refuse", "与任教学科无关").status_code == 302

    data = client.get(f"/api/v1/me/progress?project_id={s.project.id}", headers=s.headers).get_json()
    assert data["credited_s"] == 90
    closed = [(i["lesson_id"], i["credited_s"], i["closed_reason"]) for i in data["lessons"] if not i["is_open"]]
    assert closed == [(_lesson(s.art).id, 90, "elective_refused")]
    html = s.web.get(f"/projects/{s.project.id}/progress").get_data(as_text=True)
    row = re.search(r'data-testid="closed-lesson-row" data-lesson-id="%d" data-reason="elective_refused">(.*?)</tr>'
                    % _lesson(s.art).id, html, re.S)
    assert row and "选修课未获学校通过" in row.group(1) and 'data-seconds="90.0"' in row.group(1)


def test_bulk_confirmation_of_the_ticked_and_of_all_pending(app, make_user, enroll, org_tree, s):
    others = []
    for n in range(3):
        teacher = make_user(f"teacher_bulk{n}", org=org_tree["school_a1"])
        enroll(teacher, s.project)
        web, _csrf = signed_in(app, teacher)
        s.choose(s.art, web=web, teacher=teacher)
        others.append(teacher)
    ids = [s.choice_of(s.art, t).id for t in others]
    page = s.admin_client.get(f"/admin/projects/{s.project.id}/electives").get_data(as_text=True)
    assert page.count('data-testid="choice-check"') == 3 and 'data-testid="select-all"' in page

    response = s.decide(ids[:2], "refuse", "名额已满")
    assert response.status_code == 302
    assert [s.choice_of(s.art, t).status for t in others] == ["refused", "refused", "pending"]
    assert "2 项选修课未通过" in flashes(s.admin_client.get(response.headers["Location"]))

    # "Confirm all on this page" posts every pending row shown.
    page = s.admin_client.get(f"/admin/projects/{s.project.id}/electives").get_data(as_text=True)
    form = re.search(r'data-testid="confirm-all-form".*?</form>', page, re.S).group(0)
    assert re.findall(r'name="choice_ids" value="(\d+)"', form) == [str(ids[2])]
    assert s.decide([ids[2]]).status_code == 302
    assert s.choice_of(s.art, others[2]).status == "confirmed"
    # Pending first: a new choice is listed before the decided ones.
    s.choose(s.music)
    page = s.admin_client.get(f"/admin/projects/{s.project.id}/electives").get_data(as_text=True)
    order = re.findall(r'data-testid="choice" data-choice-id="(\d+)"', page)
    assert order[0] == str(s.choice_of(s.music).id) and len(order) == 4


@pytest.mark.parametrize("case", ["other_project", "unknown", "not_an_id", "none", "decided", "duplicate_post",
                                  "withdrawn", "long_reason", "bad_action", "not_required", "archived", "no_csrf"])
def test_bad_input_changes_nothing(app, make_project, make_course, make_user, enroll, org_tree, s, case):
    choice_id = s.choose(s.art)
    expected, message = {
        "other_project": (400, "不属于本项目"), "unknown": (400, "不属于本项目"), "not_an_id": (400, "不属于本项目"),
        "none": (400, "请先勾选"), "decided": (409, "已处理（未通过）"), "duplicate_post": (409, "已处理（已确认）"),
        "withdrawn": (409, "已在此期间退选"), "long_reason": (400, "最多 200 个字"), "bad_action": (400, None),
        "not_required": (409, "不要求学校确认"), "archived": (410, "已归档"), "no_csrf": (400, None),
    }[case]
    ids: list = [choice_id]
    action, reason, csrf = "confirm", None, None
    if case == "other_project":
        other = make_project("Other project", org=org_tree["county_a"], is_elective_confirmation_required=True)
        elective = make_course(other, "Other elective", org=org_tree["county_a"], is_required=False)
        enroll(s.teacher, other)
        db.session.add(ElectiveChoice(project_id=other.id, user_id=s.teacher.id, course_id=elective.id))
        db.session.commit()
        ids = [choice_id, db.session.execute(
            select(ElectiveChoice.id).where(ElectiveChoice.project_id == other.id)).scalar_one()]
    elif case == "unknown":
        ids = [choice_id, 987654]
    elif case == "not_an_id":
        ids = [choice_id, "12x"]
    elif case == "none":
        ids = []
    elif case == "decided":
        assert s.decide([choice_id], "refuse").status_code == 302
    elif case == "duplicate_post":
        assert s.decide([choice_id]).status_code == 302
    elif case == "withdrawn":
        s.choose(s.art, "withdraw")
    elif case == "long_reason":
        action, reason = "refuse", "太" * 201
    elif case == "bad_action":
        action = "approve"
    elif case == "not_required":
        s.project.is_elective_confirmation_required = False
        db.session.commit()
    elif case == "archived":
        s.project.is_archived = True
        db.session.commit()
    elif case == "no_csrf":
        csrf = "forged"
    before = s.choice_of(s.art)
    state = (before.is_confirmed, before.is_refused, before.decided_at, before.withdrawn_at)
    decisions = _decisions()
    response = s.decide(ids, action, reason, csrf=csrf)
    assert response.status_code == expected
    if message:
        assert message in flashes(response), flashes(response)
    after = s.choice_of(s.art)
    assert (after.is_confirmed, after.is_refused, after.decided_at, after.withdrawn_at) == state
    assert _decisions() == decisions


def test_one_undecidable_choice_in_a_bulk_request_changes_none(app, make_user, enroll, org_tree, s):
    first = s.choose(s.art)
    second = s.choose(s.music)
    assert s.decide([second]).status_code == 302
    response = s.decide([first, second])
    assert response.status_code == 409
    assert "Wang Fang (Music elective)" in flashes(response)
    assert s.choice_of(s.art).status == "pending"


def test_teachers_choices_and_withdrawals_are_idempotent_with_an_action(app, s):
    s.choose(s.art, "choose")
    s.choose(s.art, "choose")
    assert s.choice_of(s.art).status == "pending" and s.choice_of(s.art).withdrawn_at is None
    s.choose(s.art, "withdraw")
    s.choose(s.art, "withdraw")
    assert s.choice_of(s.art).withdrawn_at is not None
    response = s.web.post(f"/projects/{s.project.id}/electives/{s.art.id}",
                          data={"csrf_token": page_csrf(s.web, "/"), "action": "both"})
    assert response.status_code == 400
    # A withdrawn choice is not in the admin's list.
    listing = s.admin_client.get(f"/admin/projects/{s.project.id}/electives").get_data(as_text=True)
    assert 'data-testid="no-choices"' in listing


# ---------------------------------------------------------------- the JSON API
def test_api_lists_decides_and_tells_the_teacher(app, api_token, s):
    first = s.choose(s.art)
    second = s.choose(s.music)
    admin = bearer(api_token(s_admin := _school_admin()))
    api = app.test_client()
    listing = api.get(f"/api/v1/projects/{s.project.id}/electives?status=pending", headers=admin).get_json()
    assert [(i["choice_id"], i["status"], i["username"]) for i in listing["items"]] == [
        (first, "pending", "teacher_a1"), (second, "pending", "teacher_a1")] and listing["next"] is None

    response = api.post(f"/api/v1/projects/{s.project.id}/electives/decisions", headers=admin,
                          json={"choice_ids": [second], "action": "refuse", "reason": "名额已满"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [(d["choice_id"], d["status"], d["refusal_reason"]) for d in response.get_json()["decided"]] == [
        (second, "refused", "名额已满")]
    assert s.choice_of(s.music).decided_by_id == s_admin.id

    # Already decided, unknown, malformed: the envelope says why, and nothing changes.
    url = f"/api/v1/projects/{s.project.id}/electives/decisions"
    for body, status, code in [
        ({"choice_ids": [first, second], "action": "confirm"}, 409, "decided"),
        ({"choice_ids": [first, 987654], "action": "confirm"}, 400, "choice_ids"),
        ({"choice_ids": [], "action": "confirm"}, 400, "choice_ids"),
        ({"choice_ids": [first], "action": "approve"}, 400, "action"),
        ({"choice_ids": [first], "action": "refuse", "reason": "x" * 201}, 400, "reason"),
        ({"choice_ids": ["1"], "action": "confirm"}, 400, "choice_ids.0"),
    ]:
        answer = api.post(url, headers=admin, json=body)
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code), body
        assert answer.get_json()["error"]["message"]
    assert s.choice_of(s.art).status == "pending" and _decisions() == 1
    assert api.get(f"/api/v1/projects/{s.project.id}/electives?status=maybe", headers=admin).status_code == 400

    mine = s.web.get(f"/api/v1/me/electives?project_id={s.project.id}", headers=s.headers).get_json()
    assert [(e["course_title"], e["status"], e["refusal_reason"]) for e in mine] == [
        ("Art elective", "pending", None), ("Music elective", "refused", "名额已满")]


def _school_admin():
    return db.session.execute(select(User).where(User.username == "school_admin")).scalar_one()
